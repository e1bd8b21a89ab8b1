"""Where the mousetrap conformance data live (../shared/conformance beside the repo) and how tests read it.

Absent on a user's clone: tests skip with the reason. Under CI (CI=true) absence is a failure."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import polars as pl
import pytest

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"


def conformance_dir() -> Path:
    if (CONFORMANCE / "README.md").is_file():
        return CONFORMANCE
    msg = f"mousetrap conformance data not found at {CONFORMANCE} (expected ../shared/conformance beside the repo)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{msg}; CI=true requires it")
    pytest.skip(msg)


@cache
def read_conformance(name: str) -> pl.DataFrame:
    """One conformance CSV (R's NA as null), cached for the session; skips/fails when the data are absent."""
    return pl.read_csv(conformance_dir() / name, null_values="NA", infer_schema_length=None)
