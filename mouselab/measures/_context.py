"""The per-call computation context: flat NumPy arrays of all trials plus lazily cached intermediates.

Every measure function takes a :class:`TrialArrays` and returns one value per trial (a NumPy array of
length ``n_trials``). Intermediates that several measures share (steps, velocities, deviations from the
direct path, ...) are computed once per call, over all trials at once, and cached on the context.

Conventions for per-sample arrays (length ``n_samples``, trials concatenated): index ``k`` is a sample;
"step ``k``" is the move from sample ``k-1`` to sample ``k`` of the same trial, and step values at the first
sample of each trial are 0 (mousetrap's padding).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from mouselab.measures._params import PARAMETERS
from mouselab.preprocess._frames import Segments


def seg_max(values: np.ndarray, segs: Segments) -> np.ndarray:
    """Per-trial maximum, ignoring NaN (NaN when a trial holds only NaN)."""
    return np.fmax.reduceat(values, segs.starts)


def seg_min(values: np.ndarray, segs: Segments) -> np.ndarray:
    """Per-trial minimum, ignoring NaN."""
    return np.fmin.reduceat(values, segs.starts)


def seg_sum(values: np.ndarray, segs: Segments) -> np.ndarray:
    """Per-trial sum."""
    return np.add.reduceat(values, segs.starts)


def seg_first_index_of(mask: np.ndarray, segs: Segments) -> np.ndarray:
    """Per trial, the first row index where ``mask`` is true (``-1`` when it never is)."""
    hits = np.flatnonzero(mask)
    if hits.size == 0:
        return np.full(segs.n_trials, -1, dtype=np.int64)
    pos = np.searchsorted(hits, segs.starts)
    first = hits[np.minimum(pos, hits.size - 1)]
    return np.where((pos < hits.size) & (first <= segs.lasts), first, -1)


def seg_argmax(values: np.ndarray, segs: Segments, maxima: np.ndarray | None = None) -> np.ndarray:
    """Row index of the first per-trial maximum (R's ``which.max``; NaN ignored)."""
    if maxima is None:
        maxima = seg_max(values, segs)
    idx = seg_first_index_of(values == segs.broadcast(maxima), segs)
    return np.where(idx < 0, segs.starts, idx)


def seg_argmin(values: np.ndarray, segs: Segments, minima: np.ndarray | None = None) -> np.ndarray:
    """Row index of the first per-trial minimum (R's ``which.min``; NaN ignored)."""
    if minima is None:
        minima = seg_min(values, segs)
    idx = seg_first_index_of(values == segs.broadcast(minima), segs)
    return np.where(idx < 0, segs.starts, idx)


def step_diff(values: np.ndarray, segs: Segments) -> np.ndarray:
    """``values[k] - values[k-1]`` within trials; 0 at the first sample of each trial."""
    out = np.empty_like(values)
    if values.size:
        out[0] = 0.0
        np.subtract(values[1:], values[:-1], out=out[1:])
        out[segs.starts] = 0.0
    return out


def count_sign_changes(steps: np.ndarray, segs: Segments, *, threshold: float = 0.0) -> np.ndarray:
    """Directional changes per trial (mousetrap's ``count_changes``), vectorised.

    Zero steps (value 0 at the first sample included) are dropped; consecutive steps of equal sign are
    merged into runs whose deltas are summed. With ``threshold == 0`` the count is (number of runs - 1);
    otherwise runs with ``|sum| <= threshold`` are dropped first and the sign changes between the
    remaining consecutive runs are counted.
    """
    nz = np.flatnonzero(steps)
    if nz.size == 0:
        return np.zeros(segs.n_trials, dtype=np.int64)
    trial = segs.ids[nz]
    positive = steps[nz] > 0
    if threshold == 0:
        # runs - 1 == sign changes between consecutive non-zero steps of the same trial
        change = (positive[1:] != positive[:-1]) & (trial[1:] == trial[:-1])
        return np.bincount(trial[1:][change], minlength=segs.n_trials).astype(np.int64)
    new_run = np.ones(nz.size, dtype=bool)
    new_run[1:] = (trial[1:] != trial[:-1]) | (positive[1:] != positive[:-1])
    run_starts = np.flatnonzero(new_run)
    run_trial = trial[run_starts]
    run_sum = np.add.reduceat(steps[nz], run_starts)
    keep = np.abs(run_sum) > abs(threshold)
    run_trial, run_pos = run_trial[keep], run_sum[keep] > 0
    change = (run_trial[1:] == run_trial[:-1]) & (run_pos[1:] != run_pos[:-1])
    return np.bincount(run_trial[1:][change], minlength=segs.n_trials).astype(np.int64)


@dataclass
class TrialArrays:
    """All trials of one call as flat arrays, their segments, the parameters and cached intermediates."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    segs: Segments
    params: dict[str, Any] = field(default_factory=dict)
    geometry: dict[str, np.ndarray] = field(default_factory=dict)
    _extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def param(self, name: str) -> Any:
        """Value of parameter ``name`` for this call (its registry default when not given)."""
        return self.params[name] if name in self.params else PARAMETERS[name].default

    def geo(self, name: str) -> np.ndarray:
        """Per-trial geometry column ``name`` (e.g. ``target_x``); all NaN when not supplied."""
        values = self.geometry.get(name)
        return np.full(self.segs.n_trials, np.nan) if values is None else values

    def cached(self, name: str, compute: Callable[[TrialArrays], Any]) -> Any:
        """``compute(self)`` once per context under ``name`` (for intermediates defined outside this class)."""
        if name not in self._extra:
            self._extra[name] = compute(self)
        return self._extra[name]

    # -- per-trial anchors -------------------------------------------------------------------------
    @cached_property
    def t_first(self) -> np.ndarray:
        return self.t[self.segs.starts]

    @cached_property
    def t_last(self) -> np.ndarray:
        return self.t[self.segs.lasts]

    # -- steps -------------------------------------------------------------------------------------
    @cached_property
    def dx(self) -> np.ndarray:
        return step_diff(self.x, self.segs)

    @cached_property
    def dy(self) -> np.ndarray:
        return step_diff(self.y, self.segs)

    @cached_property
    def dt(self) -> np.ndarray:
        return step_diff(self.t, self.segs)

    @cached_property
    def moved(self) -> np.ndarray:
        """True where the position changed since the previous sample (False at each first sample)."""
        return (self.dx != 0) | (self.dy != 0)

    @cached_property
    def dist(self) -> np.ndarray:
        """Euclidean step length (px), 0 at the first sample (mousetrap's ``dist``)."""
        return np.sqrt(self.dx * self.dx + self.dy * self.dy)

    @cached_property
    def vel(self) -> np.ndarray:
        """Step speed ``dist / dt`` (px/ms), 0 at the first sample (mousetrap's ``vel``)."""
        dt = self.dt.copy()
        dt[self.segs.starts] = 1.0
        return self.dist / dt

    @cached_property
    def acc(self) -> np.ndarray:
        """mousetrap's ``acc``: ``(vel[k+1] - vel[k]) / dt[k]`` (the *previous* step's Δt), 0 at the first
        sample and NaN at the last sample of each trial (px/ms²)."""
        vel, n = self.vel, self.segs.n_samples
        acc = np.empty(n)
        if n:
            dt = self.dt.copy()
            dt[self.segs.starts] = 1.0
            acc[:-1] = (vel[1:] - vel[:-1]) / dt[:-1]
            acc[self.segs.lasts] = np.nan
            acc[self.segs.starts] = 0.0
        return acc

    # -- direct path -------------------------------------------------------------------------------
    @cached_property
    def ideal(self) -> tuple[np.ndarray, np.ndarray]:
        """Orthogonal projection of every sample onto the line from its trial's first to last sample.

        When start and end coincide, every projection is the start point (mousetrap's fallback).
        """
        return self._projection[:2]

    @cached_property
    def path_position(self) -> np.ndarray:
        """Signed distance (px) of each projection from the start along the direct path (AUC's abscissa).

        Negative where the projection lies on the far side of the start in y (mousetrap's rule; with a
        horizontal direct path it is never negative); 0 for trials whose start and end coincide.
        """
        px, py, u, length, ey = self._projection
        pos = u * self.segs.broadcast(length)
        horizontal = self.segs.broadcast(ey == 0)
        return np.where(horizontal, np.abs(pos), pos)

    @cached_property
    def _projection(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        segs = self.segs
        x1, y1 = self.x[segs.starts], self.y[segs.starts]
        ex, ey = self.x[segs.lasts] - x1, self.y[segs.lasts] - y1
        denom = ex * ex + ey * ey
        degenerate = denom == 0
        # same operation order as mousetrap's point_to_line (bit-identical results keep ties identical)
        bx1, by1 = segs.broadcast(x1), segs.broadcast(y1)
        bex, bey = segs.broadcast(ex), segs.broadcast(ey)
        u = self.x - bx1
        u *= bex
        tmp = self.y - by1
        tmp *= bey
        u += tmp
        with np.errstate(invalid="ignore", divide="ignore"):
            u /= segs.broadcast(denom)
        px = np.multiply(u, bex, out=bex)
        px += bx1
        py = np.multiply(u, bey, out=bey)
        py += by1
        if degenerate.any():
            deg = segs.broadcast(degenerate)
            px = np.where(deg, bx1, px)
            py = np.where(deg, by1, py)
            u = np.where(deg, 0.0, u)
        return px, py, u, np.sqrt(denom), ey

    @cached_property
    def dev(self) -> np.ndarray:
        """Signed perpendicular deviation from the direct path (px), mousetrap's ``dev_ideal``.

        Positive above the path (projection's y below the point's y), sign flipped for trials that end
        below their start (y_first > y_last).
        """
        px, py = self.ideal
        ddx = px - self.x
        ddx *= ddx
        ddy = py - self.y
        ddy *= ddy
        ddx += ddy
        dev = np.sqrt(ddx, out=ddx)
        down = self.segs.broadcast(self.y[self.segs.starts] > self.y[self.segs.lasts])
        negate = np.not_equal(py > self.y, down)
        np.negative(dev, out=dev, where=negate)
        return dev

    @cached_property
    def dev_max(self) -> np.ndarray:
        return seg_max(self.dev, self.segs)

    @cached_property
    def dev_min(self) -> np.ndarray:
        return seg_min(self.dev, self.segs)

    @cached_property
    def abs_dev_argmax(self) -> np.ndarray:
        return seg_argmax(np.abs(self.dev), self.segs)

    @cached_property
    def total_dist(self) -> np.ndarray:
        return seg_sum(self.dist, self.segs)

    @cached_property
    def vel_max(self) -> np.ndarray:
        return seg_max(self.vel, self.segs)

    @cached_property
    def acc_max(self) -> np.ndarray:
        return seg_max(self.acc, self.segs)

    @cached_property
    def acc_min(self) -> np.ndarray:
        return seg_min(self.acc, self.segs)

    def time_at(self, idx: np.ndarray) -> np.ndarray:
        """Timestamp of sample ``idx`` for position-based ``*_time`` measures.

        mousetrap prepends a virtual sample at time 0 (same position) when a trial's first timestamp is
        > 0; a maximum reached at the first sample is then reported at time 0.
        """
        at_first = idx == self.segs.starts
        return np.where(at_first & (self.t_first > 0), 0.0, self.t[idx])
