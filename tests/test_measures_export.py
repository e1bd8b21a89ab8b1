"""`mouselab measures … --out` from a governed store (or with --release) is a release: pseudonymous release
codes, no trial / session ids, small cells suppressed (reported on stderr) — unless --no-release-check
--reason says why identified rows must leave the store, which the audit log records. From an ungoverned store
the file keeps the ids as stored, with a note on stderr. In-store analysis (study.trial_measures) is
unchanged.

The hand-checkable store: 7 people, one session "s1", two trials each, between-subjects condition
A (P01–P05) / B (P06, P07). Participant i moves in a straight line (0,0) → (15i,20i) → (30i,40i), so every
trial of participant i has total_dist = 50·i px and RT = 20 ms. With k = 5 over (study, condition), class B
(2 people, 4 rows) is suppressed and class A (5 people, 10 rows) is released."""

from __future__ import annotations

import json

import polars as pl
import pytest
from test_capture_support import mouselab

from mouselab.privacy import audit, governance, release
from mouselab.privacy.anonymity import ReleaseError
from mouselab.store import Store
from mouselab.study import trial_measures

PEOPLE = [f"P0{i}" for i in range(1, 8)]
MEASURES = "total_dist,RT"


def _frames() -> dict[str, pl.DataFrame]:
    samples, trials = [], []
    for i, p in enumerate(PEOPLE, start=1):
        for tr in (1, 2):
            for j in range(3):
                samples.append(dict(study="st", participant=p, session="s1", trial=f"{p}-t{tr}", t_ms=10.0 * j,
                                    x=15.0 * i * j, y=20.0 * i * j, event="move", buttons=0))
            trials.append(dict(study="st", participant=p, session="s1", trial=f"{p}-t{tr}", trial_index=tr,
                               condition="A" if i <= 5 else "B"))
    return {"samples": pl.DataFrame(samples),
            "trials": pl.DataFrame(trials).with_columns(pl.col("trial_index").cast(pl.Int32))}


@pytest.fixture()
def store(tmp_path):
    path = tmp_path / "store"
    Store.create(path).write(_frames())
    return path


@pytest.fixture()
def governed(store):
    governance.ensure_dir(store)
    return store


def _measures(store, out, *extra):
    return mouselab("measures", "--store", store, "--measures", MEASURES, "--out", out, *extra)


# ------------------------------------------------------------------------------------------ default path
def test_ungoverned_store_exports_ids_as_stored_with_a_note(store, tmp_path):
    out = tmp_path / "m.csv"
    r = _measures(store, out)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"14 trials x 11 columns -> {out}"
    assert sorted(pl.read_csv(out)["participant"].unique()) == PEOPLE
    assert "is not under governance, so the file carries the participant ids as stored" in r.stderr
    assert "export with --release" in r.stderr
    assert not (store / "governance").exists(), "an export does not put an ungoverned store under governance"


def test_release_flag_checks_an_ungoverned_store(store, tmp_path):
    out = tmp_path / "m.csv"
    r = _measures(store, out, "--release")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"10 trials x 10 columns -> {out} (release-checked)"
    got = pl.read_csv(out)
    assert got.columns == ["study", "participant", "session_index", "trial_index", "condition", "correct", "response",
                           "stimulus", "total_dist", "RT"]
    # class B (P06, P07: 2 < 5 people) is gone; class A's five people are r01..r05, two trials each
    assert got.height == 10 and set(got["condition"]) == {"A"}
    assert sorted(got["participant"].unique()) == ["r01", "r02", "r03", "r04", "r05"]
    assert got["participant"].to_list() == sorted(got["participant"].to_list()), "rows follow the codes, not the ids"
    assert set(got["session_index"]) == {1} and got.group_by("participant").agg(pl.col("trial_index").sort()) \
        ["trial_index"].to_list() == [[1, 2]] * 5
    # each code is one person: both of their trials have their own total_dist (50·i), RT is 20 ms
    per_code = got.group_by("participant").agg(pl.col("total_dist").unique())
    assert all(len(v) == 1 for v in per_code["total_dist"].to_list())
    assert sorted(v[0] for v in per_code["total_dist"].to_list()) == [50.0, 100.0, 150.0, 200.0, 250.0]
    assert set(got["RT"]) == {20.0}
    # no id of the store anywhere in the file
    text = out.read_text()
    assert not any(p in text for p in PEOPLE) and "s1" not in text and "-t1" not in text
    # the suppression is reported on stderr, class by class
    assert "release check: k = 5 participants per class over study, condition" in r.stderr
    assert "suppressed 4 rows of 2 participant(s) in 1 class(es) with fewer than 5 participants:" in r.stderr
    assert "    study=st, condition=B: 2 participant(s), 4 rows" in r.stderr
    assert "dropped trial: free-text ids; trial_index keeps the order" in r.stderr
    assert "released 10 of 14 rows (5 of 7 participants)" in r.stderr
    assert not (store / "governance").exists(), "an export does not put an ungoverned store under governance"


