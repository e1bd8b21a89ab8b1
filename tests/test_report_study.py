"""The sample study rendered end to end: reports, index, planted effects in the summary, reproducibility,
and every report opened in headless Chromium with the network blocked."""

from __future__ import annotations

import math
import re

import nbformat
import pytest

from test_report_html import assert_offline_html

from conftest import NOTEBOOKS

pytestmark = pytest.mark.slow


def test_every_notebook_renders(rendered_study):
    out, results = rendered_study
    names = [r.notebook.name for r in results]
    assert names[:2] == ["01_data_quality.ipynb", "02_cognitive_load.ipynb"]
    assert names == sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for r in results:
        assert r.ok, f"{r.notebook.name}: {r.error}"
        assert r.html.exists() and r.ipynb.exists()
        assert_offline_html(r.html.read_text(encoding="utf-8"))
        prov = nbformat.read(r.ipynb, as_version=4).metadata["mouselab"]["provenance"]
        assert re.fullmatch(r"[0-9a-f]{64}", prov["input"]["content_sha256"]), prov["input"]
        assert prov["seed"] == 20261126


def test_index_links_every_report(rendered_study):
    out, results = rendered_study
    index = (out / "index.html").read_text(encoding="utf-8")
    assert_offline_html(index)
    for r in results:
        assert f'href="{r.html.name}"' in index and r.title in index
    assert index.count('class="ok"') == len(results)
    assert results[0].provenance["input"]["content_sha256"][:16] in index
    assert "Study cogload" in index


def test_data_quality_numbers(rendered_study):
    _, results = rendered_study
    numbers = results[0].results
    sessions = {row[0]: row for row in numbers["sessions"]["rows"]}
    assert set(sessions) == {"s1", "free1"}
    counts = dict(zip(numbers["trial_counts"]["columns"], zip(*numbers["trial_counts"]["rows"])))
    assert set(counts["condition"]) == {"low", "high"} and all(n == 30 for n in counts["participants"])
    assert numbers["quarantine"] == {"rows": 0} or numbers["quarantine"]["rows"]
    assert len(numbers["participants"]) == 30


def model_rows(results):
    table = results[1].results["mixed_models"]
    return [dict(zip(table["columns"], row)) for row in table["rows"]]


def test_planted_effects_are_found_and_described(rendered_study):
    _, results = rendered_study
    rows = {r["outcome"]: r for r in model_rows(results) if r["term"] == "condition[T.high]"}
    for measure in ("MAD", "initiation_time", "xpos_flips", "micro_hesitation_count"):
        row = rows[measure]
        assert row["estimate"] > 0 and row["ci_low"] > 0 and row["p"] < 0.05, measure
        assert row["converged"] is True
    assert 60 < rows["initiation_time"]["estimate"] < 180  # planted: +120 ms latency
    summary = results[1].results["summary"]
    assert len(summary) == 6
    for measure in ("MAD", "initiation_time", "xpos_flips", "micro_hesitation_count"):
        sentence = next(s for s in summary if f" {measure} " in s)
        assert sentence.startswith("High load increased") and "compared with low load" in sentence
    html = results[1].html.read_text(encoding="utf-8")
    assert "High load increased MAD by" in html


def test_same_inputs_and_seed_give_the_same_numbers(rendered_study, notebooks_copy, sample_store, tmp_path):
    from mouselab.report import run_study

    _, first = rendered_study
    again = run_study(notebooks_copy, out_dir=tmp_path / "again", parameters={"store": str(sample_store.resolve())},
                      progress=False)
    for a, b in zip(first, again):
        assert a.results.keys() == b.results.keys() and a.results, a.notebook.name
        assert_same(a.results, b.results, where=a.notebook.name)
        assert a.provenance["input"] == b.provenance["input"]
        assert a.provenance["started"] <= b.provenance["started"]


def assert_same(a, b, *, where):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], where=f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, where=f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), where
    else:
        assert a == b, where


@pytest.mark.browser
def test_reports_render_offline_in_chromium(rendered_study, chromium_browser):
    out, results = rendered_study
    pages = sorted(out.glob("*.html"))
    assert len(pages) == len(results) + 1
    for page_path in pages:
        context = chromium_browser.new_context()
        outside, errors = [], []

        def route(r, outside=outside):
            if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
                return r.continue_()
            outside.append(r.request.url)
            return r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.goto(page_path.as_uri(), wait_until="load")
        if page_path.name != "index.html":
            page.wait_for_selector(".vega-embed svg, .vega-embed canvas", timeout=20_000)
        page.wait_for_timeout(1000)
        charts = page.evaluate("""() => {
            const vega = document.querySelectorAll('.vega-embed svg, .vega-embed canvas').length;
            const big = [...document.querySelectorAll('svg, img')].filter(e => {
                const r = e.getBoundingClientRect(); return r.width > 100 && r.height > 100; }).length;
            return Math.max(vega, big);
        }""")
        failed = page.evaluate("document.body.innerText.includes('chart could not be drawn')")
        context.close()
        assert not outside, f"{page_path.name} requested {outside[:3]}"
        assert not errors, f"{page_path.name}: {errors[:2]}"
        assert not failed, page_path.name
        if page_path.name != "index.html":
            assert charts >= 1, f"{page_path.name}: no chart drawn"
