"""Baseline for the benchmark: the mousetrap measure set written the way most analysis scripts do it —
pandas ``groupby(...).apply`` with one Python function call per trial.

This is deliberately the *typical* implementation, not mouselab's: it exists only so that
``bench_measures.py`` can report mouselab's speed as a ratio against it, measured in the same process.
The definitions follow ../shared/conformance/README.md (mousetrap 3.2.3 defaults).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOL_SD_FRACTION = 0.2  # sample entropy tolerance: 0.2 × SD of pooled diffs
M = 3


def _deviations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = x[0], y[0], x[-1], y[-1]
    dx, dy = x1 - x0, y1 - y0
    norm2 = dx * dx + dy * dy
    if norm2 == 0:
        return np.zeros_like(x)
    u = ((x - x0) * dx + (y - y0) * dy) / norm2
    px, py = x0 + u * dx, y0 + u * dy
    d = np.hypot(x - px, y - py)
    d = np.where(py > y, -d, d)
    return -d if y0 > y1 else d


def _flips(v: np.ndarray) -> int:
    step = np.diff(v)
    step = step[step != 0]
    return int(np.sum(np.sign(step[1:]) != np.sign(step[:-1])))


def _reversals(v: np.ndarray) -> int:
    v = v[v != 0]
    return int(np.sum(np.sign(v[1:]) != np.sign(v[:-1])))


def _time_normalised_x(t: np.ndarray, x: np.ndarray, steps: int = 101) -> np.ndarray:
    return np.interp(np.linspace(t[0], t[-1], steps), t, x)


def _sample_entropy(series: np.ndarray, r: float) -> float:
    n = len(series)
    def count(m: int) -> int:
        w = np.lib.stride_tricks.sliding_window_view(series, m)[: n - M]
        c = 0
        for i in range(len(w) - 1):
            c += int(np.sum(np.max(np.abs(w[i + 1 :] - w[i]), axis=1) <= r))
        return c
    b, a = count(M), count(M + 1)
    return float(-np.log(a / b)) if a > 0 and b > 0 else float("nan")


def trial_measures(g: pd.DataFrame, r: float) -> pd.Series:
    t, x, y = g["t_ms"].to_numpy(), g["x"].to_numpy(), g["y"].to_numpy()
    dt = np.diff(t, prepend=t[0])
    dist = np.hypot(np.diff(x, prepend=x[0]), np.diff(y, prepend=y[0]))
    vel = np.divide(dist, dt, out=np.zeros_like(dist), where=dt > 0)
    acc = np.zeros_like(vel)
    acc[1:-1] = (vel[2:] - vel[1:-1]) / dt[1:-1]
    acc_inner = acc[:-1]
    d = _deviations(x, y)
    k = int(np.argmax(np.abs(d)))
    moved = np.flatnonzero((x != x[0]) | (y != y[0]))
    area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
    sign = -1.0 if (x[-1] - x[0]) * (y[-1] - y[0]) > 0 else 1.0
    vmax = int(np.argmax(vel))
    tn = _time_normalised_x(t, x)
    return pd.Series({
        "xpos_max": x.max(), "xpos_min": x.min(), "ypos_max": y.max(), "ypos_min": y.min(),
        "MAD": d[k], "MAD_time": t[k], "MD_above": d.max(), "MD_above_time": t[int(np.argmax(d))],
        "MD_below": d.min(), "MD_below_time": t[int(np.argmin(d))], "AD": d.mean(), "AUC": sign * area,
        "xpos_flips": _flips(x), "ypos_flips": _flips(y), "xpos_reversals": _reversals(x),
        "ypos_reversals": _reversals(y), "RT": t[-1],
        "initiation_time": t[moved[0] - 1] if len(moved) else t[-1],
        "idle_time": dt[dist == 0].sum(), "total_dist": dist.sum(),
        "vel_max": vel[vmax], "vel_max_time": (t[vmax - 1] + t[vmax]) / 2 if vmax else t[0],
        "vel_min": vel.min(), "vel_min_time": t[int(np.argmin(vel))],
        "acc_max": acc_inner.max(), "acc_max_time": t[int(np.argmax(acc_inner))],
        "acc_min": acc_inner.min(), "acc_min_time": t[int(np.argmin(acc_inner))],
        "sample_entropy": _sample_entropy(np.diff(tn), r),
    })


def pandas_measures(samples: pd.DataFrame) -> pd.DataFrame:
    """mousetrap measures per trial via ``groupby.apply`` (the baseline)."""
    key = ["participant", "session", "trial"]
    diffs = samples.groupby(key, sort=False).apply(
        lambda g: pd.Series(np.diff(_time_normalised_x(g["t_ms"].to_numpy(), g["x"].to_numpy())))
    )
    r = TOL_SD_FRACTION * float(np.std(np.asarray(diffs), ddof=1))
    return samples.groupby(key, sort=False).apply(lambda g: trial_measures(g, r)).reset_index()