def test_k_and_quasi_identifiers_are_options(store, tmp_path):
    r = _measures(store, tmp_path / "k2.csv", "--release", "--k", "2")
    assert r.returncode == 0, r.stderr
    assert pl.read_csv(tmp_path / "k2.csv")["participant"].n_unique() == 7 and "no small cells" in r.stderr
    r = _measures(store, tmp_path / "qi.parquet", "--release", "--qi", "study")  # condition not linkable: one class of 7
    assert r.returncode == 0, r.stderr
    assert pl.read_parquet(tmp_path / "qi.parquet").height == 14


def test_nothing_releasable_is_refused_and_nothing_is_written(store, tmp_path):
    out = tmp_path / "m.csv"
    r = _measures(store, out, "--release", "--participants", "P01,P02,P03")
    assert r.returncode == 2 and not out.exists()
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("mouselab: error: release refused: every row is in a class of fewer than k = 5")
    assert "--no-release-check --reason TEXT" in line


def test_governed_store_records_the_checked_export(governed, tmp_path):
    r = _measures(governed, tmp_path / "m.csv")
    assert r.returncode == 0, r.stderr
    entry = audit.entries(governed)[-1]
    assert entry["op"] == "export" and entry["tables"] == ["samples", "trials"]
    assert entry["detail"] == {"out": str(tmp_path / "m.csv"), "rows": 10, "participants": 5, "columns": 10,
                               "release_check": True, "k": 5, "quasi_identifiers": ["study", "condition"],
                               "rows_suppressed": 4}
    assert audit.verify(governed).ok


