"""The registry is complete (every measure documented) and docs/measures.md is generated from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl

from mouselab.measures import MEASURES, PARAMETERS, PRESETS, SESSION_MEASURES, list_measures, render_reference

DOCS = Path(__file__).resolve().parents[1] / "docs" / "measures.md"


def test_docs_measures_md_is_up_to_date() -> None:
    assert DOCS.exists(), "docs/measures.md is missing: run `mouselab measures docs --out docs/measures.md`"
    assert DOCS.read_text(encoding="utf-8") == render_reference(), (
        "docs/measures.md is stale: run `mouselab measures docs --out docs/measures.md`")


def test_every_measure_has_unit_definition_reference_and_known_parameters() -> None:
    for m in [*MEASURES.values(), *SESSION_MEASURES.values()]:
        assert m.unit and m.definition and m.reference, m.name
        assert m.level in ("trial", "session")
        assert set(m.parameters) <= set(PARAMETERS), m.name
        assert f"`{m.name}`" in render_reference()
    for name, names in PRESETS.items():
        assert set(names) <= set(MEASURES), name
    table = list_measures()
    assert set(table["level"]) == {"trial", "session", "sample"}
    assert table.filter(pl.col("name") == "vel_max_time")["definition"][0].count("quirk") == 1


def test_cli_list_prints_the_registry_and_docs_check_detects_staleness(tmp_path) -> None:
    r = subprocess.run([sys.executable, "-m", "mouselab", "measures", "list"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in [*MEASURES, *SESSION_MEASURES]:
        assert name in r.stdout
    md = subprocess.run([sys.executable, "-m", "mouselab", "measures", "list", "--preset", "hci", "--markdown"],
                        capture_output=True, text=True)
    assert md.returncode == 0 and md.stdout.count("\n") == len(PRESETS["hci"]) + 2
    out = tmp_path / "measures.md"
    assert subprocess.run([sys.executable, "-m", "mouselab", "measures", "docs", "--out", str(out)]).returncode == 0
    ok = subprocess.run([sys.executable, "-m", "mouselab", "measures", "docs", "--out", str(out), "--check"],
                        capture_output=True, text=True)
    assert ok.returncode == 0
    out.write_text(out.read_text() + "edited\n")
    stale = subprocess.run([sys.executable, "-m", "mouselab", "measures", "docs", "--out", str(out), "--check"],
                           capture_output=True, text=True)
    assert stale.returncode == 1 and "stale" in stale.stderr
