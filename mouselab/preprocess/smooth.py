"""Smoothing of trajectories with windows given in milliseconds (Savitzky-Golay or moving average).

Windows are converted to samples with each trial's median sampling interval, so the filters assume
(near-)regular sampling: :func:`mouselab.preprocess.resample` first when the recorder's rate varies.
At trial edges the window is padded with the edge sample (``"nearest"``), so trials never mix.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl

from mouselab.preprocess._frames import (
    TRIAL_KEY,
    FrameLike,
    Segments,
    as_float_array,
    check_time_order,
    collect_columns,
    trial_segments,
)

#: Samples per block when gathering windows (bounds memory to about block x window x 8 bytes).
_BLOCK = 1 << 16


def _window_samples(t: np.ndarray, segs: Segments, window_ms: float) -> int:
    dt = np.diff(t)
    if segs.n_trials:
        inside = np.ones(dt.size, dtype=bool)
        inside[segs.starts[1:] - 1] = False
        dt = dt[inside]
    step = float(np.median(dt)) if dt.size else 1.0
    w = int(round(window_ms / step))
    return max(1, w | 1)  # odd, at least 1


def _filter(values: np.ndarray, segs: Segments, weights: np.ndarray) -> np.ndarray:
    half = weights.size // 2
    out = np.empty_like(values)
    lo_bound = segs.broadcast(segs.starts)
    hi_bound = segs.broadcast(segs.lasts)
    offs = np.arange(-half, half + 1)
    for a in range(0, values.size, _BLOCK):
        b = min(a + _BLOCK, values.size)
        idx = np.arange(a, b)[:, None] + offs[None, :]
        np.clip(idx, lo_bound[a:b, None], hi_bound[a:b, None], out=idx)
        out[a:b] = values[idx] @ weights
    return out


def smooth(
    samples: FrameLike,
    *,
    window_ms: float,
    method: Literal["savgol", "moving_average"] = "savgol",
    polyorder: int = 2,
) -> pl.DataFrame:
    """Smooth ``x`` and ``y`` of every trial; returns the frame with ``x``, ``y`` replaced.

    ``method="savgol"``: Savitzky-Golay filter (Savitzky & Golay, 1964) -- a least-squares polynomial of
    degree ``polyorder`` fitted in a centred window of ``window_ms`` (converted to an odd number of samples
    at the median sampling interval), evaluated at the centre; it keeps peaks (e.g. of velocity) better
    than a moving average. ``method="moving_average"``: the centred mean over the same window. Windows of
    one sample leave the data unchanged. Vectorised over all trials.
    """
    if method not in ("savgol", "moving_average"):
        raise ValueError(f"method must be 'savgol' or 'moving_average', got {method!r}")
    if not float(window_ms) > 0:
        raise ValueError(f"window_ms must be positive, got {window_ms!r}")
    frame = samples.collect() if isinstance(samples, pl.LazyFrame) else samples
    base = collect_columns(frame, TRIAL_KEY + ("t_ms", "x", "y"))
    segs = trial_segments(base)
    t = as_float_array(base, "t_ms")
    check_time_order(t, segs, base)
    w = _window_samples(t, segs, float(window_ms))
    if w == 1:
        return frame
    if method == "savgol":
        if polyorder >= w:
            raise ValueError(f"polyorder {polyorder} must be smaller than the window ({w} samples)")
        from scipy.signal import savgol_coeffs

        weights = savgol_coeffs(w, polyorder, use="dot")
    else:
        weights = np.full(w, 1.0 / w)
    x = _filter(as_float_array(base, "x"), segs, weights)
    y = _filter(as_float_array(base, "y"), segs, weights)
    return frame.with_columns(pl.Series("x", x), pl.Series("y", y))