# ----------------------------------------------------------------------------------------- the override
def test_override_writes_identified_rows_and_audits_the_reason(governed, tmp_path):
    out = tmp_path / "P06_ids.csv"
    r = _measures(governed, out, "--no-release-check", "--reason", "merge with questionnaires (P06 asked)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"14 trials x 11 columns -> {out} (IDENTIFIED, not release-checked)"
    got = pl.read_csv(out)
    assert got.height == 14 and sorted(got["participant"].unique()) == PEOPLE
    assert got.filter(pl.col("participant") == "P06")["trial"].to_list() == ["P06-t1", "P06-t2"]
    assert got.filter(pl.col("participant") == "P06")["total_dist"].to_list() == [300.0, 300.0]
    entry = audit.entries(governed)[-1]
    assert f"recorded in the audit log of {governed} (entry {entry['seq']}" in r.stderr
    assert entry["op"] == "export" and entry["detail"]["release_check"] is False
    assert entry["detail"]["rows"] == 14 and entry["detail"]["participants"] == 7
    # ids in the free text are redacted, so an erasure's byte scan never finds them in the (append-only) log
    assert entry["detail"]["reason"] == "merge with questionnaires ([id] asked)"
    assert entry["detail"]["out"] == str(tmp_path / "[id]_ids.csv")
    assert "P06" not in json.dumps(entry)


def test_an_audited_export_does_not_block_a_later_erasure(governed, tmp_path):
    from mouselab.privacy import erasure

    r = _measures(governed, tmp_path / "P06.csv", "--no-release-check", "--reason", "P06 follow-up call")
    assert r.returncode == 0, r.stderr
    report = erasure.erase_participant(governed, "P06")
    assert report.verified and report.byte_hits == [], report.summary()


def test_override_needs_a_reason_and_excludes_the_check_options(store, tmp_path):
    out = tmp_path / "m.csv"
    for extra, message in ((["--no-release-check"], "say why with --reason TEXT"),
                           (["--no-release-check", "--reason", " "], "say why with --reason TEXT"),
                           (["--reason", "x"], "--reason goes with --no-release-check"),
                           (["--no-release-check", "--reason", "x", "--k", "3"], "do not go with --no-release-check"),
                           (["--no-release-check", "--reason", "x", "--release"], "contradict each other")):
        r = _measures(store, out, *extra)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, (extra, r.stderr)
    assert not out.exists()


def test_override_on_an_ungoverned_store_says_nothing_is_recorded(store, tmp_path):
    r = _measures(store, tmp_path / "m.csv", "--no-release-check", "--reason", "pilot check")
    assert r.returncode == 0, r.stderr
    assert "IDENTIFIED, not release-checked" in r.stdout
    assert "is not under governance" in r.stderr
    assert not (store / "governance").exists()


def test_session_export_takes_the_same_gate(sample_store, tmp_path):
    out = tmp_path / "s.csv"
    r = mouselab("measures", "session", "--store", sample_store, "--out", out, "--release")  # 3 people: refused
    assert r.returncode == 2 and "release refused" in r.stderr and "3 participant(s)" in r.stderr
    assert not out.exists()
    r = mouselab("measures", "session", "--store", sample_store, "--out", out, "--no-release-check", "--reason",
                 "test: the sample study's three free-use sessions")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"3 sessions x 19 columns -> {out} (IDENTIFIED, not release-checked)"
    assert pl.read_csv(out)["participant"].to_list() == ["P01", "P02", "P03"]
    assert not (sample_store / "governance").exists()


# ------------------------------------------------------------------------------ in-store analysis as before
def test_in_store_analysis_is_unchanged(store):
    table = trial_measures(Store(store), measures=MEASURES.split(","))
    assert table.height == 14 and {"participant", "session", "trial"} <= set(table.columns)
    assert sorted(table["participant"].unique()) == PEOPLE


# -------------------------------------------------------------------------------------- the pure functions
def test_prepare_release_by_hand():
    frame = pl.DataFrame({
        "study": ["st"] * 6, "participant": ["P01", "P01", "P01", "P02", "P03", "P03"],
        "session": ["b", "a", "a", "x", "x", "x"], "trial": ["t1", "t2", "t3", "t1", "t1", "t2"],
        "trial_index": [1, 1, 2, 1, 1, 2], "note": ["", "P01 was tired", "", "", "", ""],
        "value": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    })
    out, report = release.prepare_release(frame, k=2, key=b"fixed")
    assert report.rows_out == 6 and report.dropped == {"trial": "free-text ids; trial_index keeps the order",
                                                      "note": "its values name participants or sessions"}
    codes = release.release_codes(["P01", "P02", "P03"], key=b"fixed")
    assert sorted(codes.values()) == ["r01", "r02", "r03"]
    assert out["participant"].to_list() == sorted(out["participant"].to_list())
    person = {code: rows for code, *rows in out.group_by("participant").agg("session_index", "value").rows()}
    # P01's sessions "a" < "b" become 1, 2; values travel with their rows
    assert sorted(zip(*person[codes["P01"]])) == [(1, 2.0), (1, 3.0), (2, 1.0)]
    assert person[codes["P02"]] == [[1], [4.0]]
    assert out.columns == ["study", "participant", "session_index", "trial_index", "value"]
    with pytest.raises(ReleaseError, match="every row is in a class of fewer than k = 5"):
        release.prepare_release(frame, key=b"fixed")
    with pytest.raises(ValueError, match="participant cannot be a quasi-identifier"):
        release.prepare_release(frame, quasi_identifiers=["participant"])


def test_redact_matches_whole_tokens_like_the_erasure_scan():
    ids = ["alice-7731", "P06", "p-0a1b2c"]
    assert release.redact("for alice-7731, P06_x.csv and p-0a1b2c; not P060 or xP06", ids) == \
        "for [id], [id]_x.csv and [id]; not P060 or xP06"
    assert release.redact("no ids here", []) == "no ids here"
