"""Notebook 03 (workday sessions): thin and parametrized like 01/02, and it renders on Balabit-format data."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat

from mouselab.ingest import ingest_files
from mouselab.report import notebook_parameters, run_notebook
from mouselab.store import Store

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "03_workday_sessions.ipynb"
BALABIT = ROOT / "tests" / "fixtures" / "ingest" / "balabit" / "training_files"


def test_notebook_is_thin_and_parametrized():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for line in code[0].source.splitlines():
        assert ":" in line.split("=")[0] and "  # " in line, line
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None
        defs = [n for n in ast.walk(ast.parse(cell.source))
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defs
    declared = notebook_parameters(NOTEBOOK)
    assert {"store", "study", "participants", "seed", "alpha"} <= set(declared)
    assert declared["store"].default == "../data/sample/store" and declared["study"].default == "cogload"
    assert "plot.enable_offline_charts()" in "\n".join(c.source for c in code)
    assert "What these data cannot show" in "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_workday_report_renders_on_balabit_sessions(tmp_path):
    store = Store.create(tmp_path / "bb")
    ingest_files("balabit", [BALABIT], store=store, study="balabit")
    result = run_notebook(NOTEBOOK, out_dir=tmp_path / "out", parameters={
        "store": str(store.path), "study": "balabit", "participants": "user12,user29", "bin_min": 0.5})
    assert result.ok, result.error
    assert set(result.results["action_counts"]) == {"MM", "PC", "DD"}
    sessions = result.results["sessions"]["rows"]
    # by default the report labels people and sessions neutrally: the sessions are there, the ids are not
    # (user12 has two sessions, user29 one; session ids are file names that name the user's folder)
    assert sorted((r[0], r[1]) for r in sessions)[0][1] == "session 1"
    assert sorted(r[1] for r in sessions) == ["session 1", "session 1", "session 2"]
    assert {r[0] for r in sessions} == {"person 1", "person 2"}
    html = result.html.read_text()
    assert "session_0" not in html and "session_2" not in html  # (the ids asked for stay in the parameters)
    assert html.count("vegaEmbed(") >= 5 and "<script src=" not in html
    labelled = run_notebook(NOTEBOOK, out_dir=tmp_path / "ids", parameters={
        "store": str(store.path), "study": "balabit", "participants": "user12,user29", "bin_min": 0.5,
        "show_ids": True})
    assert {(r[0], r[1]) for r in labelled.results["sessions"]["rows"]} == {
        ("user12", "session_0041905381"), ("user12", "session_0113960221"), ("user29", "session_2144641057")}
