"""The parameters-cell contract: parsing, coercion, and refusing unknown names before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mouselab.report import (
    ParameterError,
    check_parameters,
    notebook_parameters,
    parse_assignments,
    parse_parameters_source,
    run_notebook,
)

SOURCE = '''store: str = "../data/sample/store"  # store folder, relative to the notebook
alpha: float = 0.05  # significance level
seed: int = 7  # random seed
verbose: bool = False  # print more
plain = 3
'''


def write_notebook(path, source=SOURCE, extra_cells=()):
    nb = new_notebook(cells=[new_markdown_cell("# Title"), new_code_cell(source, metadata={"tags": ["parameters"]}),
                             *extra_cells])
    nbformat.write(nb, path)
    return path


def test_parse_names_types_defaults_and_help():
    params = parse_parameters_source(SOURCE)
    assert list(params) == ["store", "alpha", "seed", "verbose", "plain"]
    assert params["store"].type is str and params["store"].default == "../data/sample/store"
    assert params["store"].help == "store folder, relative to the notebook"
    assert params["alpha"].type is float and params["alpha"].default == 0.05
    assert params["seed"].type is int and params["seed"].help == "random seed"
    assert params["verbose"].type is bool and params["verbose"].default is False
    assert params["plain"].type is int and params["plain"].help == ""


def test_int_default_for_float_parameter_is_a_float():
    params = parse_parameters_source("alpha: float = 1  # x")
    assert params["alpha"].default == 1.0 and isinstance(params["alpha"].default, float)


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("x: list = []", "use one of str, int, float, bool"),
        ("x: int = 1 + len('a')", "must be a literal"),
        ("x: int = 1\nx: int = 2", "declared twice"),
        ("print('hi')", "only 'name: type = value  # help' lines"),
        ("x: int = 'a'", "is not of type int"),
        ("x: int =", "cannot parse"),
        ("x = [1, 2]", "declare it as 'name: type = value'"),
    ],
)
def test_bad_parameter_cells_are_explained(source, fragment):
    with pytest.raises(ParameterError, match=None) as info:
        parse_parameters_source(source, where="nb.ipynb: parameters cell")
    assert fragment in str(info.value)
    assert "nb.ipynb" in str(info.value)


def test_unknown_parameter_lists_valid_names_with_help():
    declared = parse_parameters_source(SOURCE)
    with pytest.raises(ParameterError) as info:
        check_parameters(declared, {"alhpa": 0.1}, notebook="02_x.ipynb")
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "'alhpa'" in message and "did you mean 'alpha'" in message and "02_x.ipynb" in message
    for name in declared:
        assert name in message
    assert "significance level" in message and "store folder, relative to the notebook" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "name, given, expected",
    [
        ("alpha", "0.01", 0.01),
        ("alpha", 1, 1.0),
        ("seed", "42", 42),
        ("seed", 42.0, 42),
        ("verbose", "true", True),
        ("verbose", "No", False),
        ("verbose", 1, True),
        ("store", "x/y", "x/y"),
    ],
)
def test_values_are_coerced_to_the_declared_type(name, given, expected):
    out = check_parameters(parse_parameters_source(SOURCE), {name: given})
    assert out[name] == expected and type(out[name]) is type(expected)


@pytest.mark.parametrize(
    "name, given", [("alpha", "abc"), ("alpha", True), ("seed", "1.5"), ("seed", 1.5), ("verbose", "maybe"),
                    ("store", 3), ("alpha", "nan")],
)
def test_wrong_types_are_refused_with_the_parameter_named(name, given):
    with pytest.raises(ParameterError, match=f"parameter '{name}' expects"):
        check_parameters(parse_parameters_source(SOURCE), {name: given})


def test_parse_assignments():
    assert parse_assignments(["alpha=0.01", "participants=P01,P02", "store=a=b"]) == {
        "alpha": "0.01", "participants": "P01,P02", "store": "a=b"}
    with pytest.raises(ParameterError, match="name=value"):
        parse_assignments(["alpha"])
    with pytest.raises(ParameterError, match="name=value"):
        parse_assignments(["1x=3"])


def test_notebook_parameters_reads_the_tagged_cell(tmp_path):
    path = write_notebook(tmp_path / "01_demo.ipynb")
    assert list(notebook_parameters(path)) == ["store", "alpha", "seed", "verbose", "plain"]
    assert notebook_parameters(json.loads(path.read_text())).keys() == notebook_parameters(path).keys()
    bare = tmp_path / "bare.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), bare)
    assert notebook_parameters(bare) == {}
    with pytest.raises(FileNotFoundError):
        notebook_parameters(tmp_path / "missing.ipynb")


def test_run_notebook_rejects_unknown_parameters_before_running(tmp_path):
    path = write_notebook(tmp_path / "01_demo.ipynb", extra_cells=[new_code_cell("raise SystemExit('must not run')")])
    out = tmp_path / "out"
    with pytest.raises(ParameterError, match="unknown parameter 'sed'"):
        run_notebook(path, parameters={"sed": 1}, out_dir=out)
    with pytest.raises(ParameterError, match="expects int"):
        run_notebook(path, parameters={"seed": "x"}, out_dir=out)
    assert not out.exists() or not any(out.iterdir())


def test_run_study_rejects_a_name_no_notebook_declares(tmp_path):
    from mouselab.report import run_study

    write_notebook(tmp_path / "01_a.ipynb")
    write_notebook(tmp_path / "02_b.ipynb", source='other: str = "x"  # only here')
    with pytest.raises(ParameterError) as info:
        run_study(tmp_path, out_dir=tmp_path / "out", parameters={"nope": 1}, progress=False)
    assert "other" in str(info.value) and "alpha" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_cli_unknown_parameter_is_a_one_line_error(capsys):
    from mouselab.cli.main import main

    NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
    code = main(["report", "run", str(NOTEBOOKS / "02_cognitive_load.ipynb"), "-p", "alhpa=0.1"])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1
    assert "unknown parameter 'alhpa'" in err and "alpha" in err and "seed" in err

    code = main(["study", "run", str(NOTEBOOKS), "--out", "/nonexistent/never", "-p", "nope=1"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "unknown parameter 'nope'" in err


def test_missing_store_and_kernel_are_caught_before_running(tmp_path):
    path = write_notebook(tmp_path / "01_demo.ipynb")
    with pytest.raises(FileNotFoundError, match="store 'nowhere' not found"):
        run_notebook(path, parameters={"store": "nowhere"}, out_dir=tmp_path / "out")
    with pytest.raises(ValueError, match="no Jupyter kernel named 'no-such-kernel'"):
        run_notebook(path, parameters={}, out_dir=tmp_path / "out", kernel_name="no-such-kernel")
    assert not (tmp_path / "out").exists()
