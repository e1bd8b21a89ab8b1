"""A kinematic model of pointing movements, vectorised across trials (NumPy, seeded, pure).

The model composes five well-known ingredients:

1. **Minimum-jerk submovements** (Flash & Hogan 1985). A point-to-point submovement of amplitude ``D`` (px)
   and duration ``T`` (ms) follows ``x(t) = x0 + D * s(t/T)`` with ``s(τ) = 10τ³ − 15τ⁴ + 6τ⁵``; its speed
   profile ``D/T * 30τ²(1−τ)²`` is bell shaped and peaks at ``τ = 0.5`` with ``1.875 D/T``.
2. **Superposition of submovements** (Meyer, Abrams, Kornblum, Wright & Smith 1988, optimized-submovement
   model; superposition as in Flash & Henis 1991). A primary submovement aims at the target with a gain
   slightly below 1 (undershoot) and endpoint noise whose SD is proportional to its amplitude; if it ends
   outside the target, corrective submovements follow (each again with amplitude-proportional noise), the
   last one landing inside the target. Later submovements start before earlier ones end and their
   displacements add, so the path stays smooth.
3. **Signal-dependent noise** (Harris & Wolpert 1998): a smooth perturbation whose velocity SD is
   proportional to the current planned speed (plus a small constant floor while a submovement is under
   way, van Beers et al. 2004), so the path wobbles while moving and not at all while still. The perturbation is tied down at the end of the movement (a Brownian-bridge correction weighted by
   path progress), so endpoints are those of the submovement plan; endpoint scatter comes from step 2.
4. **Decision dynamics for choice tasks** (mouse-tracking: Spivey, Grosjean & Knoblich 2005; Freeman &
   Ambady 2010): the first submovements aim at *via points* between the chosen and the competing option
   (:func:`attraction_via`), which bends the path towards the non-chosen response; a via point beyond the
   midline is a change of mind (an x-flip). The cursor may stop at a via point for ``pause_ms``
   (a hesitation: exactly still, since all submovements have ended).
5. **Sampling** like a polling recorder (:func:`sample_times`): a nominal rate (default 60 Hz) with small
   Gaussian timing jitter and rare dropped frames, timestamps on a 1 ms grid and strictly increasing;
   coordinates rounded to integer pixels (:func:`render`).

Units: positions in px (screen coordinates, origin top-left, y down), times in ms, velocities in px/ms.
Every stochastic function takes ``seed`` (an ``int`` or a :class:`numpy.random.Generator`) and never touches
global random state. Arrays are ``(n_trials, …)``; planning uses a fixed number of submovement slots per
trial, unused slots have zero displacement and zero duration.

References
----------
Flash, T., & Hogan, N. (1985). The coordination of arm movements. *J. Neuroscience*, 5(7), 1688–1703.
Flash, T., & Henis, E. (1991). Arm trajectory modifications during reaching towards visual targets.
*J. Cognitive Neuroscience*, 3(3), 220–230.
Meyer, D. E., Abrams, R. A., Kornblum, S., Wright, C. E., & Smith, J. E. K. (1988). Optimality in human
motor performance: ideal control of rapid aimed movements. *Psychological Review*, 95(3), 340–370.
Harris, C. M., & Wolpert, D. M. (1998). Signal-dependent noise determines motor planning. *Nature*, 394,
780–784.
van Beers, R. J., Haggard, P., & Wolpert, D. M. (2004). The role of execution noise in movement
variability. *J. Neurophysiology*, 91(2), 1050–1063.
MacKenzie, I. S. (1992). Fitts' law as a research and design tool in human-computer interaction.
*Human–Computer Interaction*, 7, 91–139.
Spivey, M. J., Grosjean, M., & Knoblich, G. (2005). Continuous attraction toward phonological competitors.
*PNAS*, 102(29), 10393–10398.
Freeman, J. B., & Ambady, N. (2010). MouseTracker. *Behavior Research Methods*, 42(1), 226–241.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = [
    "SubmovementPlan",
    "Trajectories",
    "attraction_via",
    "fitts_duration_ms",
    "minimum_jerk",
    "minimum_jerk_velocity",
    "perturb",
    "plan_submovements",
    "render",
    "rng_from",
    "sample_times",
    "simulate_pointing",
    "superpose",
]

#: Labels of the submovement slots produced by :func:`plan_submovements`.
VIA, PRIMARY, CORRECTION = "via", "primary", "correction"


def rng_from(seed: int | np.random.Generator) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from an ``int`` seed, or ``seed`` itself when it already is one.

    ``None`` is refused: randomness in mouselab is always explicit (pass ``np.random.default_rng()`` for
    fresh entropy).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or a numpy.random.Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


# ----------------------------------------------------------------------------------------- minimum jerk
def minimum_jerk(tau: np.ndarray | float) -> np.ndarray:
    """Normalised minimum-jerk position ``s(τ) = 10τ³ − 15τ⁴ + 6τ⁵`` (Flash & Hogan 1985).

    ``tau`` is time divided by the submovement duration (dimensionless); values outside ``[0, 1]`` are
    clipped, so ``s`` is 0 before the onset and 1 after the end.
    """
    tau = np.clip(np.asarray(tau, dtype=float), 0.0, 1.0)
    return tau**3 * (10.0 + tau * (-15.0 + 6.0 * tau))


def minimum_jerk_velocity(tau: np.ndarray | float) -> np.ndarray:
    """Derivative ``ds/dτ = 30τ²(1−τ)²`` of :func:`minimum_jerk`; 0 outside ``(0, 1)``.

    Multiply by ``amplitude / duration`` for a velocity in px/ms. Peak ``1.875`` at ``τ = 0.5``.
    """
    tau = np.clip(np.asarray(tau, dtype=float), 0.0, 1.0)
    return 30.0 * tau**2 * (1.0 - tau) ** 2


def fitts_duration_ms(amplitude_px, width_px, *, a_ms: float = 200.0, b_ms: float = 130.0) -> np.ndarray:
    """Movement duration from Fitts' law, Shannon formulation: ``a + b·log2(1 + A/W)`` (ms).

    MacKenzie (1992). ``amplitude_px`` and ``width_px`` broadcast; the defaults give ~620 ms for an 850 px
    movement to a 100 px target, typical of mouse pointing.
    """
    amplitude = np.abs(np.asarray(amplitude_px, dtype=float))
    width = np.asarray(width_px, dtype=float)
    return a_ms + b_ms * np.log2(1.0 + amplitude / width)


# ----------------------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class SubmovementPlan:
    """Submovements of ``n`` trials, ``k`` slots each (unused slots: zero displacement and duration).

    Attributes
    ----------
    start_px : (n, 2) cursor position before the movement (px).
    onset_ms : (n, k) onset of each submovement (ms, on the trial clock).
    duration_ms : (n, k) duration of each submovement (ms); 0 for unused slots.
    displacement_px : (n, k, 2) displacement of each submovement (px).
    kinds : (k,) slot labels: ``"via"``, ``"primary"`` or ``"correction"``.
    """

    start_px: np.ndarray
    onset_ms: np.ndarray
    duration_ms: np.ndarray
    displacement_px: np.ndarray
    kinds: tuple[str, ...]

    @property
    def n_trials(self) -> int:
        return int(self.onset_ms.shape[0])

    @property
    def used(self) -> np.ndarray:
        """(n, k) boolean: slots that hold a submovement."""
        return self.duration_ms > 0

    @property
    def end_px(self) -> np.ndarray:
        """(n, 2) final cursor position (px): start plus the sum of displacements."""
        return self.start_px + self.displacement_px.sum(axis=1)

    @property
    def movement_onset_ms(self) -> np.ndarray:
        """(n,) onset of the first submovement (ms); ``inf`` for trials without movement."""
        return np.where(self.used, self.onset_ms, np.inf).min(axis=1)

    @property
    def movement_end_ms(self) -> np.ndarray:
        """(n,) time at which the last submovement ends (ms); ``-inf`` for trials without movement."""
        return np.where(self.used, self.onset_ms + self.duration_ms, -np.inf).max(axis=1)

    @property
    def n_corrections(self) -> np.ndarray:
        """(n,) number of corrective submovements used."""
        cols = [i for i, kind in enumerate(self.kinds) if kind == CORRECTION]
        return self.used[:, cols].sum(axis=1) if cols else np.zeros(self.n_trials, dtype=int)

    def shifted(self, offset_ms) -> "SubmovementPlan":
        """The same plan with every onset moved by ``offset_ms`` (scalar or (n,))."""
        offset = np.broadcast_to(np.asarray(offset_ms, dtype=float), (self.n_trials,))
        return replace(self, onset_ms=self.onset_ms + offset[:, None])

    @staticmethod
    def concat(plans: list["SubmovementPlan"]) -> "SubmovementPlan":
        """Stack plans with identical slot layouts along the trial axis."""
        kinds = plans[0].kinds
        if any(p.kinds != kinds for p in plans):
            raise ValueError("plans to concatenate must have the same submovement slots")
        return SubmovementPlan(
            start_px=np.concatenate([p.start_px for p in plans]),
            onset_ms=np.concatenate([p.onset_ms for p in plans]),
            duration_ms=np.concatenate([p.duration_ms for p in plans]),
            displacement_px=np.concatenate([p.displacement_px for p in plans]),
            kinds=kinds,
        )


def attraction_via(start_px, target_px, competitor_px, *, attraction, progress) -> np.ndarray:
    """Via point of a choice movement attracted towards a competing option (px, shape (n, 2)).

    The initial heading aims at ``target + attraction·(competitor − target)`` and the via point lies a
    fraction ``progress`` of the way there from ``start``. ``attraction`` 0 aims straight at the chosen
    target, 0.5 at the midpoint between both options (straight up in the usual symmetric layout) and values
    above 0.5 towards the competitor, which makes the path reverse its x direction: a change of mind.
    """
    start = np.asarray(start_px, dtype=float)
    target = np.asarray(target_px, dtype=float)
    competitor = np.asarray(competitor_px, dtype=float)
    a = np.asarray(attraction, dtype=float)[..., None]
    p = np.asarray(progress, dtype=float)[..., None]
    aim = target + a * (competitor - target)
    return start + p * (aim - start)


def _as_n2(value, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 1:
        arr = np.broadcast_to(arr, (n, 2))
    if arr.shape != (n, 2):
        raise ValueError(f"{name} must have shape (2,) or ({n}, 2), got {arr.shape}")
    return np.array(arr)


def _as_n(value, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    try:
        return np.array(np.broadcast_to(arr, (n,)))
    except ValueError:
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got {arr.shape}") from None


def plan_submovements(
    start_px,
    target_px,
    *,
    seed: int | np.random.Generator,
    target_size_px=(40.0, 40.0),
    onset_ms=0.0,
    via_px=None,
    pause_ms=None,
    blend=0.6,
    speed=1.0,
    fitts_a_ms: float = 200.0,
    fitts_b_ms: float = 130.0,
    via_width_px: float = 100.0,
    primary_gain: float = 0.96,
    endpoint_sd_along: float = 0.05,
    endpoint_sd_across: float = 0.025,
    max_corrections: int = 2,
    correction_overlap: tuple[float, float] = (0.0, 0.25),
    target_margin: float = 0.1,
) -> SubmovementPlan:
    """Plan the submovements of ``n`` pointing movements (Meyer et al. 1988), vectorised.

    Parameters
    ----------
    start_px, target_px : (n, 2) or (2,)
        Cursor start and target centre (px).
    seed : int or numpy.random.Generator
        Source of randomness (endpoint noise and correction timing).
    target_size_px : (n, 2) or (2,)
        Target width and height (px). A submovement "hits" when it ends within the target shrunk by
        ``target_margin`` (fraction of each half-size); the Fitts width is ``min(width, height)``.
    onset_ms : scalar or (n,)
        Onset of the first submovement (ms): the initiation latency on the trial clock.
    via_px : (n, m, 2), optional
        Via points reached before the primary submovement (e.g. from :func:`attraction_via`); rows with NaN
        are skipped (no submovement, no time). Via legs carry no endpoint noise (the via point *is* noisy).
    pause_ms : (n, m), optional
        Hesitation at each via point (ms). With a pause > 0 the next submovement starts ``pause_ms`` after the
        via leg ends, so the cursor is exactly still; otherwise it starts after ``blend`` × the via leg's
        duration (overlapping, smooth).
    blend : scalar, (n,) or (n, m)
        Fraction of a via leg's duration after which the next submovement starts when there is no pause.
    speed : scalar or (n,)
        Duration multiplier (> 1 is slower) applied to every Fitts duration.
    fitts_a_ms, fitts_b_ms : float
        Fitts' law intercept and slope (ms, ms/bit) of :func:`fitts_duration_ms`.
    via_width_px : float
        Fitts width used for via legs (px).
    primary_gain : float
        Mean fraction of the distance covered by the primary submovement (< 1: undershoot).
    endpoint_sd_along, endpoint_sd_across : float
        Endpoint noise SD along / across the movement direction as a fraction of the submovement amplitude
        (Meyer et al. 1988: noise proportional to amplitude, i.e. to mean velocity at a given duration).
    max_corrections : int
        Number of corrective-submovement slots. The last one is clipped into the target, so every
        movement ends inside it.
    correction_overlap : (low, high)
        A correction starts ``U(low, high)`` × the previous duration before the previous submovement ends.
    target_margin : float
        Fraction of the target half-size treated as outside when checking a hit.

    Returns
    -------
    SubmovementPlan
        Slots: ``m`` via legs, one primary, ``max_corrections`` corrections.

    Notes
    -----
    With ``endpoint_sd_along = endpoint_sd_across = 0`` and ``primary_gain = 1`` a movement is a single
    minimum-jerk submovement ending exactly on the target centre.
    """
    rng = rng_from(seed)
    start = np.atleast_2d(np.asarray(start_px, dtype=float))
    n = start.shape[0]
    start = _as_n2(start, n, "start_px")
    target = _as_n2(target_px, n, "target_px")
    size = _as_n2(target_size_px, n, "target_size_px")
    onset0 = _as_n(onset_ms, n, "onset_ms")
    speed = _as_n(speed, n, "speed")
    if via_px is None:
        via = np.zeros((n, 0, 2))
    else:
        via = np.asarray(via_px, dtype=float)
        if via.ndim == 2:
            via = via[:, None, :]
        if via.shape[0] != n or via.shape[2] != 2:
            raise ValueError(f"via_px must have shape ({n}, m, 2), got {via.shape}")
    m = via.shape[1]
    pauses = np.zeros((n, m)) if pause_ms is None else np.array(np.broadcast_to(np.asarray(pause_ms, float), (n, m)))
    blends = np.asarray(blend, dtype=float)
    blends = np.array(np.broadcast_to(blends[:, None] if blends.ndim == 1 else blends, (n, m)))
    if np.any(pauses < 0):
        raise ValueError("pause_ms must be >= 0")
    k = m + 1 + max_corrections
    onset = np.zeros((n, k))
    duration = np.zeros((n, k))
    disp = np.zeros((n, k, 2))

    # Draw all random numbers up front, in a fixed shape: the plan is reproducible whatever the branches.
    z_primary = rng.standard_normal((n, 2))
    z_corr = rng.standard_normal((n, max_corrections, 2))
    u_overlap = rng.uniform(*correction_overlap, size=(n, max_corrections))

    pos = start.copy()
    t_next = onset0.copy()
    for j in range(m):
        ok = np.all(np.isfinite(via[:, j]), axis=1)
        d = np.where(ok[:, None], via[:, j] - pos, 0.0)
        dur = np.where(ok, fitts_duration_ms(np.hypot(*d.T), via_width_px, a_ms=fitts_a_ms, b_ms=fitts_b_ms) * speed, 0.0)
        onset[:, j], duration[:, j], disp[:, j] = t_next, dur, d
        pause = np.where(ok, pauses[:, j], 0.0)
        t_next = np.where(pause > 0, t_next + dur + pause, t_next + blends[:, j] * dur)
        pos = pos + d

    width = size.min(axis=1)
    vec = target - pos
    amp = np.hypot(*vec.T)
    unit = np.divide(vec, amp[:, None], out=np.zeros_like(vec), where=amp[:, None] > 0)
    normal = np.stack([-unit[:, 1], unit[:, 0]], axis=1)
    aim = (
        pos
        + primary_gain * vec
        + (endpoint_sd_along * amp * z_primary[:, 0])[:, None] * unit
        + (endpoint_sd_across * amp * z_primary[:, 1])[:, None] * normal
    )
    d = aim - pos
    dur = np.where(amp > 0, fitts_duration_ms(np.hypot(*d.T), width, a_ms=fitts_a_ms, b_ms=fitts_b_ms) * speed, 0.0)
    onset[:, m], duration[:, m], disp[:, m] = t_next, dur, d
    pos = pos + d
    prev_onset, prev_dur = t_next, dur

    half = size / 2.0 * (1.0 - target_margin)
    for c in range(max_corrections):
        slot = m + 1 + c
        err = target - pos
        outside = np.any(np.abs(err) > half, axis=1)
        c_amp = np.hypot(*err.T)
        c_unit = np.divide(err, c_amp[:, None], out=np.zeros_like(err), where=c_amp[:, None] > 0)
        c_normal = np.stack([-c_unit[:, 1], c_unit[:, 0]], axis=1)
        c_aim = (
            target
            + (endpoint_sd_along * c_amp * z_corr[:, c, 0])[:, None] * c_unit
            + (endpoint_sd_across * c_amp * z_corr[:, c, 1])[:, None] * c_normal
        )
        if c == max_corrections - 1:  # the last correction lands inside the target
            c_aim = np.clip(c_aim, target - half, target + half)
        d = np.where(outside[:, None], c_aim - pos, 0.0)
        dur = np.where(outside, fitts_duration_ms(np.hypot(*d.T), width, a_ms=fitts_a_ms, b_ms=fitts_b_ms) * speed, 0.0)
        start_c = prev_onset + prev_dur * (1.0 - u_overlap[:, c])
        onset[:, slot] = np.where(outside, start_c, prev_onset + prev_dur)
        duration[:, slot], disp[:, slot] = dur, d
        pos = pos + d
        prev_onset = np.where(outside, start_c, prev_onset)
        prev_dur = np.where(outside, dur, prev_dur)

    kinds = (VIA,) * m + (PRIMARY,) + (CORRECTION,) * max_corrections
    return SubmovementPlan(start, onset, duration, disp, kinds)


def superpose(plan: SubmovementPlan, t_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position (px) and velocity (px/ms) of the superposed submovements at times ``t_ms`` (n, L).

    Returns arrays of shape (n, L, 2).
    """
    t = np.asarray(t_ms, dtype=float)
    if t.ndim != 2 or t.shape[0] != plan.n_trials:
        raise ValueError(f"t_ms must have shape ({plan.n_trials}, L), got {t.shape}")
    dur = np.where(plan.used, plan.duration_ms, 1.0)
    tau = (t[:, :, None] - plan.onset_ms[:, None, :]) / dur[:, None, :]
    s = minimum_jerk(tau)
    v = minimum_jerk_velocity(tau) / dur[:, None, :]
    disp = np.where(plan.used[:, :, None], plan.displacement_px, 0.0)
    pos = plan.start_px[:, None, :] + np.einsum("nlk,nkd->nld", s, disp)
    vel = np.einsum("nlk,nkd->nld", v, disp)
    return pos, vel


