"""Trajectory types: mapping to canonical prototypes (mousetrap's ``mt_map`` with ``mt_prototypes``) and
data-driven clustering (Ward's method on aligned, length-normalised trajectories).

The frame of reference is mousetrap's ``"mt"`` coordinates: every trajectory starts at (0, 0) and ends
at the chosen option (-1, 1.5); the competing option sits at (1, 1.5) (y up). Trajectories are brought
there with :func:`mouselab.preprocess.align_start_end` (per-axis scaling, which also mirrors trials that end
to the right or downwards), then re-represented by ``n_points`` points equidistant along the path
(:func:`mouselab.preprocess.length_normalize`).

The five prototypes are defined here from their documented shapes (Wulff, Haslbeck, Kieslich, Henninger
& Schulte-Mecklenbeck, 2019; Wulff et al., 2023, mousetrap's ``mt_prototypes``) -- they are not copies
of mousetrap's arrays, so assignments can differ from mousetrap's for borderline trajectories:

* ``straight``: the direct line from start to the chosen option;
* ``mild_curvature``: a shallow arc bowing towards the competitor (largest deviation 0.2 of the direct
  path's length);
* ``continuous_com``: continuous change of mind -- a wide arc that first heads to the competitor side
  (crossing the midline) and bends smoothly over to the chosen option;
* ``discrete_com``: discrete change of mind -- straight towards the competitor up to 80 % of the height,
  then an abrupt, straight switch to the chosen option;
* ``double_discrete_com``: double discrete change of mind -- towards the chosen option, abruptly to the
  competitor, abruptly back to the chosen option.

Mapping (as ``mt_map``): the distance of a trajectory to a prototype is the sum over the ``n_points`` of
the Euclidean distances between corresponding points (``mt_distmat(pointwise = TRUE)``); a trajectory is
assigned to the nearest prototype.

Clustering (as ``mt_cluster(method = "hclust")``): Ward's minimum-variance linkage (scipy) on the
flattened aligned, length-normalised trajectories; the number of clusters k is chosen, unless given, by
the largest mean silhouette width (Rousseeuw, 1987) over k = 2 .. ``k_max`` -- a stated, data-driven
criterion (mousetrap's ``mt_cluster_k`` offers stability / gap / jump / slope instead).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mouselab.preprocess._frames import (
    TRIAL_KEY,
    FrameLike,
    Segments,
    as_float_array,
    collect_columns,
    trial_keys_frame,
    trial_segments,
)
from mouselab.preprocess.normalize import length_normalize_arrays

#: mousetrap's "mt" frame: start, chosen option, competing option.
START, END, COMPETITOR = (0.0, 0.0), (-1.0, 1.5), (1.0, 1.5)
PROTOTYPE_NAMES = ("straight", "mild_curvature", "continuous_com", "discrete_com", "double_discrete_com")


def _curve(points: np.ndarray, n: int = 400) -> np.ndarray:
    """A densely sampled polyline through ``points`` (k, 2)."""
    seg = np.linspace(0, 1, n)[:, None]
    parts = [points[i] + seg * (points[i + 1] - points[i]) for i in range(len(points) - 1)]
    return np.concatenate(parts)


def _bezier(ctrl: np.ndarray, n: int = 400) -> np.ndarray:
    """Cubic Bezier curve through the 4 control points ``ctrl`` (4, 2)."""
    s = np.linspace(0, 1, n)[:, None]
    p0, p1, p2, p3 = ctrl
    return (1 - s) ** 3 * p0 + 3 * (1 - s) ** 2 * s * p1 + 3 * (1 - s) * s**2 * p2 + s**3 * p3


def _arc(bulge: float, n: int = 400) -> np.ndarray:
    """Path from START to END whose perpendicular offset is ``bulge * L * sin(pi s)`` towards the competitor."""
    s = np.linspace(0, 1, n)
    p0, p1 = np.array(START), np.array(END)
    d = p1 - p0
    length = np.hypot(*d)
    normal = np.array([d[1], -d[0]]) / length  # points to the right of start->end = competitor side
    return p0 + s[:, None] * d + (bulge * length * np.sin(np.pi * s))[:, None] * normal


def prototype_shapes(n_points: int = 20) -> dict[str, np.ndarray]:
    """The five prototypes as (n_points, 2) arrays in the mt frame (length-normalised)."""
    dense = {
        "straight": _curve(np.array([START, END])),
        "mild_curvature": _arc(0.2),
        "continuous_com": _bezier(np.array([START, (1.1, 0.6), (0.6, 1.6), END])),
        "discrete_com": _curve(np.array([START, (0.8, 1.2), END])),
        "double_discrete_com": _curve(np.array([START, (-0.7, 0.8), (0.8, 1.2), END])),
    }
    out = {}
    for name, xy in dense.items():
        x, y = xy[:, 0].copy(), xy[:, 1].copy()
        segs = Segments(starts=np.zeros(1, dtype=np.int64), lengths=np.array([x.size], dtype=np.int64))
        lx, ly = length_normalize_arrays(x, y, segs, n_points=n_points)
        out[name] = np.stack([lx[0], ly[0]], axis=1)
    return out


def normalized_shapes(samples: FrameLike, *, n_points: int = 20) -> tuple[pl.DataFrame, np.ndarray]:
    """Trial keys and (n_trials, n_points, 2) aligned, length-normalised trajectories in the mt frame."""
    frame = collect_columns(samples, TRIAL_KEY + ("x", "y"))
    segs = trial_segments(frame)
    x, y = as_float_array(frame, "x"), as_float_array(frame, "y")
    return trial_keys_frame(frame, segs), shapes_from_arrays(x, y, segs, n_points=n_points)


def shapes_from_arrays(x: np.ndarray, y: np.ndarray, segs: Segments, *, n_points: int = 20) -> np.ndarray:
    """NumPy core of :func:`normalized_shapes`: (n_trials, n_points, 2)."""
    if segs.n_trials == 0:
        return np.zeros((0, n_points, 2))
    b = segs.broadcast
    out = []
    for v, a, z in ((x, START[0], END[0]), (y, START[1], END[1])):
        first, last = v[segs.starts], v[segs.lasts]
        span = last - first
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(span != 0, (z - a) / span, 1.0)
        out.append((v - b(first)) * b(scale) + a)
    lx, ly = length_normalize_arrays(out[0], out[1], segs, n_points=n_points)
    return np.stack([lx, ly], axis=2)


def prototype_distances(shapes: np.ndarray, prototypes: dict[str, np.ndarray]) -> np.ndarray:
    """(n_trials, n_prototypes) sums of pointwise Euclidean distances (``mt_distmat(pointwise = TRUE)``)."""
    if shapes.shape[0] == 0:
        return np.zeros((0, len(prototypes)))
    return np.stack([np.sqrt(((shapes - p[None]) ** 2).sum(axis=2)).sum(axis=1) for p in prototypes.values()],
                    axis=1)


def map_prototypes(
    samples: FrameLike,
    *,
    n_points: int = 20,
    prototypes: dict[str, np.ndarray] | None = None,
) -> pl.DataFrame:
    """Assign every trajectory to the nearest prototype (mousetrap's ``mt_map``).

    Returns the trial keys, ``prototype`` (name), ``prototype_distance`` (sum of pointwise Euclidean
    distances to it, in units of the mt frame) and one ``dist_<name>`` column per prototype.
    ``prototypes`` (name -> (n_points, 2) array in the mt frame) replaces the default five.
    """
    keys, shapes = normalized_shapes(samples, n_points=n_points)
    protos = prototypes if prototypes is not None else prototype_shapes(n_points)
    names = list(protos)
    dists = prototype_distances(shapes, protos)
    best = np.argmin(dists, axis=1) if dists.shape[0] else np.zeros(0, dtype=np.int64)
    return keys.with_columns(
        pl.Series("prototype", np.asarray(names, dtype=object)[best] if best.size else [], dtype=pl.String),
        pl.Series("prototype_distance", dists[np.arange(best.size), best] if best.size else np.zeros(0)),
        *[pl.Series(f"dist_{nm}", dists[:, i]) for i, nm in enumerate(names)],
    )


def silhouette(data: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette width (Rousseeuw, 1987) of a clustering with Euclidean distances (O(n²) memory)."""
    from scipy.spatial.distance import pdist, squareform

    d = squareform(pdist(data))
    uniq = np.unique(labels)
    if uniq.size < 2:
        return float("nan")
    n = data.shape[0]
    sums = np.stack([d[:, labels == c].sum(axis=1) for c in uniq], axis=1)
    sizes = np.array([(labels == c).sum() for c in uniq], dtype=float)
    own = np.searchsorted(uniq, labels)
    own_size = sizes[own]
    with np.errstate(invalid="ignore", divide="ignore"):
        a = sums[np.arange(n), own] / (own_size - 1)
        other = sums / sizes[None, :]
        other[np.arange(n), own] = np.inf
        b = other.min(axis=1)
        s = (b - a) / np.maximum(a, b)
    s = np.where(own_size > 1, s, 0.0)
    return float(np.nanmean(s))


def cluster_trajectories(
    samples: FrameLike,
    *,
    k: int | None = None,
    k_max: int = 8,
    n_points: int = 20,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Ward clustering of aligned, length-normalised trajectories (mousetrap's ``mt_cluster``).

    With ``k`` None, k is the value in 2..``k_max`` with the largest mean silhouette width. Returns
    ``(assignments, selection)``: the trial keys with ``cluster`` (1..k, numbered by decreasing size), and
    one row per candidate k with its ``silhouette`` and whether it was ``chosen``. Deterministic (no
    randomness). Memory grows with the square of the number of trials (pairwise distances).
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    keys, shapes = normalized_shapes(samples, n_points=n_points)
    n = shapes.shape[0]
    data = shapes.reshape(n, -1)
    if n < 3:
        raise ValueError(f"clustering needs at least 3 trajectories, got {n}")
    tree = linkage(data, method="ward")
    candidates = [k] if k is not None else list(range(2, max(2, min(k_max, n - 1)) + 1))
    scores = []
    labels_by_k = {}
    for kk in candidates:
        labels = fcluster(tree, t=kk, criterion="maxclust")
        labels_by_k[kk] = labels
        scores.append(silhouette(data, labels) if k is None else float("nan"))
    chosen = candidates[int(np.nanargmax(scores))] if k is None else k
    labels = labels_by_k[chosen]
    # renumber clusters by decreasing size (ties: first appearance)
    uniq, counts = np.unique(labels, return_counts=True)
    order = uniq[np.lexsort((uniq, -counts))]
    relabel = {int(c): i + 1 for i, c in enumerate(order)}
    cluster = np.array([relabel[int(c)] for c in labels], dtype=np.int32)
    selection = pl.DataFrame({"k": candidates, "silhouette": scores, "chosen": [c == chosen for c in candidates]})
    return keys.with_columns(pl.Series("cluster", cluster)), selection


def _mapped(ctx) -> tuple[np.ndarray, np.ndarray]:
    n_points = int(ctx.param("prototype_n_points"))
    protos = prototype_shapes(n_points)
    d = prototype_distances(shapes_from_arrays(ctx.x, ctx.y, ctx.segs, n_points=n_points), protos)
    best = np.argmin(d, axis=1) if d.shape[0] else np.zeros(0, dtype=np.int64)
    return np.asarray(list(protos), dtype=object)[best], d[np.arange(best.size), best]


def prototype(ctx) -> np.ndarray:
    """Name of the nearest of the five trajectory prototypes (see the module docstring; mousetrap ``mt_map``)."""
    return ctx.cached("prototype", _mapped)[0]


def prototype_distance(ctx) -> np.ndarray:
    """Sum of pointwise distances to the nearest prototype (mt-frame units; small = typical shape)."""
    return ctx.cached("prototype", _mapped)[1]
