"""Packaging stays honest: environment.yml follows pyproject.toml, CI calls the README's test command,
notebooks are committed clean, the sample data stays small."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_installs_python_pip_and_the_package_only():
    text = (ROOT / "environment.yml").read_text()
    deps = re.findall(r"^\s*-\s+(\S.*)$", text, flags=re.M)
    conda = [d for d in deps if d not in ("pip", "pip:") and not d.startswith("-e")]
    python_pins = [d for d in conda if d.startswith("python")]
    assert python_pins, "environment.yml must pin python"
    assert set(conda) - set(python_pins) - {"conda-forge"} == set(), (
        f"environment.yml lists conda packages {conda}; pyproject.toml must stay the single source of dependencies"
    )
    version = python_pins[0].split("=")[-1]
    floor = re.search(r">=\s*([\d.]+)", _pyproject()["project"]["requires-python"]).group(1)
    assert tuple(map(int, version.split("."))) >= tuple(map(int, floor.split(".")))
    editable = [d for d in deps if d.startswith("-e")]
    assert editable, "environment.yml must install the package itself with pip -e"
    extras = re.search(r"\[(.*)\]", editable[0]).group(1).split(",")
    assert set(extras) <= set(_pyproject()["project"]["optional-dependencies"])


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)\s*(?:#.*)?$", quick, flags=re.M)
    assert commands[:2] == ["make demo", "make test"], commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)


def test_notebooks_are_committed_without_outputs_and_with_parameters():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks"
    for path in notebooks:
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert code and "parameters" in code[0].get("metadata", {}).get("tags", []), f"{path.name}: first code cell not tagged parameters"
        assert not any(c.get("outputs") for c in code), f"{path.name} has stored outputs"
        assert not any(c.get("execution_count") for c in code), f"{path.name} has execution counts"
        for cell in code:
            src = "".join(cell["source"])
            assert not re.search(r"^\s*(def|class)\s", src, flags=re.M), f"{path.name}: define functions in mouselab/, not in notebooks"


def test_sample_data_is_small():
    total = sum(p.stat().st_size for p in (ROOT / "data" / "sample").rglob("*") if p.is_file())
    assert 0 < total < 5 * 1024 * 1024, f"data/sample is {total / 1e6:.1f} MB"


def test_sample_readme_schema_matches_the_contract():
    from mouselab.schema import describe

    readme = (ROOT / "data" / "sample" / "README.md").read_text()
    assert describe().strip() in readme, "data/sample/README.md schema is stale: paste mouselab.schema.describe()"
