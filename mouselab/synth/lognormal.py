"""The sigma-lognormal model of rapid movements (Plamondon's kinematic theory), vectorised and pure.

Plamondon's kinematic theory (Plamondon 1995; Plamondon & Djioua 2006) describes the speed of a rapid
movement as the output of a neuromuscular system made of many coupled subsystems; by the central limit
theorem for multiplicative processes its impulse response is a **lognormal**. A movement is a vector sum of
``k`` overlapping lognormal *strokes*. Stroke ``j`` has a start time ``t0`` (ms), a log-time delay ``mu``
(log ms), a log-response time ``sigma`` (dimensionless), an amplitude ``D`` (px, the length of its path) and
a direction that turns at constant rate with the travelled fraction from ``theta_s`` to ``theta_e`` (rad):

* speed ``|v(t)| = D / (sigma·sqrt(2π)·(t − t0)) · exp(−(ln(t − t0) − mu)² / (2 sigma²))`` for ``t > t0``;
* travelled fraction ``Φ((ln(t − t0) − mu) / sigma)`` (standard normal CDF), so the path length is ``D``;
* direction ``φ(t) = theta_s + (theta_e − theta_s)·Φ(…)`` — a circular arc, a straight line when equal.

The speed of one stroke peaks at ``t0 + exp(mu − sigma²)`` (its mode), is skewed to the right (a shorter
acceleration than deceleration phase, as in real pointing movements) and tends to the symmetric bell of
the minimum-jerk profile as ``sigma`` → 0. In closed form the displacement of an arc stroke is
``D/Δθ · (sin φ − sin θs, cos θs − cos φ)`` with ``Δθ = θe − θs`` (``D·Φ·(cos θs, sin θs)`` when straight).

For planning, a stroke is described by when it is *visibly* under way: its window
``[t0 + exp(mu − k·sigma), t0 + exp(mu + k·sigma)]`` (``k`` = :data:`SUPPORT`, 3 by default) covers 99.7 %
of its path; :func:`stroke_timing` converts an onset and a duration into ``t0`` and ``mu``, and
:func:`stroke_between` builds the stroke that joins two points along an arc.

Units: px, ms, rad; screen coordinates (origin top-left, y down). Angles are measured in that frame.

References
----------
Plamondon, R. (1995). A kinematic theory of rapid human movements. Part I. *Biological Cybernetics*, 72,
295–307.
Plamondon, R., & Djioua, M. (2006). A multi-level representation paradigm for handwriting stroke
generation. *Human Movement Science*, 25(4–5), 586–607.
O'Reilly, C., & Plamondon, R. (2009). Development of a sigma-lognormal representation for on-line
signatures. *Pattern Recognition*, 42(12), 3324–3337.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import ndtr

__all__ = [
    "SUPPORT",
    "StrokePlan",
    "lognormal_displacement",
    "lognormal_peak_time",
    "lognormal_speed",
    "peak_fraction",
    "sigma_for_peak_fraction",
    "stroke_between",
    "stroke_timing",
    "superpose_strokes",
]

#: Half-width of a stroke's visible window in units of ``sigma`` (covers Φ(−3) … Φ(3): 99.7 % of the path).
SUPPORT = 3.0


def _z(t, t0, mu, sigma):
    """Standardised log-time ``(ln(t − t0) − mu) / sigma``; −inf for ``t <= t0``."""
    dt = np.asarray(t, dtype=float) - t0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(dt > 0, (np.log(np.where(dt > 0, dt, 1.0)) - mu) / sigma, -np.inf)


def lognormal_speed(t_ms, *, t0_ms, mu, sigma, amplitude_px=1.0) -> np.ndarray:
    """Speed (px/ms) of one lognormal stroke at ``t_ms``; 0 for ``t <= t0``. Arguments broadcast."""
    t = np.asarray(t_ms, dtype=float)
    dt = t - t0_ms
    z = _z(t, t0_ms, mu, sigma)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        v = amplitude_px / (sigma * np.sqrt(2.0 * np.pi) * np.where(dt > 0, dt, 1.0)) * np.exp(-0.5 * z**2)
    return np.where(dt > 0, v, 0.0)


def lognormal_displacement(t_ms, *, t0_ms, mu, sigma, amplitude_px=1.0) -> np.ndarray:
    """Path length travelled by one stroke at ``t_ms`` (px): ``D·Φ((ln(t − t0) − mu)/sigma)``."""
    return amplitude_px * ndtr(_z(t_ms, t0_ms, mu, sigma))


def lognormal_peak_time(t0_ms, mu, sigma) -> np.ndarray:
    """Time of peak speed of a stroke (ms): the lognormal mode ``t0 + exp(mu − sigma²)``."""
    return np.asarray(t0_ms, dtype=float) + np.exp(np.asarray(mu, dtype=float) - np.asarray(sigma, dtype=float) ** 2)


def stroke_timing(onset_ms, duration_ms, sigma, *, support=SUPPORT) -> tuple[np.ndarray, np.ndarray]:
    """``(t0, mu)`` of a stroke whose visible window ``[t0 + e^(mu − kσ), t0 + e^(mu + kσ)]`` is
    ``[onset, onset + duration]`` (``k = support``). Arguments broadcast; ``duration`` > 0, ``sigma`` > 0."""
    duration = np.asarray(duration_ms, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    with np.errstate(divide="ignore"):
        mu = np.log(duration / (2.0 * np.sinh(support * sigma)))
    t0 = np.asarray(onset_ms, dtype=float) - np.exp(mu - support * sigma)
    return t0, mu


def peak_fraction(sigma, *, support=SUPPORT) -> np.ndarray:
    """Where the speed peak lies inside the visible window, as a fraction of its duration.

    ``(e^(−σ²) − e^(−kσ)) / (e^(kσ) − e^(−kσ))``: 0.5 as ``σ`` → 0 (symmetric), smaller for larger ``σ``
    (earlier peak, longer deceleration).
    """
    s = np.asarray(sigma, dtype=float)
    return (np.exp(-(s**2)) - np.exp(-support * s)) / (2.0 * np.sinh(support * s))


def sigma_for_peak_fraction(fraction, *, support=SUPPORT, lo: float = 1e-3, hi: float = 1.5) -> np.ndarray:
    """Inverse of :func:`peak_fraction` (bisection, vectorised; ``support`` broadcasts with ``fraction``);
    fractions are clipped to the attainable range (``peak_fraction(hi)`` … just below 0.5)."""
    f, k = np.broadcast_arrays(np.asarray(fraction, dtype=float), np.asarray(support, dtype=float))
    f = np.clip(f, peak_fraction(hi, support=k) + 1e-9, peak_fraction(lo, support=k) - 1e-9)
    a = np.full(f.shape, lo)
    b = np.full(f.shape, hi)
    for _ in range(60):  # peak_fraction decreases monotonically in sigma on [lo, hi]
        m = 0.5 * (a + b)
        above = peak_fraction(m, support=k) > f
        a = np.where(above, m, a)
        b = np.where(above, b, m)
    return 0.5 * (a + b)


# ----------------------------------------------------------------------------------------- plans
@dataclass(frozen=True)
class StrokePlan:
    """Lognormal strokes of ``n`` movements, ``k`` slots each (unused slots: amplitude 0).

    Attributes
    ----------
    start_px : (n, 2) cursor position before the movement (px).
    t0_ms, mu, sigma : (n, k) lognormal timing of each stroke (ms, log ms, -).
    amplitude_px : (n, k) path length of each stroke (px); 0 for unused slots.
    theta_start, theta_end : (n, k) direction at the start and end of each stroke (rad, screen frame).
    support : half-width of the visible window in units of sigma (see :data:`SUPPORT`); a float or (n, k).
    """

    start_px: np.ndarray
    t0_ms: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    amplitude_px: np.ndarray
    theta_start: np.ndarray
    theta_end: np.ndarray
    support: float | np.ndarray = SUPPORT

    @property
    def n_trials(self) -> int:
        return int(self.t0_ms.shape[0])

    @property
    def used(self) -> np.ndarray:
        return self.amplitude_px > 0

    @property
    def displacement_px(self) -> np.ndarray:
        """(n, k, 2) full displacement (chord) of each stroke."""
        return _arc(self.amplitude_px, self.theta_start, self.theta_end, np.ones_like(self.amplitude_px))

    @property
    def end_px(self) -> np.ndarray:
        """(n, 2) final position: start plus every stroke's chord."""
        return self.start_px + np.where(self.used[..., None], self.displacement_px, 0.0).sum(axis=1)

    @property
    def onset_ms(self) -> np.ndarray:
        """(n, k) start of each stroke's visible window."""
        return self.t0_ms + np.exp(self.mu - self.support * self.sigma)

    @property
    def end_ms(self) -> np.ndarray:
        """(n, k) end of each stroke's visible window."""
        return self.t0_ms + np.exp(self.mu + self.support * self.sigma)

    @property
    def movement_onset_ms(self) -> np.ndarray:
        return np.where(self.used, self.onset_ms, np.inf).min(axis=1)

    @property
    def movement_end_ms(self) -> np.ndarray:
        return np.where(self.used, self.end_ms, -np.inf).max(axis=1)

    def shifted(self, offset_ms) -> "StrokePlan":
        """The same plan with every stroke moved by ``offset_ms`` (scalar or (n,))."""
        offset = np.broadcast_to(np.asarray(offset_ms, dtype=float), (self.n_trials,))
        return replace(self, t0_ms=self.t0_ms + offset[:, None])


