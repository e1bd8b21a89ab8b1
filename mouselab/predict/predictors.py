"""Endpoint predictors: each is fitted on complete movements and predicts where a partial one will end.

All share one small interface: ``fit(cases)`` learns from :class:`~mouselab.predict.cases.PartialMovements`
of training trials (true endpoints known), ``predict(cases)`` returns predicted endpoints (n, 2) in px.

* :class:`CurrentPosition` — the baseline: the movement ends where the cursor is now.
* :class:`KinematicEndpoint` — kinematic endpoint prediction after Lank, Cheng & Ruiz (2007): the speed
  of an aimed movement falls to zero at its end, and under the minimum-jerk model speed is close to a
  quadratic function of travelled distance. A parabola ``v(d) = a·d² + b·d + c`` is fitted by least
  squares to the speed-distance profile of the current submovement (from where the speed last rose from
  below 20 % of its running peak) and its zero beyond the current distance is the predicted path length;
  the remaining distance is laid along the current heading from the present position. The path length is multiplied by a correction factor learned on training movements (the
  median ratio of true to predicted length), as the original stroke-length correction — one factor per
  band of the current speed relative to the peak so far (accelerating, decelerating, homing in), since the
  fit's bias changes along the movement. Where the fit has no zero ahead the current position is predicted.
* :class:`TemplateMatching` — kinematic template matching after Pasqual & Wobbrock (2014): every training
  movement is a template, its speed-over-time profile from onset; a partial movement's profile is compared
  with the same-length prefix of every template (root mean squared difference, templates shorter than the
  query padded with zeros), the ``k`` best give the predicted total distance (their median total
  displacement), laid along the direction from the start through the present position.
* :class:`LearnedEndpoint` — gradient-boosted regression (scikit-learn ``HistGradientBoostingRegressor``)
  of the remaining displacement on early-motion features (:data:`~mouselab.predict.cases.FEATURES`).

References
----------
Lank, E., Cheng, Y.-C. N., & Ruiz, J. (2007). Endpoint prediction using motion kinematics. *CHI '07*,
637–646.
Ruiz, J., & Lank, E. (2009). Effects of target size and distance on kinematic endpoint prediction.
*Technical report CS-2009-24*, University of Waterloo.
Pasqual, P. T., & Wobbrock, J. O. (2014). Mouse pointing endpoint prediction using kinematic template
matching. *CHI '14*, 743–752.
"""

from __future__ import annotations

import numpy as np

from mouselab.predict.cases import FEATURES, PartialMovements, speed_profile

__all__ = ["PREDICTORS", "CurrentPosition", "KinematicEndpoint", "LearnedEndpoint", "TemplateMatching", "make_predictor"]


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.hypot(v[:, 0], v[:, 1])[:, None]
    return np.divide(v, n, out=np.zeros_like(v), where=n > 0)


def _heading(cases: PartialMovements) -> np.ndarray:
    """Unit direction of the recent motion (last ~3 steps), falling back to start → current."""
    f = cases.features
    v = np.column_stack([f["vx"].to_numpy(), f["vy"].to_numpy()])
    u = _unit(v)
    chord = _unit(cases.current - cases.start)
    still = np.hypot(u[:, 0], u[:, 1]) == 0
    u[still] = chord[still]
    return u


class CurrentPosition:
    """Baseline: the endpoint is the present cursor position."""

    name = "current position"

    def fit(self, cases: PartialMovements) -> "CurrentPosition":
        return self

    def predict(self, cases: PartialMovements) -> np.ndarray:
        return cases.current.copy()


class KinematicEndpoint:
    """Quadratic speed-vs-distance extrapolation (Lank et al. 2007) with a learned correction factor."""

    name = "kinematic (Lank 2007)"

    def __init__(self, *, min_samples: int = 4, speed_ratio_edges: tuple[float, ...] = (0.25, 0.5, 0.75, 0.999)):
        self.min_samples = min_samples
        self.edges = np.asarray(speed_ratio_edges, dtype=float)
        self.correction = np.ones(len(self.edges) + 1)

    def _total(self, cases: PartialMovements) -> np.ndarray:
        """Predicted total path length per case (NaN where the profile gives no zero crossing ahead)."""
        out = np.full(cases.n_cases, np.nan)
        for i in range(cases.n_cases):
            t, x, y = cases.t[i], cases.x[i], cases.y[i]
            if t.size < self.min_samples:
                continue
            step = np.hypot(np.diff(x), np.diff(y))
            dt = np.diff(t)
            v = np.convolve(step / np.where(dt > 0, dt, 1.0), np.ones(3) / 3.0, mode="same")
            d = np.cumsum(step)
            # the current submovement starts where the speed last rose from below 20 % of its running peak
            run = np.maximum.accumulate(v)
            low = v < 0.2 * run
            rises = np.flatnonzero(low[:-1] & ~low[1:])
            seg = int(rises[-1]) if rises.size and v.size - rises[-1] >= 3 else 0
            s_d, s_v = d[seg:] - d[seg], v[seg:]
            scale = s_d[-1]
            if scale <= 0:
                continue
            u = s_d / scale
            # v(d) = a d^2 + b d + c: the speed of a minimum-jerk submovement against distance is close to a parabola
            design = np.column_stack([u**2, u, np.ones_like(u)])
            (a, b, c), *_ = np.linalg.lstsq(design, s_v, rcond=None)
            roots = np.roots([a, b, c])
            roots = roots[np.isreal(roots)].real
            ahead = roots[roots > 1.0]
            if a < 0 and ahead.size:
                out[i] = d[seg] + float(ahead.min()) * scale
        return out

    def _bins(self, cases: PartialMovements) -> np.ndarray:
        ratio = cases.features["speed_ratio"].to_numpy()
        return np.digitize(ratio, self.edges)

    def fit(self, cases: PartialMovements) -> "KinematicEndpoint":
        total = self._total(cases)
        path = cases.features["path_px"].to_numpy()
        true = path + np.hypot(*(cases.end - cases.current).T)
        ok = np.isfinite(total) & (total > 0)
        bins = self._bins(cases)
        overall = float(np.median(true[ok] / total[ok])) if ok.sum() >= 5 else 1.0
        self.correction = np.full(len(self.edges) + 1, overall)
        for b in range(len(self.edges) + 1):
            sel = ok & (bins == b)
            if sel.sum() >= 10:
                self.correction[b] = float(np.median(true[sel] / total[sel]))
        self.correction = np.clip(self.correction, 0.2, 5.0)
        return self

    def predict(self, cases: PartialMovements) -> np.ndarray:
        path = cases.features["path_px"].to_numpy()
        total = self._total(cases) * self.correction[self._bins(cases)]
        rem = np.where(np.isfinite(total), np.clip(total - path, 0.0, 2.0 * path + 1.0), 0.0)
        return cases.current + rem[:, None] * _heading(cases)


