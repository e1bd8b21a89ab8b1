"""The synthetic sample study ``cogload``: a mouse-tracking choice task under low / high cognitive load.

Nobody took part in this study: every number comes from :mod:`mouselab.synth.kinematics` and a seed.

Task and layout (MouseTracker / mousetrap style) on a 1280 × 800 px screen
-------------------------------------------------------------------------
* A start button (120 × 50 px) at the bottom centre, centre (640, 740). The participant clicks it; the
  press is ``t_ms = 0`` of the trial, the stimulus (a digit 1–9 without 5) appears at the release.
* Two response boxes (240 × 100 px) in the top corners, centres (140, 70) "left" and (1140, 70) "right".
  Task: digit smaller than 5 → left, larger than 5 → right. The trial ends with the release of the click
  on the chosen box.
* Positions are polled at 60 Hz (with jitter) from the start press to the response release, including
  stationary samples, as mousetrap/OpenSesame do; ``event`` is ``down``/``up`` at the two clicks and
  ``move`` otherwise, ``buttons`` is 1 while the button is held.
* Two load conditions, ``low`` and ``high`` (e.g. holding 1 vs 6 digits in memory), within participants,
  ``trials_per_condition`` each, randomly interleaved; digits balanced within condition.

Planted effects (high minus low; defaults of :class:`CogloadDesign`)
--------------------------------------------------------------------
* initiation latency after stimulus onset: 330 → 450 ms (+120 ms);
* attraction towards the competing box (see :func:`~mouselab.synth.kinematics.attraction_via`):
  0.22 → 0.32, i.e. larger MAD; changes of mind (paths heading for the competitor first, x-flips):
  4 % → 12 % of trials;
* micro-hesitations (cursor still ≥ 120 ms mid-movement): 0.15 → 0.60 expected per trial (Poisson, at
  most 2);
* errors: 3 % → 7 %.

Movement speed, clicks and dwell times do not depend on the condition. Measured effects in the default
data are listed in ``data/sample/README.md``.

Random effects: per participant a latency intercept (SD 60 ms) and slope (SD 25 ms), a baseline
attraction (SD 0.07) and slope (SD 0.03), a speed factor (log SD 0.15), a hesitation propensity (log SD 0.3)
and an error propensity (logit SD 0.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from mouselab.schema import conform
from mouselab.synth.free_use import simulate_free_use
from mouselab.synth.kinematics import attraction_via, plan_submovements, render, rng_from, sample_times

__all__ = ["CogloadDesign", "DEFAULT_SEED", "LAYOUT", "build_sample_study"]

DEFAULT_SEED = 20261126
CONDITIONS = ("low", "high")
DIGITS = (1, 2, 3, 4, 6, 7, 8, 9)


@dataclass(frozen=True)
class Box:
    """A screen rectangle by centre and size (px)."""

    x: float
    y: float
    w: float
    h: float


#: Screen and layout of the sample study (px, origin top-left, y down).
LAYOUT = {
    "screen": (1280, 800),
    "start": Box(640.0, 740.0, 120.0, 50.0),
    "left": Box(140.0, 70.0, 240.0, 100.0),
    "right": Box(1140.0, 70.0, 240.0, 100.0),
}


@dataclass(frozen=True)
class CogloadDesign:
    """Generative parameters of the sample study; pairs are (low load, high load).

    Planted effects are the differences between the pairs. Times in ms, attraction as defined by
    :func:`mouselab.synth.kinematics.attraction_via` (0 = straight to the chosen box, 0.5 = straight up).
    """

    latency_ms: tuple[float, float] = (330.0, 450.0)  # mean initiation latency after stimulus onset
    attraction: tuple[float, float] = (0.22, 0.32)  # mean attraction towards the competing box
    change_of_mind_prob: tuple[float, float] = (0.04, 0.12)  # heads for the competitor first
    hesitation_rate: tuple[float, float] = (0.15, 0.60)  # expected mid-movement pauses per trial (max 2)
    error_prob: tuple[float, float] = (0.03, 0.07)
    # participant random effects
    latency_sd_ms: float = 60.0
    latency_slope_sd_ms: float = 25.0
    attraction_sd: float = 0.07
    attraction_slope_sd: float = 0.03
    speed_sd_log: float = 0.15
    hesitation_sd_log: float = 0.3
    error_sd_logit: float = 0.3
    # trial-level variability
    latency_floor_ms: float = 120.0  # shifted log-normal: floor + log-normal
    latency_sd_log: float = 0.35
    attraction_trial_sd: float = 0.12
    speed_trial_sd_log: float = 0.08
    pause_min_ms: float = 120.0
    pause_median_extra_ms: float = 110.0
    pause_sd_log: float = 0.5
    via_progress: tuple[float, float] = (0.35, 0.65)  # how far along the initial heading the via point lies
    blend: tuple[float, float] = (0.45, 0.8)  # overlap of via leg and primary when not pausing
    click_ms: tuple[float, float] = (100.0, 20.0)  # press duration mean, SD
    dwell_ms: tuple[float, float] = (30.0, 200.0)  # rest on the box before the response press
    sdn_coef: float = 0.03  # signal-dependent noise (velocity SD per unit speed)
    const_noise_px_per_ms: float = 0.03  # execution-noise floor while moving


def build_sample_study(
    *,
    seed: int = DEFAULT_SEED,
    n_participants: int = 30,
    trials_per_condition: int = 20,
    free_participants: int = 3,
    rate_hz: float = 60.0,
    study: str = "cogload",
    design: CogloadDesign = CogloadDesign(),
) -> dict[str, pl.DataFrame]:
    """Build the synthetic ``cogload`` study; returns frames for ``samples``, ``events``, ``trials``,
    ``participants`` conforming to :mod:`mouselab.schema`.

    Parameters
    ----------
    seed : master seed; the same seed always gives identical frames.
    n_participants : participants ``P01`` … (all in session ``s1``).
    trials_per_condition : trials per load condition and participant (interleaved randomly).
    free_participants : the first this many participants also have a free-use desktop session ``free1``
        (3–5 min, ``trial`` null; see :mod:`mouselab.synth.free_use`).
    rate_hz : polling rate (Hz).
    study : study identifier.
    design : generative parameters and planted effects (:class:`CogloadDesign`).
    """
    if n_participants < 1 or trials_per_condition < 1:
        raise ValueError("n_participants and trials_per_condition must be >= 1")
    if not 0 <= free_participants <= n_participants:
        raise ValueError(f"free_participants must be between 0 and n_participants ({n_participants})")
    root = np.random.SeedSequence(seed)
    trial_seq, free_seq, people_seq = root.spawn(3)
    pids = [f"P{i + 1:0{max(2, len(str(n_participants)))}d}" for i in range(n_participants)]
    samples, events, trials = _choice_trials(
        np.random.default_rng(trial_seq), pids, trials_per_condition, rate_hz, design, study
    )
    free = simulate_free_use(pids[:free_participants], seed=np.random.default_rng(free_seq), study=study, rate_hz=rate_hz)
    participants = _participants(np.random.default_rng(people_seq), pids, study)
    frames = {
        "samples": pl.concat([samples, free["samples"]], how="diagonal_relaxed"),
        "events": pl.concat([events, free["events"]], how="diagonal_relaxed"),
        "trials": trials,
        "participants": participants,
    }
    order = {
        "samples": ["participant", "session", "trial", "t_ms"],
        "events": ["participant", "session", "trial", "t_ms"],
        "trials": ["participant", "session", "trial_index"],
        "participants": ["participant"],
    }
    return {
        name: conform(frame, name).sort(order[name], nulls_last=True, maintain_order=True)
        for name, frame in frames.items()
    }


def _choice_trials(rng: np.random.Generator, pids: list[str], tpc: int, rate_hz: float, d: CogloadDesign, study: str):
    n_p = len(pids)
    n_per = 2 * tpc
    n = n_p * n_per
    p_idx = np.repeat(np.arange(n_p), n_per)

    # ---- participant random effects
    lat_int = rng.normal(0.0, d.latency_sd_ms, n_p)
    lat_slope = rng.normal(0.0, d.latency_slope_sd_ms, n_p)
    att_int = rng.normal(0.0, d.attraction_sd, n_p)
    att_slope = rng.normal(0.0, d.attraction_slope_sd, n_p)
    speed_p = rng.normal(0.0, d.speed_sd_log, n_p)
    hes_p = rng.normal(0.0, d.hesitation_sd_log, n_p)
    err_p = rng.normal(0.0, d.error_sd_logit, n_p)

    # ---- design: interleaved conditions, digits balanced within condition
    cond = rng.permuted(np.tile(np.repeat([0, 1], tpc), (n_p, 1)), axis=1)
    reps = -(-tpc // len(DIGITS))
    digits = rng.permuted(np.tile(np.tile(DIGITS, reps)[:tpc], (n_p, 2, 1)), axis=2).reshape(n_p, n_per)
    slots = np.argsort(cond, axis=1, kind="stable")  # positions of low trials, then high trials
    stim = np.empty((n_p, n_per), dtype=int)
    np.put_along_axis(stim, slots, digits, axis=1)
    cond, stim = cond.ravel(), stim.ravel()

    # ---- responses
    correct_side = np.where(stim < 5, 0, 1)  # 0 left, 1 right
    p_err = 1.0 / (1.0 + np.exp(-(np.log(np.take(d.error_prob, cond) / (1 - np.take(d.error_prob, cond))) + err_p[p_idx])))
    error = rng.random(n) < p_err
    side = np.where(error, 1 - correct_side, correct_side)
    boxes = (LAYOUT["left"], LAYOUT["right"])
    box_xy = np.array([[b.x, b.y] for b in boxes])
    box_wh = np.array([[b.w, b.h] for b in boxes])
    target, competitor, size = box_xy[side], box_xy[1 - side], box_wh[side]
    sb = LAYOUT["start"]
    start = np.column_stack([
        np.rint(sb.x + rng.uniform(-15.0, 15.0, n)),
        np.rint(sb.y + rng.uniform(-8.0, 8.0, n)),
    ])

    # ---- decision dynamics: attraction, changes of mind, hesitations
    com = rng.random(n) < np.take(d.change_of_mind_prob, cond)
    att = np.clip(
        np.take(d.attraction, cond) + att_int[p_idx] + att_slope[p_idx] * cond + rng.normal(0.0, d.attraction_trial_sd, n),
        0.0, 0.6,
    )
    att = np.where(com, rng.uniform(0.65, 0.95, n), att)
    progress = np.where(com, rng.uniform(0.3, 0.5, n), rng.uniform(*d.via_progress, n))
    decision = attraction_via(start, target, competitor, attraction=att, progress=progress)
    n_pause = np.minimum(rng.poisson(np.take(d.hesitation_rate, cond) * np.exp(hes_p[p_idx] - d.hesitation_sd_log**2 / 2)), 2)
    pauses = d.pause_min_ms + d.pause_median_extra_ms * np.exp(rng.normal(0.0, d.pause_sd_log, (n, 2)))
    early = start + rng.uniform(0.35, 0.65, n)[:, None] * (decision - start)
    early = np.where((n_pause == 2)[:, None], early, np.nan)
    via = np.stack([early, decision], axis=1)
    pause = np.column_stack([np.where(n_pause == 2, pauses[:, 0], 0.0), np.where(n_pause >= 1, pauses[:, 1], 0.0)])

    # ---- timing: start click, latency, movement, dwell, response click
    lat_mean = np.maximum(np.take(d.latency_ms, cond) + lat_int[p_idx] + lat_slope[p_idx] * cond, d.latency_floor_ms + 30.0)
    sig = d.latency_sd_log
    latency = d.latency_floor_ms + (lat_mean - d.latency_floor_ms) * np.exp(rng.normal(-sig**2 / 2, sig, n))
    speed = np.exp(speed_p[p_idx] + rng.normal(0.0, d.speed_trial_sd_log, n))
    plan = plan_submovements(
        start, target, seed=rng, target_size_px=size, onset_ms=latency, via_px=via, pause_ms=pause,
        blend=rng.uniform(*d.blend, n), speed=speed,
    )
    click1 = np.clip(rng.normal(*d.click_ms, n), 50.0, 180.0)
    click2 = np.clip(rng.normal(*d.click_ms, n), 50.0, 180.0)
    dwell = rng.uniform(*d.dwell_ms, n)
    period = 1000.0 / rate_hz
    bound = click1 + 3 * period + plan.movement_end_ms + dwell + click2 + 3 * period
    t, _ = sample_times(bound, seed=rng, rate_hz=rate_hz)
    rows = np.arange(n)
    up1 = np.argmax(t >= click1[:, None], axis=1)
    plan = plan.shifted(t[rows, up1])  # the stimulus appears at the release of the start button
    down2 = np.argmax(t >= (plan.movement_end_ms + dwell)[:, None], axis=1)
    up2 = np.argmax(t >= (t[rows, down2] + click2)[:, None], axis=1)
    if np.any(up2 <= down2) or np.any(down2 <= up1):  # pragma: no cover - guarded by the bound
        raise AssertionError("sample grid too short for a trial")
    x, y = render(plan, t, seed=rng, sdn_coef=d.sdn_coef, const_noise_px_per_ms=d.const_noise_px_per_ms)

    # ---- long frames
    col = np.arange(t.shape[1])[None, :]
    valid = col <= up2[:, None]
    held = ((col < up1[:, None]) | ((col >= down2[:, None]) & (col < up2[:, None])))
    event = np.full(t.shape, "move", dtype=object)
    event[:, 0] = "down"
    event[rows, up1] = "up"
    event[rows, down2] = "down"
    event[rows, up2] = "up"
    width = len(str(n_per)) if n_per >= 1000 else 3
    trial_ids = np.array([f"{pids[p]}-t{i + 1:0{width}d}" for p in range(n_p) for i in range(n_per)])
    pid_arr = np.array(pids)[p_idx]
    n_rows = valid.sum(axis=1)
    samples = pl.DataFrame({
        "study": study,
        "participant": np.repeat(pid_arr, n_rows),
        "session": "s1",
        "trial": np.repeat(trial_ids, n_rows),
        "t_ms": t[valid],
        "x": x[valid],
        "y": y[valid],
        "event": event[valid].astype(str),
        "buttons": held[valid].astype(np.uint8),
    })
    ev_idx = np.column_stack([np.zeros(n, dtype=int), up1, down2, up2])
    ev_t = t[rows[:, None], ev_idx]
    ev_x = x[rows[:, None], ev_idx]
    ev_y = y[rows[:, None], ev_idx]
    events = pl.DataFrame({
        "study": study,
        "participant": np.repeat(pid_arr, 4),
        "session": "s1",
        "trial": np.repeat(trial_ids, 4),
        "t_ms": ev_t.ravel(),
        "kind": np.tile(["click_down", "click_up", "click_down", "click_up"], n),
        "button": "left",
        "x": ev_x.ravel(),
        "y": ev_y.ravel(),
    })
    trials = pl.DataFrame({
        "study": study,
        "participant": pid_arr,
        "session": "s1",
        "trial": trial_ids,
        "trial_index": np.tile(np.arange(1, n_per + 1), n_p).astype(np.int32),
        "condition": np.array(CONDITIONS)[cond],
        "stimulus": stim.astype(str),
        "start_x": sb.x,
        "start_y": sb.y,
        "target_x": target[:, 0],
        "target_y": target[:, 1],
        "target_w": size[:, 0],
        "target_h": size[:, 1],
        "response": np.array(["left", "right"])[side],
        "correct": ~error,
    })
    return samples, events, trials


def _participants(rng: np.random.Generator, pids: list[str], study: str) -> pl.DataFrame:
    n = len(pids)
    return pl.DataFrame({
        "study": study,
        "participant": pids,
        "cohort": "sample",
        "handedness": rng.choice(["right", "left"], size=n, p=[0.9, 0.1]),
        "age_band": rng.choice(["18-24", "25-34", "35-44", "45-54", "55-64"], size=n, p=[0.4, 0.3, 0.15, 0.1, 0.05]),
        "device": "mouse",
    })
