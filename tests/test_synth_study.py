"""The synthetic sample study: contract, design, planted effects and the committed store.

The planted effects are measured here with small, independent computations written in this file
(deliberately not with mouselab.measures), so the generator cannot be tuned against its own metric.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mouselab.schema import TABLES, conform, validate_samples_order
from mouselab.store import Store
from mouselab.synth import APP_CATEGORIES, LAYOUT, build_sample_study

COMMITTED = Path(__file__).resolve().parents[1] / "data" / "sample" / "store"
TABLE_NAMES = ("samples", "events", "trials", "participants")


@pytest.fixture(scope="module")
def study() -> dict[str, pl.DataFrame]:
    return build_sample_study()


@pytest.fixture(scope="module")
def per_trial(study) -> pl.DataFrame:
    return _per_trial_measures(study["samples"], study["trials"])


# ------------------------------------------------------------------------- independent measures
def _per_trial_measures(samples: pl.DataFrame, trials: pl.DataFrame) -> pl.DataFrame:
    """Initiation time, MAD, x-flips and micro-hesitations per trial, computed from first principles."""
    info = {r["trial"]: r for r in trials.iter_rows(named=True)}
    rows = []
    trial_samples = samples.filter(pl.col("trial").is_not_null()).sort("trial", "t_ms")
    for (trial,), g in trial_samples.group_by(["trial"], maintain_order=True):
        t, x, y = (g[c].to_numpy() for c in ("t_ms", "x", "y"))
        r = info[trial]
        # initiation time: first time the cursor leaves its start position
        left = (x != x[0]) | (y != y[0])
        initiation = t[np.argmax(left)]
        # MAD: signed maximum perpendicular distance from the straight start-end line,
        # positive on the side of the competing (non-chosen) box
        competitor_x = LAYOUT["left"].x if r["response"] == "right" else LAYOUT["right"].x
        lx, ly = x[-1] - x[0], y[-1] - y[0]
        dist = ((x - x[0]) * ly - (y - y[0]) * lx) / np.hypot(lx, ly)
        side = np.sign((competitor_x - x[0]) * ly - (r["target_y"] - y[0]) * lx)
        dist = dist * side
        mad = dist[np.argmax(np.abs(dist))]
        # x-flips: sign changes of the non-zero horizontal steps
        dx = np.diff(x)
        dx = dx[dx != 0]
        xflips = int(np.sum(np.sign(dx[1:]) != np.sign(dx[:-1])))
        # micro-hesitations: the cursor stays still >= 100 ms between its first and its last movement
        moves = np.flatnonzero((np.diff(x) != 0) | (np.diff(y) != 0))  # step k goes from sample k to k+1
        still = t[moves[1:]] - t[moves[:-1] + 1]
        hesitations = int(np.sum(still >= 100.0))
        rows.append({
            "trial": trial, "participant": r["participant"], "condition": r["condition"],
            "initiation_ms": float(initiation), "mad_px": float(mad), "xflips": xflips,
            "hesitations": hesitations, "error": float(not r["correct"]),
        })
    return pl.DataFrame(rows)


# ------------------------------------------------------------------------- contract
def test_frames_conform_to_the_contract(study):
    assert set(study) == set(TABLE_NAMES)
    for name in TABLE_NAMES:
        frame = study[name]
        assert frame.columns[: len(TABLES[name].names)] == TABLES[name].names
        assert_frame_equal(conform(frame, name), frame)
    assert study["trials"].columns == TABLES["trials"].names  # no extra columns
    validate_samples_order(study["samples"])


def test_t_ms_strictly_increasing_per_trial_and_session(study):
    steps = study["samples"].with_columns(pl.col("t_ms").diff().over("participant", "session", "trial").alias("dt"))
    assert steps["dt"].drop_nulls().min() > 0


def test_determinism_same_seed_identical_different_seed_differs():
    a = build_sample_study(seed=7, n_participants=4, trials_per_condition=5)
    b = build_sample_study(seed=7, n_participants=4, trials_per_condition=5)
    c = build_sample_study(seed=8, n_participants=4, trials_per_condition=5)
    for name in TABLE_NAMES:
        assert_frame_equal(a[name], b[name])
    assert not a["samples"].equals(c["samples"])
    assert not a["trials"].equals(c["trials"])


# ------------------------------------------------------------------------- design
def test_design_counts_and_ids(study):
    trials = study["trials"]
    assert trials.height == 30 * 40
    assert trials["trial"].n_unique() == trials.height
    assert trials["trial"][0] == "P01-t001" and set(trials["session"]) == {"s1"}
    per = trials.group_by("participant", "condition").len()
    assert per["len"].to_list() == [20] * 60
    assert trials.group_by("participant").agg(pl.col("trial_index").sort())["trial_index"].to_list() == [
        list(range(1, 41))
    ] * 30
    # conditions are interleaved, not blocked
    runs = trials.group_by("participant", maintain_order=True).agg(
        (pl.col("condition") != pl.col("condition").shift()).sum().alias("switches")
    )
    assert runs["switches"].min() >= 8
    people = study["participants"]
    assert people.height == 30 and set(people["cohort"]) == {"sample"}
    assert set(people["handedness"]) <= {"left", "right"} and set(people["device"]) == {"mouse"}
    assert people["age_band"].str.contains(r"^\d\d-\d\d$").all()


def test_responses_targets_and_correctness_agree(study):
    trials = study["trials"]
    digit = trials["stimulus"].cast(pl.Int32)
    assert not digit.is_in([5]).any()
    correct_side = pl.Series(np.where(digit.to_numpy() < 5, "left", "right"))
    assert ((trials["response"] == correct_side) == trials["correct"]).all()
    expected_x = np.where(trials["response"].to_numpy() == "left", LAYOUT["left"].x, LAYOUT["right"].x)
    np.testing.assert_array_equal(trials["target_x"].to_numpy(), expected_x)
    assert set(trials["target_w"]) == {240.0} and set(trials["target_h"]) == {100.0}
    assert set(trials["start_x"]) == {640.0} and set(trials["start_y"]) == {740.0}


def test_clicks_in_samples_and_events(study):
    s = study["samples"].filter(pl.col("trial").is_not_null())
    first = s.group_by("trial").first()
    last = s.group_by("trial").last()
    assert set(first["event"]) == {"down"} and set(first["t_ms"]) == {0.0} and set(first["buttons"]) == {1}
    assert set(last["event"]) == {"up"} and set(last["buttons"]) == {0}
    counts = s.group_by("trial", "event").len().pivot("event", index="trial", values="len")
    assert set(counts["down"]) == {2} and set(counts["up"]) == {2}
    # the start click is on the start button, the response click inside the chosen box
    start = LAYOUT["start"]
    assert ((first["x"] - start.x).abs() <= start.w / 2).all() and ((first["y"] - start.y).abs() <= start.h / 2).all()
    end = last.join(study["trials"], on="trial")
    assert ((end["x"] - end["target_x"]).abs() <= end["target_w"] / 2).all()
    assert ((end["y"] - end["target_y"]).abs() <= end["target_h"] / 2).all()
    ev = study["events"].filter(pl.col("trial").is_not_null())
    assert ev.height == 4 * 1200
    assert ev.group_by("trial", maintain_order=True).agg("kind")["kind"].to_list()[0] == [
        "click_down", "click_up", "click_down", "click_up"
    ]
    joined = ev.join(s, on=["participant", "session", "trial", "t_ms"], how="left")
    assert joined["event"].null_count() == 0  # every click event has its sample
    assert ((joined["kind"] == "click_down") == (joined["event"] == "down")).all()
    assert (joined["x"] == joined["x_right"]).all() and (joined["y"] == joined["y_right"]).all()


def test_sampling_rate_and_pixels(study):
    s = study["samples"].filter(pl.col("trial").is_not_null())
    dt = s.select(pl.col("t_ms").diff().over("trial").alias("dt"))["dt"].drop_nulls()
    assert abs(1000.0 / dt.mean() - 60.0) / 60.0 < 0.05
    assert (s["x"] == s["x"].round()).all() and (s["t_ms"] == s["t_ms"].round()).all()
    assert s["x"].is_between(0, 1279).all() and s["y"].is_between(0, 799).all()


# ------------------------------------------------------------------------- free use
def test_free_use_sessions(study):
    s = study["samples"].filter(pl.col("session") == "free1")
    e = study["events"].filter(pl.col("session") == "free1")
    assert sorted(s["participant"].unique()) == ["P01", "P02", "P03"]
    assert s["trial"].null_count() == s.height and e["trial"].null_count() == e.height
    span = e.group_by("participant").agg(pl.col("t_ms").max() / 60_000)["t_ms"]
    assert span.is_between(3.0, 5.5).all()
    assert {"click_down", "click_up", "scroll", "focus", "idle_start", "idle_end"} <= set(e["kind"])
    assert set(e["app"].drop_nulls()) <= set(APP_CATEGORIES)
    assert set(s["event"]) == {"move", "down", "up", "drag", "scroll"}
    assert (s.filter(pl.col("event") == "drag")["buttons"] == 1).all()
    # no samples inside idle periods, and the idle events carry their duration
    for (pid,), ev in e.group_by(["participant"]):
        starts = ev.filter(pl.col("kind") == "idle_start")
        ends = ev.filter(pl.col("kind") == "idle_end")
        assert starts.height == ends.height >= 1
        for a, b, d in zip(starts["t_ms"], ends["t_ms"], starts["duration_ms"]):
            assert b - a == d >= 15_000
            inside = s.filter(pl.col("participant") == pid, pl.col("t_ms") > a, pl.col("t_ms") < b)
            assert inside.height == 0
    # event-driven: no two consecutive move samples at the same position
    moves = s.filter(pl.col("event") == "move").sort("participant", "t_ms")
    same = moves.with_columns(
        ((pl.col("x").diff() == 0) & (pl.col("y").diff() == 0)).over("participant").alias("same")
    )["same"]
    assert same.mean() < 0.05  # only where a click or scroll sample sat in between


# ------------------------------------------------------------------------- planted effects
@pytest.mark.parametrize("measure", ["initiation_ms", "mad_px", "xflips", "hesitations", "error"])
def test_planted_effect_high_load_exceeds_low(per_trial, measure):
    means = dict(per_trial.group_by("condition").agg(pl.col(measure).mean()).iter_rows())
    assert means["high"] > means["low"], means


def test_planted_effect_sizes(per_trial):
    m = {r["condition"]: r for r in per_trial.group_by("condition").agg(pl.all().exclude("trial", "participant").mean()).iter_rows(named=True)}
    assert 80 <= m["high"]["initiation_ms"] - m["low"]["initiation_ms"] <= 160  # planted +120 ms
    assert 350 <= m["low"]["initiation_ms"] <= 600
    assert 25 <= m["high"]["mad_px"] - m["low"]["mad_px"] <= 90
    assert 0.2 <= m["high"]["hesitations"] - m["low"]["hesitations"] <= 0.7  # planted +0.45 per trial
    assert m["low"]["error"] < 0.06 and m["high"]["error"] < 0.12


@pytest.mark.parametrize("measure", ["initiation_ms", "mad_px", "xflips", "hesitations"])
def test_planted_effect_significant_in_mixed_model(per_trial, measure):
    smf = pytest.importorskip("statsmodels.formula.api")
    data = per_trial.with_columns((pl.col("condition") == "high").cast(pl.Int8).alias("high")).to_pandas()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm(f"{measure} ~ high", data, groups=data["participant"]).fit()
    assert fit.params["high"] > 0
    assert fit.pvalues["high"] < 0.001


# ------------------------------------------------------------------------- the committed sample store
def test_committed_store_is_reproduced_by_the_generator(tmp_path):
    assert (COMMITTED / "manifest.json").exists(), "data/sample/store is missing; regenerate it (see data/sample/README.md)"
    committed = Store(COMMITTED)
    assert committed.verify() == []
    fresh = build_sample_study(seed=20261126)
    # compare content, not bytes: a newer Parquet writer may encode the same rows differently
    for name, frame in fresh.items():
        stored = committed.read(name)
        expected = frame.select(stored.columns)
        key = [c for c in ("participant", "session", "trial", "t_ms", "kind") if c in stored.columns]
        assert stored.sort(key, nulls_last=True).equals(expected.sort(key, nulls_last=True)), (
            f"data/sample/store table {name!r} no longer matches the generator: run "
            "`make sample` (mouselab synth sample-study --out data/sample/store --seed 20261126)"
        )


def test_committed_store_is_small():
    size = sum(p.stat().st_size for p in COMMITTED.rglob("*") if p.is_file())
    assert size < 5_000_000


def test_synth_does_not_import_measures():
    import subprocess
    import sys

    code = (
        "import sys, mouselab.synth, mouselab.synth.sample_study, mouselab.synth.free_use;"
        "bad = [m for m in sys.modules if m.startswith('mouselab.measures')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    src = Path(__file__).resolve().parents[1] / "mouselab" / "synth"
    for path in src.glob("*.py"):
        assert "mouselab.measures" not in path.read_text().replace("never imports :mod:`mouselab.measures`", "")
