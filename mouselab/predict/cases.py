"""Partial movements: each trial cut at fractions of its movement time, with early-motion features.

A *case* is one trial observed up to ``onset + fraction × (end − onset)``, where onset and end are the
movement phases of :func:`mouselab.synth.describe.movement_phases` (the cursor leaves / settles within
``still_px`` of its start / final position). The fraction is what an evaluation conditions on; a predictor
never sees it (at run time nobody knows how long the movement will take), only the samples so far.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from mouselab.synth.describe import TrialSet, movement_phases, trial_set

__all__ = ["FEATURES", "PartialMovements", "cut_movements", "infer_targets", "speed_profile"]

#: Early-motion features of each case (:func:`cut_movements`), all computable at run time.
FEATURES = (
    "elapsed_ms", "dx", "dy", "path_px", "speed", "vx", "vy", "accel", "peak_speed", "peak_at_ms", "speed_ratio",
    "heading_cos", "heading_sin", "start_x", "start_y", "straightness",
)


@dataclass(frozen=True)
class PartialMovements:
    """Cases (one per trial × fraction) with what has been seen and where the movement really ended.

    ``trial`` indexes :attr:`trials` (a :class:`~mouselab.synth.describe.TrialSet`); ``fraction`` is the
    share of the movement time seen; ``start``, ``current``, ``end`` are (n, 2) px; ``t``, ``x``, ``y`` are
    the samples from movement onset up to the cut (one array per case); ``features`` holds :data:`FEATURES`.
    """

    trials: TrialSet
    trial: np.ndarray
    fraction: np.ndarray
    start: np.ndarray
    current: np.ndarray
    end: np.ndarray
    t: list[np.ndarray]
    x: list[np.ndarray]
    y: list[np.ndarray]
    features: pl.DataFrame

    @property
    def n_cases(self) -> int:
        return int(self.trial.size)

    @property
    def groups(self) -> np.ndarray:
        """Participant of each case (for group-wise cross-validation)."""
        return self.trials.participant[self.trial]

    def subset(self, mask) -> "PartialMovements":
        idx = np.flatnonzero(np.asarray(mask)) if np.asarray(mask).dtype == bool else np.asarray(mask, dtype=int)
        return PartialMovements(
            self.trials, self.trial[idx], self.fraction[idx], self.start[idx], self.current[idx], self.end[idx],
            [self.t[i] for i in idx], [self.x[i] for i in idx], [self.y[i] for i in idx], self.features[idx],
        )


def speed_profile(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, smooth_ms: float = 20.0) -> np.ndarray:
    """Speed (px/ms) per sample of a partial movement: causal exponential smoothing of step speeds
    (time constant ``smooth_ms``), 0 at the first sample. Causal, so a prefix gives the same values as the
    whole movement up to that point."""
    n = t.size
    v = np.zeros(n)
    if n < 2:
        return v
    dt = np.diff(t)
    step = np.hypot(np.diff(x), np.diff(y)) / np.where(dt > 0, dt, 1.0)
    s = 0.0
    for i in range(1, n):
        a = 1.0 - np.exp(-dt[i - 1] / smooth_ms) if smooth_ms > 0 else 1.0
        s = s + a * (step[i - 1] - s)
        v[i] = s
    return v


def _features(t, x, y, start, speed) -> dict[str, float]:
    i_peak = int(np.argmax(speed)) if speed.size else 0
    k = max(0, t.size - 4)
    dt = t[-1] - t[k] if t.size > 1 else 0.0
    vx = (x[-1] - x[k]) / dt if dt > 0 else 0.0
    vy = (y[-1] - y[k]) / dt if dt > 0 else 0.0
    k2 = max(0, t.size - 7)
    acc = (speed[-1] - speed[k2]) / (t[-1] - t[k2]) if t.size > 1 and t[-1] > t[k2] else 0.0
    path = float(np.sum(np.hypot(np.diff(x), np.diff(y)))) if t.size > 1 else 0.0
    dx, dy = x[-1] - start[0], y[-1] - start[1]
    disp = float(np.hypot(dx, dy))
    heading = np.hypot(vx, vy)
    peak = float(speed[i_peak]) if speed.size else 0.0
    return {
        "elapsed_ms": float(t[-1] - t[0]), "dx": float(dx), "dy": float(dy), "path_px": path,
        "speed": float(speed[-1]) if speed.size else 0.0, "vx": float(vx), "vy": float(vy), "accel": float(acc),
        "peak_speed": peak, "peak_at_ms": float(t[i_peak] - t[0]) if speed.size else 0.0,
        "speed_ratio": float(speed[-1] / peak) if peak > 0 else 0.0,
        "heading_cos": float(vx / heading) if heading > 0 else 0.0, "heading_sin": float(vy / heading) if heading > 0 else 0.0,
        "start_x": float(start[0]), "start_y": float(start[1]), "straightness": disp / path if path > 0 else 1.0,
    }


def cut_movements(
    samples: pl.DataFrame | pl.LazyFrame | TrialSet,
    trials: pl.DataFrame | pl.LazyFrame | None = None,
    *,
    fractions=(0.25, 0.5, 0.75, 0.9),
    still_px: float = 2.0,
    min_amplitude_px: float = 20.0,
) -> PartialMovements:
    """Cut every trial at each fraction of its movement time (see the module docstring).

    Trials whose start and end lie closer than ``min_amplitude_px`` (no real movement) are left out.
    """
    ts = samples if isinstance(samples, TrialSet) else trial_set(samples, trials)
    fr = np.asarray(fractions, dtype=float)
    if fr.size == 0 or np.any((fr <= 0) | (fr > 1)):
        raise ValueError(f"fractions must lie in (0, 1], got {fractions!r}")
    rows, frac, starts, currents, ends, tt, xx, yy, feats = [], [], [], [], [], [], [], [], []
    for i in range(ts.n_trials):
        t, x, y = ts.t[i], ts.x[i], ts.y[i]
        start = np.array([x[0], y[0]])
        end = np.array([x[-1], y[-1]])
        if np.hypot(*(end - start)) < min_amplitude_px:
            continue
        on, off = movement_phases(t, x, y, still_px=still_px)
        if off <= on:
            continue
        speed = speed_profile(t[on:], x[on:], y[on:])  # causal: every prefix sees the same values
        for f in fr:
            cut = t[on] + f * (t[off] - t[on])
            j = int(np.searchsorted(t, cut, side="right"))
            j = max(j, on + 2)
            sl = slice(on, j)
            rows.append(i)
            frac.append(f)
            starts.append(start)
            currents.append(np.array([x[j - 1], y[j - 1]]))
            ends.append(end)
            tt.append(t[sl])
            xx.append(x[sl])
            yy.append(y[sl])
            feats.append(_features(t[sl], x[sl], y[sl], start, speed[: j - on]))
    features = pl.DataFrame(feats, schema={k: pl.Float64 for k in FEATURES}) if feats else \
        pl.DataFrame(schema={k: pl.Float64 for k in FEATURES})
    arr = lambda v: np.array(v, dtype=float).reshape(-1, 2)  # noqa: E731
    return PartialMovements(ts, np.array(rows, dtype=int), np.array(frac, dtype=float), arr(starts), arr(currents),
                            arr(ends), tt, xx, yy, features)


def infer_targets(points: np.ndarray, *, radius_px: float = 150.0, min_share: float = 0.05) -> np.ndarray:
    """Target centres (k, 2) of a layout inferred from movement endpoints, when the layout is not recorded.

    Greedy density clustering: the endpoint with the most neighbours within ``radius_px`` seeds a target
    at the median of those neighbours, which are then removed; repeated while a cluster holds at least
    ``min_share`` of the endpoints.
    """
    pts = np.asarray(points, dtype=float)
    left = pts[np.all(np.isfinite(pts), axis=1)]
    n = left.shape[0]
    centres = []
    while left.shape[0]:
        d = np.hypot(left[:, None, 0] - left[None, :, 0], left[:, None, 1] - left[None, :, 1])
        near = d <= radius_px
        counts = near.sum(axis=1)
        i = int(np.argmax(counts))
        if counts[i] < max(2, min_share * n):
            break
        centres.append(np.median(left[near[i]], axis=0))
        left = left[~near[i]]
    return np.array(centres).reshape(-1, 2)
