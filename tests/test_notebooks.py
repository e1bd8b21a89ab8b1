"""The study notebooks are thin: parameters first, no definitions, no outputs in git."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from mouselab.report import notebook_parameters, study_notebooks

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = study_notebooks(NOTEBOOKS)
SHARED = {
    "store": (str, "../data/sample/store"),
    "study": (str, "cogload"),
    "participants": (str, ""),
    "seed": (int, 20261126),
}
#: declared by the notebooks that use them; where declared, the same type and default everywhere
OPTIONAL = {
    "preset": (str, "mousetrap"),
    "alpha": (float, 0.05),
}


def test_the_study_notebooks_exist_in_order():
    names = [p.name for p in PATHS]
    assert names[:2] == ["01_data_quality.ipynb", "02_cognitive_load.ipynb"]
    assert names == sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert len({n[:2] for n in names}) == len(names), "two notebooks share a number"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_notebook_is_valid_and_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs committed"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_first_code_cell_is_the_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", [])
    for line in first.source.splitlines():
        assert ":" in line.split("=")[0] and "  # " in line, f"not 'name: type = default  # help': {line!r}"
    declared = notebook_parameters(path)
    for name, (kind, default) in SHARED.items():
        assert name in declared, f"{path.name} does not declare {name!r}"
        assert declared[name].type is kind and declared[name].default == default, name
        assert declared[name].help
    for name, (kind, default) in OPTIONAL.items():
        if name in declared:
            assert declared[name].type is kind and declared[name].default == default, name


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_no_function_or_class_definitions(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                             ast.Lambda))]
        assert not defs, f"{path.name}: definitions belong in the library, found {ast.unparse(defs[0])[:60]!r}"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_charts_are_enabled_offline(path):
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert "plot.enable_offline_charts()" in source
