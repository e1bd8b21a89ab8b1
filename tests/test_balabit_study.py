"""A Balabit-format study end to end: synth → ingest → segment → the workday and privacy-risk reports.

``mouselab synth balabit`` writes 10 users × 3 short sessions in the Balabit Mouse Dynamics Challenge layout,
with per-person movement style and the data set's recording quirks (reports every ~109 ms on two lagging
clocks, as measured on the real files; see ``mouselab.synth.balabit``). The set is generated, ingested and
segmented once (through the command line, as a user would), and both reports are rendered once on it.
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
def _shares(frame: pl.DataFrame) -> dict[str, float]:
    """Counts behind the statistics the writer's defaults were measured by (mouselab.synth.balabit)."""
    client = (frame["client timestamp"] * 1000).round().to_numpy()
    record = (frame["record timestamp"] * 1000).round().to_numpy()
    same_c, same_r = client[1:] == client[:-1], record[1:] == record[:-1]
    states = frame["state"].to_list()
    buttons = [i for i in range(1, len(states)) if states[i] in ("Pressed", "Released")]
    step = np.diff(client)
    return {"client": float(same_c.sum()), "record": float(same_r.sum()), "both": float((same_c & same_r).sum()),
            "rows": float(len(client) - 1), "moving_rows": float((step < 1000).sum()),
            "moving_ms": float(step[step < 1000].sum()), "buttons": float(len(buttons)),
            "buttons_tied": float(sum(same_c[i - 1] for i in buttons))}


def test_files_have_the_challenge_layout_and_quirks(balabit):
    files = sorted((balabit["out"] / "training_files").glob("user*/session_*"))
    assert len(files) == USERS * SESSIONS
    assert {f.parent.name for f in files} == {f"user{i + 1}" for i in range(USERS)}
    assert all(re.fullmatch(r"session_\d{10}", f.name) for f in files)
    sentinels = edges = 0
    per_user: dict[str, list[dict]] = {}
    steps = []
    for f in files:
        lines = f.read_text().splitlines()
        assert lines[0] == HEADER and lines[1].startswith("0.0,0.0,")
        # both clocks printed as the challenge does: 12 significant digits, millisecond values
        stamps = [v for line in lines[1:] for v in line.split(",")[:2]]
        assert all(len(v.replace(".", "").lstrip("0")) <= 12 for v in stamps)
        frame = pl.read_csv(f, schema_overrides={"x": pl.Int64, "y": pl.Int64})
        assert set(map(tuple, frame.select("button", "state").unique().rows())) <= STATES
        assert frame["client timestamp"][0] == 0.0 and frame["record timestamp"][0] == 0.0
        assert (frame["record timestamp"].diff().drop_nulls() >= 0).all()  # the monitor's clock never goes back
        assert (frame["client timestamp"].diff().drop_nulls() >= 0).all()
        ms = frame["client timestamp"] * 1000
        assert ((ms - ms.round()).abs() < 1e-6).all()
        # record = client ± a few ms of network lag (real files: SD ~5 ms, record even a little earlier than
        # client); rows sent with a later packet lag one report (~110 ms), up to ~1 s before a pause
        lag = frame["record timestamp"] - frame["client timestamp"]
        assert lag.quantile(0.05) > -0.025 and abs(lag.median()) < 0.015 and lag.max() < 1.5
        # Drag rows only while a button is held, written with NoButton
        held = False
        for button, state in frame.select("button", "state").iter_rows():
            held = True if state == "Pressed" else False if state == "Released" else held
            assert state != "Drag" or (held and button == "NoButton")
        distinct = np.diff(np.unique(ms.to_numpy().round()))
        steps.append(distinct[distinct < 1000])
        per_user.setdefault(f.parent.name, []).append(_shares(frame))
        sentinels += frame.filter(pl.col("x") == 65535).height
        on_screen = frame.filter(pl.col("x") != 65535)
        edges += on_screen.filter((pl.col("x") <= 0) | (pl.col("x") >= 1919) | (pl.col("y") <= 0)
                                  | (pl.col("y") >= 1079)).height
        assert on_screen["x"].is_between(0, 1919).all() and on_screen["y"].is_between(0, 1079).all()
    assert sentinels > 0 and edges > 0
    assert "to be quarantined" in balabit["synth"] and "rows clamped at a screen edge" in balabit["synth"]
    # the coarse two-clock schedule, at the rates measured on the real files (A / B / C in the writer's
    # docstring): reports every ~109 ms (7 ticks of 15.625 ms), 7–10 rows/s while moving, 10–27 % of rows
    # repeating the previous client timestamp, 13–25 % the record one, 4–6 % both; a third or more of the
    # button rows at the previous row's client time
    steps = np.concatenate(steps)
    assert 100 <= np.median(steps) <= 120
    assert np.mean(np.abs(steps / 15.625 - np.round(steps / 15.625)) * 15.625 <= 1.0) > 0.99
    total = {k: sum(s[k] for v in per_user.values() for s in v) for k in per_user["user1"][0]}
    assert 6.0 <= 1000 * total["moving_rows"] / total["moving_ms"] <= 12.0
    rows = total["rows"]
    assert 0.10 <= total["client"] / rows <= 0.27 and 0.13 <= total["record"] / rows <= 0.30
    assert 0.03 <= total["both"] / rows <= 0.08
    assert 0.15 <= total["buttons_tied"] / total["buttons"] <= 0.5
    # each user's machine has its own rates (the real files range from 10 to 27 %)
    user_share = [sum(s["client"] for s in v) / sum(s["rows"] for s in v) for v in per_user.values()]
    assert max(user_share) - min(user_share) > 0.08


