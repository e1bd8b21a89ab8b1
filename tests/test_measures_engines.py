"""The compiled (numba) and NumPy engines agree; the streaming passes (MeasureRun) give the same results as
one call whatever the chunking; the pooled sample-entropy tolerance is combined exactly."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mouselab.measures import PRESETS, MeasureRun, compute_measures
from mouselab.measures._kernels import kernels
from mouselab.measures.compute import chunk_from_frame, exact_pooled_sd

needs_numba = pytest.mark.skipif(kernels() is None, reason="numba not installed (pip install 'mouselab[fast]')")


def random_trials(seed: int, n_trials: int = 60) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_trials):
        n = int(rng.integers(1, 120))
        frames.append(pl.DataFrame({
            "study": "s", "participant": f"p{i % 3}", "session": "1", "trial": f"t{i:03d}",
            "t_ms": np.cumsum(rng.integers(1, 25, n)).astype(float) - float(rng.integers(0, 30)),
            "x": np.cumsum(rng.integers(-6, 7, n)).astype(float),
            "y": np.cumsum(rng.integers(-3, 9, n)).astype(float) * rng.choice([-1.0, 1.0]),
        }))
    return pl.concat(frames).sort("participant", "trial", maintain_order=True)


def assert_close(a: pl.DataFrame, b: pl.DataFrame, *, rel: float = 1e-9) -> None:
    assert a.columns == b.columns and a.height == b.height
    for c in a.columns:
        if a[c].dtype.is_numeric():
            x, y = a[c].cast(pl.Float64).to_numpy(), b[c].cast(pl.Float64).to_numpy()
            np.testing.assert_allclose(x, y, rtol=rel, atol=1e-9, equal_nan=True, err_msg=c)
        else:
            assert a[c].to_list() == b[c].to_list(), c


@needs_numba
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_numba_and_numpy_engines_agree(seed: int) -> None:
    f = random_trials(seed)
    assert_close(compute_measures(f, preset="all", engine="numba"), compute_measures(f, preset="all", engine="numpy"))
    for threshold in (0.0, 2.5):
        assert_close(compute_measures(f, engine="numba", flip_threshold_px=threshold),
                     compute_measures(f, engine="numpy", flip_threshold_px=threshold))


@needs_numba
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000))
def test_engines_agree_on_random_data(seed: int) -> None:
    f = random_trials(seed, n_trials=5)
    assert_close(compute_measures(f, engine="numba"), compute_measures(f, engine="numpy"))


def test_time_order_errors_name_the_row_in_both_engines() -> None:
    f = pl.DataFrame({"study": "s", "participant": "p", "session": "1", "trial": "a",
                      "t_ms": [0.0, 10.0, 10.0], "x": [0.0, 1.0, 2.0], "y": [0.0, 0.0, 0.0]})
    for engine in ("numpy", "auto"):
        with pytest.raises(ValueError, match="row 3.*duplicate timestamp"):
            compute_measures(f, engine=engine)


def test_exact_pooled_sd_does_not_depend_on_grouping() -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(-2.0, 3.0, 10_000)  # like time-normalised differences: mean and SD of similar size
    want = float(np.std(values, ddof=1))
    results = set()
    for cuts in ([5_000], [1, 2, 3, 9_999], list(range(100, 10_000, 700))):
        parts = np.split(values, cuts)
        sums = [np.array([[p.sum(), (p * p).sum()]]) for p in parts]
        results.add(exact_pooled_sd(sums, values.size))
        results.add(exact_pooled_sd(sums[::-1], values.size))
    assert len({round(r, 12) for r in results}) == 1
    assert next(iter(results)) == pytest.approx(want, rel=1e-12)
    assert math.isnan(exact_pooled_sd([np.array([[1.0, 1.0]])], 1))
    # a large mean costs accuracy (the group sums are rounded) but never the independence of the grouping
    far = values + 1e3
    sums = [np.array([[p.sum(), (p * p).sum()]]) for p in np.split(far, [4000])]
    assert exact_pooled_sd(sums, far.size) == pytest.approx(float(np.std(far, ddof=1)), rel=1e-9)


@pytest.mark.parametrize("engine", ["numpy", "auto"])
def test_streaming_passes_equal_one_call_whatever_the_chunking(engine: str) -> None:
    f = random_trials(8, n_trials=45)
    whole = compute_measures(f, preset="all", engine=engine)
    run = MeasureRun.create(preset="all", engine=engine)
    partials, chunks = [], []
    for (p,), part in f.partition_by("participant", as_dict=True, maintain_order=True).items():
        chunk = chunk_from_frame(part.drop("study", "participant"), keys=["session", "trial"],
                                 constant_keys={"study": "s", "participant": p})
        chunks.append(chunk)
        partials.append(run.first_pass(chunk, keep_diffs=p != "p1"))  # p1 re-computes its differences
    r = run.tolerance(partials[::-1])  # order does not matter
    values = [run.finish_values(pa, r=r, diffs=None if pa.diffs is not None else run.entropy_diffs(ch))
              for pa, ch in zip(partials, chunks)]
    streamed = run.assemble([pa.keys for pa in partials], values, [pa.constants for pa in partials])
    order = ["study", "participant", "session", "trial"]
    assert streamed.sort(order).equals(whole.sort(order))


def test_unknown_or_session_level_names_are_refused() -> None:
    f = random_trials(1, n_trials=2)
    with pytest.raises(ValueError, match="unknown measure"):
        compute_measures(f, measures=["nope"])
    with pytest.raises(ValueError, match="session-level"):
        compute_measures(f, measures=["click_rate_per_min"])
    with pytest.raises(ValueError, match="unknown measure parameter"):
        compute_measures(f, params={"hover_threshold": 3})
    with pytest.raises(ValueError, match="hover_threshold_ms"):
        compute_measures(f, params={"hover_threshold_ms": "soon"})
    with pytest.raises(ValueError, match="engine"):
        compute_measures(f, engine="gpu")
    assert PRESETS["mousetrap"][-1] == "sample_entropy"
