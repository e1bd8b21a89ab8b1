"""The command line as a user meets it: help everywhere, one-line errors, mousetrap parity end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from _conformance import CONFORMANCE, conformance_dir

ROOT = Path(__file__).resolve().parents[1]
PARITY_COLUMNS = ["MAD", "MD_above", "MD_below", "AD", "AUC", "xpos_flips", "ypos_flips", "xpos_reversals",
                  "ypos_reversals", "RT", "initiation_time", "idle_time", "total_dist", "vel_max", "sample_entropy"]


def mouselab(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MOUSELAB_DEBUG"}
    return subprocess.run([sys.executable, "-m", "mouselab", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def need_conformance() -> Path:
    return conformance_dir()


@pytest.mark.parametrize("args", [[], ["ingest"], ["measures"], ["measures", "list"], ["measures", "session"],
                                  ["store"], ["store", "verify"], ["report"], ["report", "run"], ["study"],
                                  ["study", "run"], ["synth"], ["privacy", "consent"],
                                  ["privacy", "consent", "withdraw"], ["capture", "consent", "withdraw"]])
def test_every_command_has_help(args):
    r = mouselab(*args, "--help")
    assert r.returncode == 0, r.stderr
    assert "Usage:" in r.stdout and len(r.stdout.splitlines()) > 3


def test_bad_input_gives_one_line_error_and_nonzero_exit(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text('"mt_id","subject_nr","timestamps","xpos","ypos"\n"a",1,0,0,0\n"a",1,10,oops,0\n')
    r = mouselab("ingest", "mousetrap", str(bad), "--store", str(tmp_path / "st"), "--on-error", "fail")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "bad.csv" in lines[0] and "line 3" in lines[0] and "'xpos'" in lines[0] and "'oops'" in lines[0]
    info = mouselab("store", "info", str(tmp_path / "st"), "--json")
    if info.returncode == 0:  # the store was created empty or not at all; never with partial rows
        assert '"rows": 0' in info.stdout and '"rows": 1' not in info.stdout


def test_bad_rows_are_quarantined_by_default_and_reported(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text('"mt_id","subject_nr","timestamps","xpos","ypos"\n"a",1,0,0,0\n"a",1,10,oops,0\n"a",1,20,3,3\n')
    r = mouselab("ingest", "mousetrap", str(bad), "--store", str(tmp_path / "st"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "1 quarantined" in r.stdout
    from mouselab.store import Store

    quarantined = Store(tmp_path / "st").read("quarantine")
    assert quarantined.height == 1 and quarantined["line"][0] == 3 and quarantined["column"][0] == "xpos"
    assert Store(tmp_path / "st").read("samples").height == 2


def test_missing_store_is_a_clear_error(tmp_path):
    r = mouselab("store", "info", str(tmp_path / "nowhere"))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "not a mouselab store" in r.stderr


def test_store_verify_exit_code_tracks_a_flipped_byte(tmp_path):
    need_conformance()
    store = tmp_path / "st"
    assert mouselab("ingest", "mousetrap", str(CONFORMANCE / "mt_example_trajectories.csv.gz"), "--store", str(store)).returncode == 0
    ok = mouselab("store", "verify", str(store))
    assert ok.returncode == 0 and ok.stdout.startswith("ok")
    victim = next(store.glob("samples/**/*.parquet"))
    data = bytearray(victim.read_bytes())
    data[100] ^= 0x40
    victim.write_bytes(bytes(data))
    bad = mouselab("store", "verify", str(store))
    assert bad.returncode == 1 and "SHA-256 mismatch" in bad.stderr


@pytest.mark.parametrize("prefix", ["mt_example", "KH2017", "KH2017_imported"])
def test_cli_reproduces_mousetrap_measures(tmp_path, prefix):
    conf = need_conformance()
    store, out = tmp_path / "st", tmp_path / "m.csv"
    r = mouselab("ingest", "mousetrap", str(conf / f"{prefix}_trajectories.csv.gz"), "--store", str(store), "--study", "conf")
    assert r.returncode == 0, r.stderr
    # an ungoverned store exports the ids as stored (mousetrap's trial ids are needed to join)
    r = mouselab("measures", "--store", str(store), "--preset", "mousetrap", "--out", str(out))
    assert r.returncode == 0, r.stderr
    got = pl.read_csv(out, infer_schema_length=None)
    ref = pl.read_csv(conf / f"{prefix}_measures.csv", infer_schema_length=None)
    joined = ref.join(got, left_on="mt_id", right_on="trial", how="left", suffix="_got")
    assert joined.height == ref.height == got.height
    numeric = [c for c in ref.columns if ref[c].dtype.is_numeric() and c not in ("subject_nr", "count_trial", "correct")]
    assert set(PARITY_COLUMNS) <= set(numeric)
    off = {}
    for col in numeric:
        a, b = joined[col].cast(pl.Float64), joined[f"{col}_got"].cast(pl.Float64)
        both_missing = a.is_null() & b.is_null()
        worst = (a - b).abs().filter(~both_missing).fill_null(float("inf")).max()
        if worst is not None and worst > 1e-6:
            off[col] = worst
    assert not off, f"columns off mousetrap by more than 1e-6: {off}"


def test_missing_input_file_creates_no_store(tmp_path):
    r = mouselab("ingest", "mousetrap", str(tmp_path / "nope.csv"), "--store", str(tmp_path / "st"))
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "st").exists()