def _arc(amplitude, theta_s, theta_e, frac):
    """Displacement (…, 2) after travelling fraction ``frac`` of an arc stroke."""
    dtheta = theta_e - theta_s
    phi = theta_s + dtheta * frac
    small = np.abs(dtheta) < 1e-9
    safe = np.where(small, 1.0, dtheta)
    dx = np.where(small, amplitude * frac * np.cos(theta_s), amplitude / safe * (np.sin(phi) - np.sin(theta_s)))
    dy = np.where(small, amplitude * frac * np.sin(theta_s), amplitude / safe * (np.cos(theta_s) - np.cos(phi)))
    return np.stack([dx, dy], axis=-1)


def stroke_between(p_from, p_to, *, onset_ms, duration_ms, sigma, curvature_rad=0.0, support=SUPPORT):
    """Parameters of the arc stroke joining ``p_from`` to ``p_to`` (arrays (n, 2)) within the given window.

    ``curvature_rad`` is the total turn ``θe − θs`` of the direction along the stroke (0: straight; positive
    turns clockwise on screen, i.e. towards +angle in the y-down frame). Returns a dict with ``t0_ms, mu,
    sigma, amplitude_px, theta_start, theta_end`` (each (n,)).
    """
    p_from = np.asarray(p_from, dtype=float)
    p_to = np.asarray(p_to, dtype=float)
    chord = p_to - p_from
    length = np.hypot(chord[..., 0], chord[..., 1])
    dtheta = np.broadcast_to(np.asarray(curvature_rad, dtype=float), length.shape)
    half = 0.5 * dtheta
    ratio = np.where(np.abs(half) < 1e-9, 1.0, half / np.where(np.abs(half) < 1e-9, 1.0, np.sin(half)))
    theta_s = np.arctan2(chord[..., 1], chord[..., 0]) - half
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), length.shape)
    t0, mu = stroke_timing(onset_ms, np.maximum(duration_ms, 1e-6), sigma, support=support)
    return {
        "t0_ms": t0, "mu": mu, "sigma": np.array(sigma), "amplitude_px": length * ratio,
        "theta_start": theta_s, "theta_end": theta_s + dtheta,
    }


def superpose_strokes(plan: StrokePlan, t_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position (px) and velocity (px/ms) of the summed strokes at times ``t_ms`` (n, L): arrays (n, L, 2)."""
    t = np.asarray(t_ms, dtype=float)
    if t.ndim != 2 or t.shape[0] != plan.n_trials:
        raise ValueError(f"t_ms must have shape ({plan.n_trials}, L), got {t.shape}")
    t0, mu, sigma = (a[:, None, :] for a in (plan.t0_ms, plan.mu, plan.sigma))
    amp = np.where(plan.used, plan.amplitude_px, 0.0)[:, None, :]
    ths, the = plan.theta_start[:, None, :], plan.theta_end[:, None, :]
    tt = t[:, :, None]
    z = _z(tt, t0, mu, sigma)
    frac = ndtr(z)
    disp = _arc(amp, ths, the, frac)  # (n, L, k, 2)
    speed = lognormal_speed(tt, t0_ms=t0, mu=mu, sigma=sigma, amplitude_px=amp)
    phi = ths + (the - ths) * frac
    vel = np.stack([speed * np.cos(phi), speed * np.sin(phi)], axis=-1)
    pos = plan.start_px[:, None, :] + disp.sum(axis=2)
    return pos, vel.sum(axis=2)
