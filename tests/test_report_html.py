"""run_notebook end to end on a tiny notebook: offline HTML, provenance, recorded results, failures."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mouselab.report import RESULT_MIME, run_notebook

#: URLs that may appear as plain text inside the Vega bundle or specs (namespaces, schema ids, doc links);
#: none of them is ever requested. Anything else in the HTML counts as an external reference.
ALLOWED_URL_PREFIXES = (
    "http://www.w3.org/", "https://vega.github.io/schema/", "https://vega.github.io/editor",
    "https://github.com/vega/",
)
RESOURCE_REF = re.compile(r"""(?:src|href|srcset|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def external_references(html: str) -> list[str]:
    """Every way an HTML page could reach the network, as found in the text."""
    found = [m.group(0) for m in RESOURCE_REF.finditer(html)]
    found += re.findall(r"url\(\s*['\"]?\s*(?:https?:)?//[^)]*\)", html, flags=re.I)
    found += re.findall(r"@import\s+['\"]?(?:url\()?\s*['\"]?(?:https?:)?//", html, flags=re.I)
    found += [u for u in re.findall(r"https?://[^\s\"'<>`)\\]+", html) if not u.startswith(ALLOWED_URL_PREFIXES)]
    return found


def assert_offline_html(html: str) -> None:
    assert "<script src" not in html.lower()
    assert not re.search(r"<script[^>]+src\s*=", html, flags=re.I)
    assert not re.search(r"<link[^>]+href\s*=\s*[\"']?(https?:)?//", html, flags=re.I)
    refs = external_references(html)
    assert not refs, f"external references in the report: {refs[:5]}"


CHART = '''import altair as alt
import polars as pl
from mouselab import plot, report
plot.enable_offline_charts()
frame = pl.DataFrame({"x": [1.0, 2.0, 3.0], "y": [seed * 1.0, seed + 1.0, seed * 2.0]})
report.show(frame, name="numbers", caption="numbers")
report.record("seed_squared", seed * seed)
alt.Chart(frame).mark_line().encode(x="x:Q", y="y:Q")'''


def tiny_notebook(path, body=CHART):
    nb = new_notebook(cells=[
        new_markdown_cell("# Tiny report\n\nSome *text* with $x^2$ math."),
        new_code_cell('store: str = ""  # store folder\nseed: int = 3  # seed', metadata={"tags": ["parameters"]}),
        new_code_cell(body),
        new_code_cell("alt.Chart(frame).mark_point().encode(x='x:Q', y='y:Q')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    path = tiny_notebook(root / "01_tiny.ipynb")
    return run_notebook(path, parameters={"seed": "5"}, out_dir=root / "out")


def test_report_files_status_and_title(tiny_report):
    r = tiny_report
    assert r.ok, r.error
    assert r.ipynb.exists() and r.html.exists() and r.title == "Tiny report"
    assert r.parameters == {"store": "", "seed": 5}


def test_html_is_self_contained_and_offline(tiny_report):
    html = tiny_report.html.read_text(encoding="utf-8")
    assert_offline_html(html)
    assert html.count("window.vegaEmbed=") == 1  # the Vega bundle once per report
    assert html.count("class=\"mouselab-chart\"") == 2
    for cdn in ("cdnjs", "unpkg.com", "jsdelivr", "require.min.js", "mermaid.esm", "tex-chtml"):
        assert cdn not in html, cdn


def test_provenance_in_metadata_and_html(tiny_report):
    nb = nbformat.read(tiny_report.ipynb, as_version=4)
    prov = nb.metadata["mouselab"]["provenance"]
    for key in ("mouselab_version", "git_commit", "parameters", "seed", "input", "versions", "started", "finished",
                "duration_s", "status"):
        assert key in prov, key
    assert prov["seed"] == 5 and prov["parameters"]["seed"] == 5 and prov["status"] == "ok"
    assert prov["input"]["content_sha256"] == "none"
    assert {"python", "polars", "duckdb", "mouselab"} <= set(prov["versions"])
    assert prov["git_commit"] == "unknown" or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", prov["git_commit"])
    html = tiny_report.html.read_text(encoding="utf-8")
    assert 'id="mouselab-provenance"' in html and prov["started"] in html
    assert "seed = 5" in html and prov["versions"]["polars"] in html


def test_code_is_folded_and_results_recorded(tiny_report):
    html = tiny_report.html.read_text(encoding="utf-8")
    assert html.count('<details class="ml-code">') >= 3
    assert "parameters used for this run" in html  # papermill's injected cell, folded
    assert tiny_report.results["seed_squared"] == 25
    assert tiny_report.results["numbers"] == {"columns": ["x", "y"], "rows": [[1.0, 5.0], [2.0, 6.0], [3.0, 10.0]]}
    nb = nbformat.read(tiny_report.ipynb, as_version=4)
    assert any(RESULT_MIME in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_a_failing_notebook_still_writes_its_report(tmp_path):
    path = tiny_notebook(tmp_path / "01_broken.ipynb", body="raise ValueError('no such study: demo')")
    r = run_notebook(path, parameters={}, out_dir=tmp_path / "out")
    assert not r.ok and r.status == "failed"
    assert "ValueError" in r.error and "no such study" in r.error
    html = r.html.read_text(encoding="utf-8")
    assert "FAILED" in html and "no such study" in html
    assert nbformat.read(r.ipynb, as_version=4).metadata["mouselab"]["provenance"]["status"] == "failed"


def test_missing_notebook_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_notebook(tmp_path / "nope.ipynb", parameters={}, out_dir=tmp_path)


def test_cli_report_run_writes_the_report(tmp_path, capsys):
    from mouselab.cli.main import main

    path = tiny_notebook(tmp_path / "01_cli.ipynb")
    code = main(["report", "run", str(path), "-p", "seed=4", "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "01_cli.html").exists() and "ok" in capsys.readouterr().out
    prov = nbformat.read(tmp_path / "out" / "01_cli.ipynb", as_version=4).metadata["mouselab"]["provenance"]
    assert prov["parameters"]["seed"] == 4


def test_browser_checks_skip_off_ci_and_fail_on_ci(monkeypatch):
    from conftest import skip_or_fail

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        skip_or_fail("no chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required when CI=true"):
        skip_or_fail("no chromium")
