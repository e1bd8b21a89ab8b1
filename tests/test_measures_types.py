"""Trajectory types: prototypes map to themselves, distorted copies map back, screen coordinates are
normalised (mirrored and y-down trials included), Ward clustering recovers planted groups."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mouselab.measures import PROTOTYPE_NAMES, cluster_trajectories, compute_measures, map_prototypes, prototype_shapes


def to_screen(xy: np.ndarray, *, mirror: bool, scale: float = 300.0) -> tuple[np.ndarray, np.ndarray]:
    """mt frame (y up, end top-left) -> y-down screen pixels around (640, 700), optionally ending to the right."""
    x = xy[:, 0] * (-1 if mirror else 1)
    return 640 + scale * x, 700 - scale * xy[:, 1]


def trials_frame(shapes: dict[str, np.ndarray]) -> pl.DataFrame:
    return pl.concat([
        pl.DataFrame({"study": "s", "participant": "p", "session": "1", "trial": k,
                      "t_ms": np.arange(len(x)) * 10.0, "x": x, "y": y})
        for k, (x, y) in shapes.items()
    ])


def test_every_prototype_maps_to_itself_on_screen_and_mirrored() -> None:
    protos = prototype_shapes(50)
    rng = np.random.default_rng(5)
    shapes = {}
    for name, xy in protos.items():
        for mirror in (False, True):
            x, y = to_screen(xy, mirror=mirror)
            shapes[f"{name}|{mirror}"] = (np.round(x + rng.normal(0, 3, x.size)), np.round(y + rng.normal(0, 3, y.size)))
    out = map_prototypes(trials_frame(shapes))
    got = dict(zip(out["trial"], out["prototype"]))
    assert all(got[k] == k.split("|")[0] for k in shapes), got
    assert set(out.columns) >= {"prototype_distance", *[f"dist_{n}" for n in PROTOTYPE_NAMES]}
    # the registered trial measure gives the same labels
    reg = compute_measures(trials_frame(shapes), measures=["prototype", "prototype_distance"])
    assert reg["prototype"].to_list() == out["prototype"].to_list()
    np.testing.assert_allclose(reg["prototype_distance"], out["prototype_distance"])


def test_distance_is_zero_for_an_exact_prototype() -> None:
    xy = prototype_shapes(20)["straight"]
    out = map_prototypes(trials_frame({"s": (xy[:, 0], xy[:, 1])}), n_points=20)
    assert out["prototype"][0] == "straight" and out["prototype_distance"][0] == pytest.approx(0.0, abs=1e-9)
    # a densely sampled prototype with a corner: re-normalised points differ only by cutting the corner
    dense = prototype_shapes(400)["discrete_com"]
    out = map_prototypes(trials_frame({"d": (dense[:, 0], dense[:, 1])}), n_points=20)
    assert out["prototype"][0] == "discrete_com" and out["prototype_distance"][0] < 0.05


def test_ward_clustering_recovers_two_planted_groups_and_picks_k() -> None:
    protos = prototype_shapes(40)
    rng = np.random.default_rng(9)
    shapes, truth = {}, {}
    for i in range(30):
        name = "straight" if i % 3 else "discrete_com"
        x, y = to_screen(protos[name], mirror=bool(i % 2))
        shapes[f"t{i:02d}"] = (x + rng.normal(0, 4, x.size), y + rng.normal(0, 4, y.size))
        truth[f"t{i:02d}"] = name
    assignments, selection = cluster_trajectories(trials_frame(shapes), k_max=6)
    assert selection.filter(pl.col("chosen"))["k"][0] == 2
    assert selection["silhouette"].max() > 0.5
    labels = dict(zip(assignments["trial"], assignments["cluster"]))
    by_cluster = {c: {truth[t] for t in labels if labels[t] == c} for c in set(labels.values())}
    assert all(len(v) == 1 for v in by_cluster.values())  # pure clusters
    assert labels["t01"] == 1  # cluster 1 is the larger one (straight: 20 of 30)
    fixed, sel = cluster_trajectories(trials_frame(shapes), k=3)
    assert fixed["cluster"].n_unique() == 3 and sel.height == 1
    with pytest.raises(ValueError, match="at least 3"):
        cluster_trajectories(trials_frame({"a": shapes["t00"], "b": shapes["t01"]}))
