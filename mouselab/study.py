"""Study-level glue between the store and the pure layers: load trials from a store, compute measures,
join trial covariates. Notebooks and the CLI call these so they hold no logic of their own."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from mouselab.store import Store

TRIAL_KEY = ["study", "participant", "session", "trial"]
#: trial covariates joined onto measures tables
COVARIATES = ["trial_index", "condition", "correct", "response", "stimulus"]


def parse_participants(text: str | Sequence[str] | None) -> list[str] | None:
    """``"P01, P02"`` → ``["P01", "P02"]``; empty or None → None (all participants)."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    cleaned = [p.strip() for p in items if p and p.strip()]
    return cleaned or None


def trial_samples(store: Store, *, study: str | None = None, participants: Sequence[str] | None = None) -> pl.LazyFrame:
    """Samples that belong to trials (free-use rows with a null trial are left out), pruned by partition."""
    _check_known(store, study=study, participants=participants)
    return store.scan("samples", study=study, participants=participants).filter(pl.col("trial").is_not_null())


def trial_measures(
    store: Store,
    *,
    study: str | None = None,
    participants: Sequence[str] | None = None,
    preset: str = "mousetrap",
) -> pl.DataFrame:
    """One row per trial: key columns, trial covariates, then the measures of ``preset``."""
    from mouselab.measures import compute_measures

    samples = trial_samples(store, study=study, participants=participants)
    measures = compute_measures(samples, preset=preset)
    trials = store.scan("trials", study=study, participants=participants)
    present = [c for c in COVARIATES if c in trials.collect_schema().names()]
    covariates = trials.select(TRIAL_KEY + present).collect()
    out = covariates.join(measures, on=TRIAL_KEY, how="right")
    return out.select(TRIAL_KEY + present + [c for c in measures.columns if c not in TRIAL_KEY]).sort(
        ["study", "participant", "session", "trial"]
    )


def _check_known(store: Store, *, study: str | None, participants: Sequence[str] | None) -> None:
    info = store.info()["tables"]["samples"]
    if study is not None and study not in info["studies"]:
        known = ", ".join(info["studies"]) or "none"
        raise ValueError(f"study {study!r} is not in the store {store.path} (studies: {known})")
    if participants:
        have = {e.partition.get("participant") for e in store.manifest.tables["samples"].values()}
        unknown = sorted(set(participants) - have)
        if unknown:
            raise ValueError(f"participant(s) {', '.join(unknown)} not in the store {store.path}")