# ----------------------------------------------------------------------------------------- sampling
def sample_times(
    duration_ms,
    *,
    seed: int | np.random.Generator,
    rate_hz: float = 60.0,
    jitter_sd_ms: float = 1.0,
    drop_prob: float = 0.005,
    resolution_ms: float | None = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample timestamps of a polling recorder for ``n`` recordings lasting ``duration_ms`` (ms).

    Intervals are ``1000/rate_hz`` ms plus Gaussian jitter (SD ``jitter_sd_ms``, clipped to ±25 % of the
    period); with probability ``drop_prob`` a frame is missed (one extra period). Timestamps start at 0,
    are rounded to ``resolution_ms`` (``None``: no rounding) and strictly increase.

    Returns
    -------
    t_ms : (n, L) float array; rows continue beyond their duration (padding that keeps sampling).
    n_samples : (n,) int, the number of samples with ``t_ms <= duration_ms``.
    """
    rng = rng_from(seed)
    duration = np.atleast_1d(np.asarray(duration_ms, dtype=float))
    if rate_hz <= 0:
        raise ValueError("rate_hz must be > 0")
    period = 1000.0 / rate_hz
    if resolution_ms is not None and resolution_ms >= 0.5 * period:
        raise ValueError(f"resolution_ms={resolution_ms} is too coarse for rate_hz={rate_hz}")
    n = duration.shape[0]
    length = int(np.ceil(max(duration.max(initial=0.0), 0.0) / period)) + 4
    chunks = []
    covered = np.zeros(n)
    while True:  # draw until every row reaches its duration (jitter may leave a row a little short)
        jitter = np.clip(rng.standard_normal((n, length)) * jitter_sd_ms, -0.25 * period, 0.25 * period)
        dropped = rng.random((n, length)) < drop_prob
        steps = period + jitter + dropped * period
        if not chunks:
            steps[:, 0] = 0.0
        chunks.append(steps)
        covered = covered + steps.sum(axis=1)
        if np.all(covered > duration + period):
            break
        length = max(8, length // 4)
    t = np.cumsum(np.concatenate(chunks, axis=1), axis=1)
    if resolution_ms is not None:
        t = np.round(t / resolution_ms) * resolution_ms
    n_samples = (t <= duration[:, None]).sum(axis=1)
    return t, n_samples


def render(
    plan: SubmovementPlan,
    t_ms: np.ndarray,
    *,
    seed: int | np.random.Generator,
    sdn_coef: float = 0.03,
    const_noise_px_per_ms: float = 0.03,
    noise_smoothing_ms: float = 30.0,
    pixels: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Cursor positions (px) of a plan at times ``t_ms`` (n, L), with signal-dependent noise.

    The perturbation velocity (px/ms) per axis is ``(sdn_coef × planned speed + const_noise_px_per_ms) × ξ(t)``:
    signal-dependent noise (Harris & Wolpert 1998) plus a constant execution-noise floor while a submovement
    is under way (van Beers, Haggard & Wolpert 2004; it gives the ±1 px wiggles of slow homing phases).
    ``ξ`` is unit-variance white noise smoothed by a Gaussian kernel of SD ``noise_smoothing_ms``. The
    perturbation is integrated and tied down with a bridge weighted by path progress, so it vanishes at the
    movement end and is constant while no submovement is under way (latency, hesitations: the cursor is
    exactly still). ``pixels`` rounds to integer px.

    van Beers, R. J., Haggard, P., & Wolpert, D. M. (2004). The role of execution noise in movement
    variability. *J. Neurophysiology*, 91(2), 1050–1063.

    Returns ``x, y`` of shape (n, L).
    """
    t = np.asarray(t_ms, dtype=float)
    pos, vel = superpose(plan, t)
    pos = perturb(pos, vel, t, seed=seed, sdn_coef=sdn_coef, const_noise_px_per_ms=const_noise_px_per_ms,
                  noise_smoothing_ms=noise_smoothing_ms, pixels=pixels)
    return pos[..., 0], pos[..., 1]


def perturb(
    pos: np.ndarray,
    vel: np.ndarray,
    t_ms: np.ndarray,
    *,
    seed: int | np.random.Generator,
    sdn_coef: float = 0.03,
    const_noise_px_per_ms: float = 0.03,
    noise_smoothing_ms: float = 30.0,
    moving_speed_px_per_ms: float = 0.0,
    pixels: bool = True,
) -> np.ndarray:
    """Planned positions ``pos`` (n, L, 2) with velocity ``vel`` (px/ms) plus execution noise (see :func:`render`).

    Works for any kinematic model that gives planned position and velocity on the time grid ``t_ms`` (n, L):
    minimum-jerk submovements (:func:`superpose`) or lognormal strokes
    (:func:`mouselab.synth.lognormal.superpose_strokes`). The constant noise floor applies where the planned
    speed exceeds ``moving_speed_px_per_ms`` (0 for minimum-jerk plans, whose speed is exactly 0 at rest; a
    small positive value for lognormal strokes, whose tails never quite vanish). Returns the perturbed
    positions (n, L, 2).
    """
    rng = rng_from(seed)
    t = np.asarray(t_ms, dtype=float)
    pos = np.array(pos, dtype=float)
    xi = rng.standard_normal(pos.shape)
    if (sdn_coef > 0 or const_noise_px_per_ms > 0) and t.shape[1] > 1:
        dt = np.diff(t, axis=1, prepend=t[:, :1])
        steps = np.diff(t, axis=1)
        period = float(np.median(steps[steps > 0])) if np.any(steps > 0) else 1.0
        sigma = noise_smoothing_ms / period
        if sigma > 0:
            from scipy.ndimage import gaussian_filter1d

            radius = int(4.0 * sigma + 0.5)
            kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
            kernel /= kernel.sum()
            xi = gaussian_filter1d(xi, sigma, axis=1, mode="nearest") / np.sqrt(np.sum(kernel**2))
        speed = np.hypot(vel[..., 0], vel[..., 1])
        sd = sdn_coef * speed + const_noise_px_per_ms * (speed > moving_speed_px_per_ms)
        drift = np.cumsum(sd[..., None] * xi * dt[..., None], axis=1)
        path = np.cumsum(speed * dt, axis=1)
        total = path[:, -1:]
        progress = np.divide(path, total, out=np.zeros_like(path), where=total > 0)
        pos = pos + drift - progress[..., None] * drift[:, -1:, :]
    if pixels:
        pos = np.rint(pos)
    return pos


# ----------------------------------------------------------------------------------------- convenience
@dataclass(frozen=True)
class Trajectories:
    """Padded simulated trajectories: ``t_ms``, ``x``, ``y`` of shape (n, L); row ``i`` is valid up to
    ``n_samples[i]``. ``plan`` is the submovement plan that produced them."""

    t_ms: np.ndarray
    x: np.ndarray
    y: np.ndarray
    n_samples: np.ndarray
    plan: SubmovementPlan

    def valid(self) -> np.ndarray:
        """(n, L) boolean mask of real (non-padding) samples."""
        return np.arange(self.t_ms.shape[1])[None, :] < self.n_samples[:, None]


def simulate_pointing(
    start_px,
    target_px,
    *,
    seed: int | np.random.Generator,
    target_size_px=(40.0, 40.0),
    onset_ms=0.0,
    hold_ms=100.0,
    competitor_px=None,
    attraction=0.0,
    via_progress=0.5,
    pause_ms=0.0,
    blend=0.6,
    speed=1.0,
    rate_hz: float = 60.0,
    jitter_sd_ms: float = 1.0,
    drop_prob: float = 0.005,
    sdn_coef: float = 0.03,
    const_noise_px_per_ms: float = 0.03,
    endpoint_sd_along: float = 0.05,
    endpoint_sd_across: float = 0.025,
    primary_gain: float = 0.96,
    max_corrections: int = 2,
    pixels: bool = True,
) -> Trajectories:
    """Simulate ``n`` sampled pointing movements in one call (plan → sample times → render).

    The cursor rests at ``start_px`` until ``onset_ms`` (initiation latency), moves along superposed
    minimum-jerk submovements to the target and is sampled until ``hold_ms`` after the movement ends.
    With ``competitor_px`` the movement first heads for an :func:`attraction_via` point (``attraction``,
    ``via_progress``) and may hesitate there for ``pause_ms``. See :func:`plan_submovements`,
    :func:`sample_times` and :func:`render` for the parameters.
    """
    rng = rng_from(seed)
    start = np.atleast_2d(np.asarray(start_px, dtype=float))
    n = start.shape[0]
    start = _as_n2(start, n, "start_px")
    via = pauses = None
    if competitor_px is not None:
        target = _as_n2(target_px, n, "target_px")
        via = attraction_via(
            start, target, _as_n2(competitor_px, n, "competitor_px"),
            attraction=_as_n(attraction, n, "attraction"), progress=_as_n(via_progress, n, "via_progress"),
        )[:, None, :]
        pauses = _as_n(pause_ms, n, "pause_ms")[:, None]
    plan = plan_submovements(
        start, target_px, seed=rng, target_size_px=target_size_px, onset_ms=onset_ms, via_px=via,
        pause_ms=pauses, blend=blend, speed=speed, primary_gain=primary_gain, endpoint_sd_along=endpoint_sd_along,
        endpoint_sd_across=endpoint_sd_across, max_corrections=max_corrections,
    )
    end = np.maximum(plan.movement_end_ms, _as_n(onset_ms, n, "onset_ms")) + hold_ms
    t, n_samples = sample_times(end, seed=rng, rate_hz=rate_hz, jitter_sd_ms=jitter_sd_ms, drop_prob=drop_prob)
    x, y = render(plan, t, seed=rng, sdn_coef=sdn_coef, const_noise_px_per_ms=const_noise_px_per_ms, pixels=pixels)
    return Trajectories(t, x, y, n_samples, plan)
