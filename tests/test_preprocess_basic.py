"""Time normalisation, remapping and alignment on small hand-made trajectories."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mouselab.preprocess import align_start, remap_symmetric, time_normalize


def frame(trials: dict[str, tuple[list[float], list[float], list[float]]]) -> pl.DataFrame:
    return pl.concat([
        pl.DataFrame({"study": "s", "participant": "p", "session": "1", "trial": k,
                      "t_ms": np.asarray(t, float), "x": np.asarray(x, float), "y": np.asarray(y, float)})
        for k, (t, x, y) in trials.items()
    ])


def test_time_normalize_linear_motion_and_irregular_sampling() -> None:
    t = [0.0, 3.0, 50.0, 51.0, 100.0]
    samples = frame({"a": (t, [2 * v for v in t], [-v for v in t]), "b": ([10.0, 30.0], [0.0, 10.0], [5.0, 5.0])})
    tn = time_normalize(samples, n_steps=11)
    assert tn.height == 22
    a = tn.filter(pl.col("trial") == "a")
    assert a["step"].to_list() == list(range(1, 12))
    np.testing.assert_allclose(a["t_ms"], np.linspace(0, 100, 11))
    np.testing.assert_allclose(a["x"], 2 * np.linspace(0, 100, 11))
    np.testing.assert_allclose(a["y"], -np.linspace(0, 100, 11))
    b = tn.filter(pl.col("trial") == "b")
    np.testing.assert_allclose(b["t_ms"], np.linspace(10, 30, 11))
    np.testing.assert_allclose(b["x"], np.linspace(0, 10, 11))
    assert b["x"][0] == 0.0 and b["x"][-1] == 10.0  # exact ends


def test_time_normalize_single_sample_trial_and_lazy_input() -> None:
    samples = frame({"one": ([5.0], [1.0], [2.0])})
    tn = time_normalize(samples.lazy(), n_steps=4)
    assert tn["x"].to_list() == [1.0] * 4 and tn["t_ms"].to_list() == [5.0] * 4


def test_time_normalize_rejects_bad_input() -> None:
    samples = frame({"a": ([0.0, 1.0], [0.0, 1.0], [0.0, 1.0])})
    with pytest.raises(ValueError, match="n_steps"):
        time_normalize(samples, n_steps=0)
    with pytest.raises(ValueError, match="'t_ms'"):
        time_normalize(samples.drop("t_ms"))
    with pytest.raises(ValueError, match="timestamp"):
        time_normalize(frame({"a": ([0.0, 1.0, 0.5], [0.0] * 3, [0.0] * 3)}))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=30), st.integers(2, 120), st.data())
def test_time_normalize_stays_within_the_bounding_box(dts: list[int], n_steps: int, data) -> None:
    t = np.concatenate([[0], np.cumsum(dts)]).astype(float)
    x = data.draw(st.lists(st.integers(-100, 100), min_size=t.size, max_size=t.size))
    tn = time_normalize(frame({"a": (t, x, x)}), n_steps=n_steps)
    assert tn.height == n_steps
    assert tn["x"].min() >= min(x) - 1e-9 and tn["x"].max() <= max(x) + 1e-9
    assert tn["x"][0] == x[0] and tn["x"][-1] == x[-1]
    assert (tn["t_ms"].diff().drop_nulls() >= 0).all()


def test_remap_symmetric_uses_the_last_point_of_each_trial() -> None:
    samples = frame({
        "right_down": ([0.0, 1.0, 2.0], [0.0, 5.0, 10.0], [0.0, -3.0, -6.0]),
        "left_up": ([0.0, 1.0], [0.0, -4.0], [0.0, 4.0]),
    })
    out = remap_symmetric(samples)
    assert out["x"].to_list() == [0.0, -5.0, -10.0, 0.0, -4.0]
    assert out["y"].to_list() == [0.0, 3.0, 6.0, 0.0, 4.0]
    right = remap_symmetric(samples, remap_x="right", remap_y="no")
    assert right["x"].to_list() == [0.0, 5.0, 10.0, 0.0, 4.0]
    assert right["y"].to_list() == samples["y"].to_list()
    with pytest.raises(ValueError, match="remap_x"):
        remap_symmetric(samples, remap_x="up")
    with pytest.raises(ValueError, match="'y'"):
        remap_symmetric(samples.drop("y"))


def test_align_start_translates_each_trial() -> None:
    samples = frame({"a": ([0.0, 1.0], [10.0, 12.0], [5.0, 1.0]), "b": ([0.0, 1.0], [-3.0, -3.0], [2.0, 7.0])})
    out = align_start(samples)
    assert out["x"].to_list() == [0.0, 2.0, 0.0, 0.0]
    assert out["y"].to_list() == [0.0, -4.0, 0.0, 5.0]
    shifted = align_start(samples.lazy(), start_x=100.0, start_y=-1.0).collect()
    assert shifted["x"].to_list() == [100.0, 102.0, 100.0, 100.0]