@pytest.mark.parametrize("schedule", ["rdp", "fine"])
def test_generation_is_seeded(schedule):
    def texts(seed, quirks=BalabitQuirks()):
        return [s.text for s in iter_balabit(users=2, sessions=1, minutes=0.3, seed=seed, quirks=quirks,
                                             schedule=schedule)]

    assert texts(1) == texts(1) and texts(1) != texts(2)
    clean = list(iter_balabit(users=2, sessions=1, minutes=0.3, seed=1, quirks=BalabitQuirks.none(),
                              schedule=schedule))
    assert all(s.expected.height == 0 for s in clean)
    for s in clean:  # nothing for a reader to quarantine: no repeated client timestamp, no sentinel
        frame = pl.read_csv(s.text.encode())
        assert (frame["client timestamp"].diff().drop_nulls() > 0).all() and (frame["x"] != 65535).all()


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
    # rows repeating the previous row's client timestamp are 10–27 % of the real files' rows (the reader
    # keeps the last of them); sentinels are rare
    assert 0.05 * log["records_read"].sum() < log["rows_quarantined"].sum() < 0.3 * log["records_read"].sum()


def test_quarantine_is_exactly_the_injected_quirks(balabit):
    store = Store(balabit["store"])
    got = store.read("quarantine").select(
        pl.col("source_file").str.extract(r"(user\d+/session_\d+)$").alias("file"), "line", "column", "reason")
    expected = pl.read_csv(balabit["out"] / "expected_quarantine.csv", schema_overrides={"line": pl.Int64})
    got_rows, expected_rows = set(got.rows()), set(expected.select("file", "line", "column", "reason").rows())
    extra, missing = sorted(got_rows - expected_rows), sorted(expected_rows - got_rows)
    assert not extra and not missing, (
        f"ingest quarantined {len(extra)} row(s) not expected (e.g. {extra[:3]}) and stored {len(missing)} "
        f"expected one(s) (e.g. {missing[:3]}); reasons: {dict(got.group_by('reason').len().iter_rows())}")
    assert got.height == len(got_rows) == expected.height
    reasons = dict(got.group_by("reason").len().iter_rows())
    assert set(reasons) == {"duplicate_timestamp", "sentinel_coordinate"}
    assert set(got.filter(pl.col("reason") == "duplicate_timestamp")["column"]) == {"client timestamp"}
    assert set(got.filter(pl.col("reason") == "sentinel_coordinate")["column"]) == {"x"}


# Patterns of the real files, with invented numbers: valid rows that a reader must store.
_REPORTS_FROM_THE_START = [  # reports ~110 ms apart from 0.0 (a stretch of them is not in microseconds)
    "0.0,0.0,NoButton,Move,500,400", "0.127,0.125,NoButton,Move,520,410", "0.236,0.234,NoButton,Move,560,430",
    "0.345,0.343,NoButton,Move,600,450", "0.47,0.468,NoButton,Move,610,455", "0.47,0.468,Left,Pressed,610,455",
    "0.581,0.578,Left,Released,610,455",
]
_EARLY_PRESS_THEN_A_PAUSE = [  # a press at the client time of the move before it, then 40 s without input
    "0.0,0.0,NoButton,Move,500,400", "0.033,0.031,NoButton,Move,507,403", "0.033,0.031,Left,Pressed,507,403",
    "40.002,40.0,Left,Released,507,403", "40.111,40.109,NoButton,Move,510,405",
]


@pytest.mark.parametrize("rows, duplicates", [(_REPORTS_FROM_THE_START, [6]), (_EARLY_PRESS_THEN_A_PAUSE, [3])],
                         ids=["reports-from-the-start", "early-press-then-a-pause"])
def test_valid_session_patterns_are_stored(rows, duplicates, tmp_path):
    folder = tmp_path / "training_files" / "user1"
    folder.mkdir(parents=True)
    (folder / "session_0000000001").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    _invoke(["ingest", "balabit", str(tmp_path / "training_files"), "--store", str(tmp_path / "store"),
             "--study", "patterns", "--quiet"])
    store = Store(tmp_path / "store")
    log = store.read("ingest_log")
    got = sorted(store.read("quarantine").select("line", "reason").rows()) if log["rows_quarantined"].sum() else []
    assert got == [(line, "duplicate_timestamp") for line in duplicates]  # the move before the press goes
    assert log["rows_stored"].sum() == len(rows) - len(duplicates)


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
