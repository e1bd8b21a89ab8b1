"""A Balabit-format study end to end: synth → ingest → segment → the workday and privacy-risk reports.

``mouselab synth balabit`` writes 10 users × 3 short sessions in the Balabit Mouse Dynamics Challenge layout,
with per-person movement style and the data set's quirks. The set is generated, ingested and segmented once
(through the command line, as a user would), and both reports are rendered once on it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from mouselab.cli.main import cli
from mouselab.store import Store
from mouselab.synth.balabit import HEADER, BalabitQuirks, iter_balabit

ROOT = Path(__file__).resolve().parents[1]
USERS, SESSIONS, MINUTES, SEED = 10, 3, 2.0, 20261126
STATES = {("NoButton", "Move"), ("NoButton", "Drag"), ("Left", "Pressed"), ("Left", "Released"),
          ("Right", "Pressed"), ("Right", "Released"), ("Scroll", "Down"), ("Scroll", "Up")}


def _invoke(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def balabit(tmp_path_factory) -> dict:
    """Generated, ingested and segmented once: paths and the command outputs."""
    out = tmp_path_factory.mktemp("balabit") / "bb"
    synth = _invoke(["synth", "balabit", str(out), "--users", str(USERS), "--sessions", str(SESSIONS),
                     "--minutes", str(MINUTES), "--seed", str(SEED)])
    store = out / "store"
    ingest = _invoke(["ingest", "balabit", str(out / "training_files"), "--store", str(store), "--study", "balabit",
                      "--quiet"])
    segment = _invoke(["segment", "--store", str(store), "--study", "balabit"])
    return {"out": out, "store": store, "synth": synth, "ingest": ingest, "segment": segment}


@pytest.fixture(scope="session")
def risk_report(balabit, tmp_path_factory):
    from mouselab.report import run_notebook

    return run_notebook(ROOT / "notebooks" / "04_privacy_risk.ipynb", out_dir=tmp_path_factory.mktemp("r04"),
                        parameters={"store": str(balabit["store"]), "study": "balabit", "split": "sessions"})


@pytest.fixture(scope="session")
def workday_report(balabit, tmp_path_factory):
    from mouselab.report import run_notebook

    return run_notebook(ROOT / "notebooks" / "03_workday_sessions.ipynb", out_dir=tmp_path_factory.mktemp("r03"),
                        parameters={"store": str(balabit["store"]), "study": "balabit"})


# ------------------------------------------------------------------------------------------------ the files
def test_files_have_the_challenge_layout_and_quirks(balabit):
    files = sorted((balabit["out"] / "training_files").glob("user*/session_*"))
    assert len(files) == USERS * SESSIONS
    assert {f.parent.name for f in files} == {f"user{i + 1}" for i in range(USERS)}
    assert all(re.fullmatch(r"session_\d{10}", f.name) for f in files)
    sentinels = edges = 0
    for f in files:
        lines = f.read_text().splitlines()
        assert lines[0] == HEADER
        frame = pl.read_csv(f, schema_overrides={"x": pl.Int64, "y": pl.Int64})
        assert set(map(tuple, frame.select("button", "state").unique().rows())) <= STATES
        assert frame["client timestamp"][0] == 0.0 and frame["record timestamp"][0] == 0.0
        assert (frame["record timestamp"].diff().drop_nulls() >= 0).all()  # the monitor's clock never goes back
        assert (frame["client timestamp"].diff().drop_nulls() >= 0).all()
        lag = frame["record timestamp"] - frame["client timestamp"]
        assert lag.min() > -0.001 and 0.0 < lag.median() < 0.1  # record = client + a small network delay
        sentinels += frame.filter(pl.col("x") == 65535).height
        on_screen = frame.filter(pl.col("x") != 65535)
        edges += on_screen.filter((pl.col("x") <= 0) | (pl.col("x") >= 1919) | (pl.col("y") <= 0)
                                  | (pl.col("y") >= 1079)).height
        assert on_screen["x"].is_between(0, 1919).all() and on_screen["y"].is_between(0, 1079).all()
    assert sentinels > 0 and edges > 0
    assert "to be quarantined" in balabit["synth"] and "rows clamped at a screen edge" in balabit["synth"]


def test_generation_is_seeded():
    def texts(seed, quirks=BalabitQuirks()):
        return [s.text for s in iter_balabit(users=2, sessions=1, minutes=0.3, seed=seed, quirks=quirks)]

    assert texts(1) == texts(1) and texts(1) != texts(2)
    clean = list(iter_balabit(users=2, sessions=1, minutes=0.3, seed=1, quirks=BalabitQuirks.none()))
    assert all(s.expected.height == 0 for s in clean)


def test_the_cli_refuses_to_mix_builds(balabit):
    result = CliRunner().invoke(cli, ["synth", "balabit", str(balabit["out"]), "--users", "2", "--seed", "1"])
    assert result.exit_code != 0 and "new folder" in result.output


# ------------------------------------------------------------------------------------------------ ingest
def test_every_row_is_accounted_for(balabit):
    store = Store(balabit["store"])
    log = store.read("ingest_log")
    assert log.height == USERS * SESSIONS
    assert (log["records_read"] == log["rows_stored"] + log["rows_quarantined"]).all()
    for row in log.iter_rows(named=True):
        data_lines = len(Path(row["source_file"]).read_text().splitlines()) - 1
        assert row["records_read"] == data_lines, row["source_file"]
    assert log["rows_stored"].sum() == store.sql("select count(*) n from samples")["n"][0]
    assert 0 < log["rows_quarantined"].sum() < 0.01 * log["records_read"].sum()  # quirks at low rates


def test_quarantine_is_exactly_the_injected_quirks(balabit):
    store = Store(balabit["store"])
    got = store.read("quarantine").select(
        pl.col("source_file").str.extract(r"(user\d+/session_\d+)$").alias("file"), "line", "column", "reason")
    expected = pl.read_csv(balabit["out"] / "expected_quarantine.csv", schema_overrides={"line": pl.Int64})
    assert sorted(got.rows()) == sorted(expected.select("file", "line", "column", "reason").rows())
    reasons = dict(got.group_by("reason").len().iter_rows())
    assert set(reasons) == {"duplicate_timestamp", "sentinel_coordinate"}
    assert set(got.filter(pl.col("reason") == "duplicate_timestamp")["column"]) == {"client timestamp"}
    assert set(got.filter(pl.col("reason") == "sentinel_coordinate")["column"]) == {"x"}


def test_segmentation_yields_move_point_click_and_drag_drop_actions(balabit):
    assert re.search(r"segmented 30 session\(s\): [\d,]+ DD, [\d,]+ MM, [\d,]+ PC actions", balabit["segment"])
    actions = Store(balabit["store"]).read("actions")
    counts = dict(actions.group_by("type").len().iter_rows())
    assert set(counts) == {"MM", "PC", "DD"} and min(counts.values()) >= 50
    per_user = actions.group_by("participant").agg(pl.col("type").n_unique().alias("types"))
    assert per_user.height == USERS and (per_user["types"] == 3).all()


# ------------------------------------------------------------------------------------------------ reports
def test_privacy_report_identifies_people_from_raw_features_but_not_from_dp_aggregates(risk_report):
    assert risk_report.ok, risk_report.error
    split = {r[0]: r[1:] for r in risk_report.results["split"]["rows"]}
    assert split["A"][0] == split["B"][0] == USERS  # participants on both sides
    assert split["A"][2] == USERS and split["B"][2] == USERS * (SESSIONS - 1)  # first session vs the others
    table = risk_report.results["identification"]
    rows = {r[0]: dict(zip(table["columns"], r)) for r in table["rows"]}
    raw = rows["raw per-action features"]
    assert raw["candidates"] == USERS and raw["chance top-1"] == pytest.approx(1 / USERS)
    assert raw["top-1"] >= 3 * raw["chance top-1"] and raw["EER"] < 0.3 and raw["verdict"] == "FAIL"
    exact = rows["exact aggregates (sums over participants)"]
    assert exact["top-1"] == 1.0 and exact["verdict"] == "FAIL"
    private = next(v for k, v in rows.items() if k.startswith("differentially private aggregates"))
    assert private["top-1"] <= 2.5 * private["chance top-1"] and private["EER"] > 0.35
    assert private["verdict"] == "pass" and private["p"] >= 0.05
    assert all(r["tolerated top-1"] == pytest.approx(0.2) for r in rows.values())  # max(1/k, 1/N), k = 5, N = 10
    html = risk_report.html.read_text(encoding="utf-8")
    assert "<script src=" not in html and html.count("vegaEmbed(") >= 1
    assert not re.search(r"\buser\d+\b", html), "reports must not show participant ids"


def test_workday_report_renders_on_the_balabit_sessions(workday_report):
    assert workday_report.ok, workday_report.error
    results = workday_report.results
    assert set(results["action_counts"]) == {"MM", "PC", "DD"}
    sessions = results["sessions"]["rows"]
    assert len(sessions) == USERS * SESSIONS
    width = len(str(USERS))  # zero-padded, so that "person 02" sorts before "person 10"
    assert {r[0] for r in sessions} == {f"person {i + 1:0{width}d}" for i in range(USERS)}  # neutral by default
    assert np.mean([r[3] for r in sessions]) == pytest.approx(MINUTES, rel=0.3)  # duration_min
    html = workday_report.html.read_text(encoding="utf-8")
    assert html.count("vegaEmbed(") >= 5 and "<script src=" not in html
    assert not re.search(r"\buser\d+\b", html), "reports must not show participant ids"
