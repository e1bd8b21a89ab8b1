"""Shared fixtures: the sample study store, a rendered sample study, and the offline browser check."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SAMPLE_STORE = ROOT / "data" / "sample" / "store"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
]


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason`` on a developer machine; fail under ``CI=true`` (the check must run there)."""
    if _on_ci():
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory) -> Path:
    """The sample study store: ``data/sample/store`` when present, else built from its seed into a tmp dir."""
    if (SAMPLE_STORE / "manifest.json").exists():
        return SAMPLE_STORE
    from mouselab.store import Store
    from mouselab.synth import build_sample_study

    path = tmp_path_factory.mktemp("sample") / "store"
    Store.create(path).write(build_sample_study(seed=20261126))
    return path


@pytest.fixture(scope="session")
def notebooks_copy(tmp_path_factory) -> Path:
    """A copy of ``notebooks/`` so test runs never touch the committed notebooks."""
    target = tmp_path_factory.mktemp("nb") / "notebooks"
    shutil.copytree(NOTEBOOKS, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return target


@pytest.fixture(scope="session")
def rendered_study(tmp_path_factory, sample_store, notebooks_copy):
    """The sample study rendered once per session: ``(out_dir, results)``."""
    from mouselab.report import run_study

    out = tmp_path_factory.mktemp("reports") / "sample"
    results = run_study(notebooks_copy, out_dir=out, parameters={"store": str(sample_store.resolve())}, progress=False)
    return out, results


@pytest.fixture(scope="session")
def chromium_browser():
    """Headless Debian Chromium via playwright (skips off-CI when missing, fails under CI=true)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        skip_or_fail(f"Debian chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
