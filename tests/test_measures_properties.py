"""Property tests (hypothesis) for invariants of the measures and the time normalisation."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from mouselab.measures import compute_measures, sample_measures

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GEOMETRY = ["MAD", "MD_above", "MD_below", "AD", "AUC", "total_dist"]


@st.composite
def trajectories(draw, *, min_trials: int = 1, max_trials: int = 4) -> pl.DataFrame:
    """1-4 trials of 2-40 samples: strictly increasing integer-ms times, integer pixel coordinates."""
    frames = []
    for i in range(draw(st.integers(min_trials, max_trials))):
        n = draw(st.integers(2, 40))
        dt = draw(st.lists(st.integers(1, 30), min_size=n - 1, max_size=n - 1))
        steps = st.lists(st.integers(-40, 40), min_size=n - 1, max_size=n - 1)
        x0, y0 = draw(st.integers(-500, 500)), draw(st.integers(-500, 500))
        frames.append(pl.DataFrame({
            "study": "s", "participant": "p", "session": "1", "trial": f"t{i}",
            "t_ms": np.concatenate([[0], np.cumsum(dt)]).astype(float),
            "x": (x0 + np.concatenate([[0], np.cumsum(draw(steps))])).astype(float),
            "y": (y0 + np.concatenate([[0], np.cumsum(draw(steps))])).astype(float),
        }))
    return pl.concat(frames)


def _close(a: pl.Series, b: pl.Series, *, rel: float = 1e-9, abs_: float = 1e-6) -> bool:
    return all(
        (math.isnan(u) and math.isnan(v)) or math.isclose(u, v, rel_tol=rel, abs_tol=abs_)
        for u, v in zip(a.cast(pl.Float64).to_list(), b.cast(pl.Float64).to_list())
    )


@SETTINGS
@given(trajectories(), st.integers(-2000, 2000), st.integers(-2000, 2000))
def test_translation_invariance(frame: pl.DataFrame, dx: int, dy: int) -> None:
    moved = frame.with_columns(pl.col("x") + dx, pl.col("y") + dy)
    a = compute_measures(frame, measures=GEOMETRY)
    b = compute_measures(moved, measures=GEOMETRY)
    for name in ["MD_above", "MD_below", "AD", "AUC", "total_dist"]:
        assert _close(a[name], b[name]), name
    # MAD is the signed deviation at the first largest |deviation|: its size is invariant; its sign may only
    # differ where a deviation of the other sign ties with it to rounding
    assert _close(a["MAD"].abs(), b["MAD"].abs())
    for mad, above, below in zip(b["MAD"], b["MD_above"], b["MD_below"]):
        assert math.isclose(mad, above, abs_tol=1e-6) or math.isclose(mad, below, abs_tol=1e-6)


@SETTINGS
@given(trajectories())
def test_mirroring_x_keeps_mousetrap_signs(frame: pl.DataFrame) -> None:
    """mousetrap signs deviations by y: positive = above the direct path (the projection lies below the point;
    all signs flipped when the trial ends below its start). A left-right mirror image therefore keeps the
    signed MAD, AD and AUC -- which is what lets remap_symmetric pool left and right responses."""
    mirrored = frame.with_columns(-pl.col("x"))
    a = compute_measures(frame, measures=GEOMETRY + ["xpos_flips", "ypos_flips"])
    b = compute_measures(mirrored, measures=GEOMETRY + ["xpos_flips", "ypos_flips"])
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)


@SETTINGS
@given(trajectories(), st.data())
def test_reflecting_across_a_horizontal_direct_path_flips_signs(frame: pl.DataFrame, data) -> None:
    """With start and end at the same y the direct path is horizontal; reflecting y about it moves every
    point to the other side of the path: MAD, AD and AUC change sign, MD_above and MD_below swap."""
    y_end = pl.col("y").last().over("trial")
    level = frame.with_columns((pl.col("y") - y_end).alias("y"))
    level = level.with_columns(
        pl.when(pl.col("t_ms") == pl.col("t_ms").first().over("trial")).then(0.0).otherwise(pl.col("y")).alias("y")
    )
    reflected = level.with_columns(-pl.col("y"))
    a = compute_measures(level, measures=GEOMETRY)
    b = compute_measures(reflected, measures=GEOMETRY)
    for name in ["AD", "AUC"]:
        assert _close(a[name], -b[name]), name
    assert _close(a["MAD"].abs(), b["MAD"].abs())
    assert _close(a["MD_above"], -b["MD_below"]) and _close(a["MD_below"], -b["MD_above"])


@SETTINGS
@given(trajectories())
def test_total_distance_at_least_straight_distance(frame: pl.DataFrame) -> None:
    out = compute_measures(frame, measures=["total_dist", "path_efficiency"])
    ends = frame.group_by("trial", maintain_order=True).agg(
        ((pl.col("x").last() - pl.col("x").first()) ** 2 + (pl.col("y").last() - pl.col("y").first()) ** 2)
        .sqrt()
        .alias("straight")
    )
    for total, straight, eff in zip(out["total_dist"], ends["straight"], out["path_efficiency"]):
        assert total >= straight - 1e-9
        assert 0.0 <= eff <= 1.0


@SETTINGS
@given(trajectories())
def test_eager_and_lazy_inputs_agree(frame: pl.DataFrame) -> None:
    assert_frame_equal(compute_measures(frame, preset="all"), compute_measures(frame.lazy(), preset="all"))


@SETTINGS
@given(trajectories(min_trials=1, max_trials=2))
def test_per_sample_consistency(frame: pl.DataFrame) -> None:
    per_sample = sample_measures(frame)
    trials = compute_measures(frame, measures=["total_dist", "vel_max", "AD"])
    sums = per_sample.group_by("trial", maintain_order=True).agg(
        pl.col("dist").sum(), pl.col("vel").max(), pl.col("dev_ideal").mean()
    )
    assert _close(sums["dist"], trials["total_dist"])
    assert _close(sums["vel"], trials["vel_max"])
    assert _close(sums["dev_ideal"], trials["AD"])
