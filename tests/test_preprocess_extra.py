"""Resampling, length normalisation, start/end alignment, task coordinates, still-phase exclusion, gap
interpolation, smoothing and duplicate timestamps: analytic cases and invariants (hypothesis)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mouselab.preprocess import (
    align_start_end,
    exclude_finish,
    exclude_initiation,
    interpolate_gaps,
    length_normalize,
    remove_duplicate_timestamps,
    resample,
    smooth,
    time_normalize,
    to_task_coordinates,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def frame(trials: dict[str, tuple]) -> pl.DataFrame:
    return pl.concat([
        pl.DataFrame({"study": "s", "participant": "p", "session": "1", "trial": k,
                      "t_ms": np.asarray(t, float), "x": np.asarray(x, float), "y": np.asarray(y, float)})
        for k, (t, x, y) in trials.items()
    ])


@st.composite
def trajectories(draw) -> pl.DataFrame:
    trials = {}
    for i in range(draw(st.integers(1, 3))):
        n = draw(st.integers(2, 30))
        dt = draw(st.lists(st.integers(1, 40), min_size=n - 1, max_size=n - 1))
        steps = st.lists(st.integers(-30, 30), min_size=n - 1, max_size=n - 1)
        trials[f"t{i}"] = (np.concatenate([[0], np.cumsum(dt)]), np.concatenate([[0], np.cumsum(draw(steps))]),
                           np.concatenate([[0], np.cumsum(draw(steps))]))
    return frame(trials)


def test_resample_fixed_step_keeps_rt_and_interpolates_linearly() -> None:
    f = frame({"a": ([0, 7, 31, 45], [0, 7, 31, 45], [0, -14, -62, -90]), "b": ([5, 25], [1, 1], [2, 2])})
    r = resample(f, step_ms=10)
    a = r.filter(pl.col("trial") == "a")
    assert a["t_ms"].to_list() == [0, 10, 20, 30, 40, 45]
    np.testing.assert_allclose(a["x"], a["t_ms"])
    np.testing.assert_allclose(a["y"], -2 * a["t_ms"])
    assert r.filter(pl.col("trial") == "b")["t_ms"].to_list() == [5, 15, 25]
    assert resample(f, step_ms=10, include_last=False).filter(pl.col("trial") == "a")["t_ms"].to_list()[-1] == 40
    with pytest.raises(ValueError, match="step_ms"):
        resample(f, step_ms=0)


@SETTINGS
@given(trajectories(), st.integers(2, 40))
def test_length_normalize_points_are_equidistant_on_the_path(f: pl.DataFrame, n: int) -> None:
    ln = length_normalize(f, n_points=n)
    assert ln.height == n * f["trial"].n_unique()
    for trial, g in ln.group_by("trial"):
        src = f.filter(pl.col("trial") == trial[0])
        x, y = g["x"].to_numpy(), g["y"].to_numpy()
        assert (x[0], y[0]) == (src["x"][0], src["y"][0])
        assert x[-1] == pytest.approx(src["x"][-1]) and y[-1] == pytest.approx(src["y"][-1])
        total = float(np.hypot(np.diff(src["x"].to_numpy()), np.diff(src["y"].to_numpy())).sum())
        chords = np.hypot(np.diff(x), np.diff(y))
        assert chords.sum() <= total + 1e-6  # chords never exceed the path they cut
        if total > 0 and src.height == 2:  # a single segment: exactly equidistant
            np.testing.assert_allclose(chords, total / (n - 1), atol=1e-9)


def test_length_normalize_on_an_l_shaped_path() -> None:
    ln = length_normalize(frame({"L": ([0, 1, 2, 3], [0, 0, 100, 100], [0, 0, 0, 100])}), n_points=5)
    np.testing.assert_allclose(ln["x"], [0, 50, 100, 100, 100])
    np.testing.assert_allclose(ln["y"], [0, 0, 0, 50, 100])


def test_align_start_end_maps_every_trial_to_the_given_points() -> None:
    f = frame({"a": ([0, 1, 2], [10, 30, 60], [500, 300, 100]), "b": ([0, 1], [5, 5], [0, 10])})
    out = align_start_end(f)
    a = out.filter(pl.col("trial") == "a")
    assert (a["x"][0], a["y"][0], a["x"][-1], a["y"][-1]) == (0.0, 0.0, -1.0, 1.5)
    assert a["x"][1] == pytest.approx(-0.4) and a["y"][1] == pytest.approx(0.75)
    b = out.filter(pl.col("trial") == "b")  # no horizontal movement: x only translated
    assert b["x"].to_list() == [0.0, 0.0] and b["y"].to_list() == [0.0, 1.5]
    lazy = align_start_end(f.lazy(), start_x=1, start_y=1, end_x=2, end_y=2)
    assert isinstance(lazy, pl.LazyFrame) and lazy.collect().filter(pl.col("trial") == "a")["x"][-1] == 2.0


def test_task_coordinates_are_screen_independent() -> None:
    # the same movement on two screens: 100 px to the right, and 3x larger and rotated (upwards)
    f = frame({"small": ([0, 1, 2], [0, 50, 100], [0, 10, 0]), "big": ([0, 1, 2], [500, 470, 500], [900, 750, 600])})
    out = to_task_coordinates(f)
    s, b = out.filter(pl.col("trial") == "small"), out.filter(pl.col("trial") == "big")
    np.testing.assert_allclose(s["along"], [0, 0.5, 1])
    np.testing.assert_allclose(b["along"], [0, 0.5, 1])
    np.testing.assert_allclose(s["across"], [0, 0.1, 0], atol=1e-12)  # below the path on a y-down screen = right
    np.testing.assert_allclose(b["across"], [0, -0.1, 0], atol=1e-12)  # left of an upward movement
    geo = pl.DataFrame({"study": "s", "participant": "p", "session": "1", "trial": ["small"],
                        "start_x": [0.0], "start_y": [0.0], "target_x": [200.0], "target_y": [0.0]})
    with_geo = to_task_coordinates(f, geometry=geo, scale="px").filter(pl.col("trial") == "small")
    np.testing.assert_allclose(with_geo["along"], [0, 50, 100])


def test_exclude_initiation_and_finish() -> None:
    f = frame({"a": ([0, 10, 20, 30, 40, 50, 60], [5, 5, 5, 6, 8, 8, 8], [0, 0, 0, 1, 2, 2, 2]),
               "still": ([0, 10], [1, 1], [1, 1])})
    ini = exclude_initiation(f)
    assert ini.filter(pl.col("trial") == "a")["t_ms"].to_list() == [20, 30, 40, 50, 60]
    assert ini.filter(pl.col("trial") == "still")["t_ms"].to_list() == [10]
    reset = exclude_initiation(f, reset_time=True).filter(pl.col("trial") == "a")
    assert reset["t_ms"].to_list() == [0, 10, 20, 30, 40]
    fin = exclude_finish(f)
    assert fin.filter(pl.col("trial") == "a")["t_ms"].to_list() == [0, 10, 20, 30, 40]
    assert fin.filter(pl.col("trial") == "still")["t_ms"].to_list() == [0]


def test_interpolate_gaps_fills_only_long_gaps() -> None:
    f = frame({"a": ([0, 10, 60, 70], [0, 10, 60, 70], [0, 0, 0, 0])}).with_columns(pl.lit("move").alias("event"))
    out = interpolate_gaps(f, max_gap_ms=20, step_ms=10)
    assert out["t_ms"].to_list() == [0, 10, 20, 30, 40, 50, 60, 70]
    np.testing.assert_allclose(out["x"], out["t_ms"])
    assert out["interpolated"].to_list() == [False, False, True, True, True, True, False, False]
    assert out["event"].null_count() == 4
    assert interpolate_gaps(f, max_gap_ms=100, step_ms=10).height == 4


def test_savgol_keeps_polynomials_and_moving_average_flattens_noise() -> None:
    t = np.arange(0, 500, 10.0)
    x = 0.002 * (t - 200) ** 2
    f = frame({"a": (t, x, 3 * t)})
    sg = smooth(f, window_ms=70, method="savgol", polyorder=2)
    inner = slice(3, -3)  # away from the edges (padded with the edge sample)
    np.testing.assert_allclose(sg["x"].to_numpy()[inner], x[inner], atol=1e-9)
    np.testing.assert_allclose(sg["y"].to_numpy()[inner], 3 * t[inner], atol=1e-9)
    rng = np.random.default_rng(1)
    noisy = frame({"n": (t, 100 + rng.normal(0, 5, t.size), np.zeros_like(t))})
    ma = smooth(noisy, window_ms=90, method="moving_average")
    assert ma["x"].std() < 0.5 * noisy["x"].std()
    assert smooth(noisy, window_ms=4).equals(noisy)  # window below one sample: unchanged
    two = frame({"a": (t, x, 0 * t), "b": (t, x + 1000, 0 * t)})  # trials never mix
    both = smooth(two, window_ms=70)
    np.testing.assert_allclose(both["x"].to_numpy()[: t.size], sg["x"].to_numpy())


def test_remove_duplicate_timestamps_keeps_the_last_like_mousetrap() -> None:
    f = frame({"a": ([0, 10, 10, 10, 20], [0, 1, 2, 3, 4], [0, 0, 0, 0, 0])})
    out = remove_duplicate_timestamps(f)
    assert out["t_ms"].to_list() == [0, 10, 20] and out["x"].to_list() == [0, 3, 4]
    assert isinstance(remove_duplicate_timestamps(f.lazy()), pl.LazyFrame)


@SETTINGS
@given(trajectories(), st.integers(1, 50))
def test_resample_then_time_normalize_is_consistent(f: pl.DataFrame, step: int) -> None:
    r = resample(f, step_ms=step)
    for trial, g in r.group_by("trial"):
        src = f.filter(pl.col("trial") == trial[0])
        assert g["t_ms"][0] == src["t_ms"][0] and g["t_ms"][-1] == src["t_ms"][-1]
        assert (np.diff(g["t_ms"].to_numpy()) > 0).all()
        # resampled points lie on the original polyline: interpolating back at the original times is exact
        assert g["x"].min() >= src["x"].min() - 1e-9 and g["x"].max() <= src["x"].max() + 1e-9
    assert time_normalize(r, n_steps=5).height == 5 * f["trial"].n_unique()