class TemplateMatching:
    """Kinematic template matching (Pasqual & Wobbrock 2014) on speed-over-time profiles."""

    name = "template matching (Pasqual 2014)"

    def __init__(self, *, k: int = 5, step_ms: float = 10.0, max_templates: int = 2000, seed: int = 0):
        self.k, self.step_ms, self.max_templates, self.seed = k, step_ms, max_templates, seed
        self.profiles = np.zeros((0, 0))
        self.distance = np.zeros(0)

    def _profile(self, t, x, y, length: int | None = None) -> np.ndarray:
        v = speed_profile(t, x, y)
        grid = t[0] + self.step_ms * np.arange(int((t[-1] - t[0]) // self.step_ms) + 1)
        prof = np.interp(grid, t, v)
        if length is not None:
            prof = np.pad(prof[:length], (0, max(0, length - prof.size)))
        return prof

    def fit(self, cases: PartialMovements) -> "TemplateMatching":
        # one template per training trial: its most complete case, extended to the movement end
        order = np.lexsort((-cases.fraction, cases.trial))
        first = order[np.concatenate([[True], np.diff(cases.trial[order]) != 0])]
        ts = cases.trials
        profiles, dist = [], []
        for i in first:
            tr = cases.trial[i]
            t, x, y = ts.t[tr], ts.x[tr], ts.y[tr]
            t0 = cases.t[i][0]
            sl = t >= t0
            profiles.append(self._profile(t[sl], x[sl], y[sl]))
            dist.append(float(np.hypot(*(cases.end[i] - cases.start[i]))))
        if len(profiles) > self.max_templates:
            keep = np.random.default_rng(self.seed).choice(len(profiles), self.max_templates, replace=False)
            profiles = [profiles[j] for j in keep]
            dist = [dist[j] for j in keep]
        length = max(p.size for p in profiles) if profiles else 0
        self.profiles = np.array([np.pad(p, (0, length - p.size)) for p in profiles])
        self.distance = np.array(dist)
        return self

    def predict(self, cases: PartialMovements) -> np.ndarray:
        out = cases.current.copy()
        if self.profiles.size == 0:
            return out
        direction = _unit(cases.current - cases.start)
        width = self.profiles.shape[1]
        for i in range(cases.n_cases):
            q = self._profile(cases.t[i], cases.x[i], cases.y[i])
            m = min(q.size, width)
            if m < 2:
                continue
            err = np.sqrt(np.mean((self.profiles[:, :m] - q[:m]) ** 2, axis=1))
            best = np.argsort(err, kind="stable")[: self.k]
            total = float(np.median(self.distance[best]))
            now = float(np.hypot(*(cases.current[i] - cases.start[i])))
            out[i] = cases.start[i] + max(total, now) * direction[i]
        return out


class LearnedEndpoint:
    """Gradient-boosted regression of the remaining displacement on early-motion features."""

    name = "learned (gradient boosting)"

    def __init__(self, *, seed: int = 0, max_iter: int = 200):
        self.seed, self.max_iter = seed, max_iter
        self.models: list = []

    def _x(self, cases: PartialMovements) -> np.ndarray:
        return cases.features.select(list(FEATURES)).to_numpy()

    def fit(self, cases: PartialMovements) -> "LearnedEndpoint":
        from sklearn.ensemble import HistGradientBoostingRegressor
        from threadpoolctl import threadpool_limits

        x = self._x(cases)
        rem = cases.end - cases.current
        self.models = []
        with threadpool_limits(1):
            for axis in range(2):
                model = HistGradientBoostingRegressor(max_iter=self.max_iter, learning_rate=0.08, max_leaf_nodes=15,
                                                      min_samples_leaf=10, loss="absolute_error",
                                                      early_stopping=False, random_state=self.seed)
                self.models.append(model.fit(x, rem[:, axis]))
        return self

    def predict(self, cases: PartialMovements) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        x = self._x(cases)
        with threadpool_limits(1):
            rem = np.column_stack([m.predict(x) for m in self.models])
        return cases.current + rem


#: Predictors by name, in the order reports show them.
PREDICTORS = {
    "current": CurrentPosition,
    "kinematic": KinematicEndpoint,
    "template": TemplateMatching,
    "learned": LearnedEndpoint,
}


def make_predictor(name: str, *, seed: int = 0):
    """A fresh predictor by name (:data:`PREDICTORS`)."""
    if name not in PREDICTORS:
        raise ValueError(f"unknown predictor {name!r}; choose from {', '.join(PREDICTORS)}")
    cls = PREDICTORS[name]
    return cls(seed=seed) if name in ("template", "learned") else cls()
