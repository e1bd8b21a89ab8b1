"""Helpers shared by the privacy tests (no tests here): keys in a folder outside the store, a small store
whose raw ids are distinctive strings, and a byte scan of every file that also decodes Parquet."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

RAW = ("alice-7731", "bob-0420", "carol-5555", "dave-9090", "erin-1212")
SESSIONS = ("2024-01-05-morning", "2024-02-11-evening")


def raw_frames(people=RAW, sessions=SESSIONS, study: str = "st", n: int = 6) -> dict[str, pl.DataFrame]:
    """Samples / events / trials / participants / ingest_log with raw ids also inside trial ids and paths."""
    rows, events = [], []
    for k, p in enumerate(people):
        for s in sessions:
            for tr in range(3):
                trial = f"{p}-{s}-t{tr}"
                for i in range(n):
                    rows.append(dict(study=study, participant=p, session=s, trial=trial, t_ms=float(i * 16),
                                     x=float(100 + i * (3 + k)), y=float(200 + i * (2 + k)), event="move", buttons=0))
            events.append(dict(study=study, participant=p, session=s, trial=None, t_ms=1.0, kind="focus",
                               app="Firefox"))
    samples = pl.DataFrame(rows)
    trials = (samples.select("study", "participant", "session", "trial").unique(maintain_order=True)
              .with_columns(pl.lit(1, dtype=pl.Int32).alias("trial_index")))
    participants = pl.DataFrame({"study": [study] * len(people), "participant": list(people),
                                 "handedness": ["right"] * len(people)})
    ingest_log = pl.DataFrame({
        "study": [study] * len(people), "source_file": [f"/data/{p}/{sessions[0]}.csv" for p in people],
        "sha256": ["0" * 64] * len(people), "bytes": [1] * len(people), "format": ["generic"] * len(people),
        "records_read": [1] * len(people), "rows_stored": [1] * len(people), "rows_quarantined": [0] * len(people),
        "events": [0] * len(people), "trials": [0] * len(people), "reasons": ["{}"] * len(people),
        "options": ["{}"] * len(people),
    })
    return {"samples": samples, "events": pl.DataFrame(events), "trials": trials, "participants": participants,
            "ingest_log": ingest_log}


@pytest.fixture()
def keyed(tmp_path, monkeypatch):
    """Pseudonym and audit keys outside the store, configured through the environment."""
    from mouselab.privacy import keys

    folder = tmp_path / "keys"
    keys.keygen(folder / "pseudonym.key")
    keys.keygen(folder / "audit.key")
    monkeypatch.setenv("MOUSELAB_KEY_FILE", str(folder / "pseudonym.key"))
    monkeypatch.setenv("MOUSELAB_AUDIT_KEY_FILE", str(folder / "audit.key"))
    monkeypatch.setenv("MOUSELAB_OPERATOR", "tester")
    return folder


def make_store(tmp_path: Path, people=RAW, *, consent_for=RAW, purposes=None) -> Path:
    """A governed, pseudonymised store (keys must be configured) holding ``people``."""
    from mouselab.privacy import consent, governance, keys, pseudonym
    from mouselab.store import Store

    store = tmp_path / "store"
    Store.create(store)
    for p in consent_for:
        consent.grant(store, p, "st")
    if purposes is not None:
        governance.update_policy(store, purposes=list(purposes))
    frames = pseudonym.pseudonymise_frames(raw_frames(people), key=keys.configured_chain(store))
    Store(store).write(frames)
    return store


def all_bytes(root: Path):
    """(relative path, bytes) of every file under ``root``."""
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            yield str(path.relative_to(root)), path.read_bytes()


def decoded_text(root: Path) -> str:
    """Every text value of every Parquet file (``*.parquet``, ``*.seg``) under ``root``, joined."""
    parts = []
    for path in sorted(Path(root).rglob("*")):
        if path.is_file() and path.read_bytes()[:4] == b"PAR1":
            frame = pl.read_parquet(path)
            for col, dtype in frame.schema.items():
                if dtype == pl.String:
                    parts += [v for v in frame[col].to_list() if v is not None]
    return "\n".join(parts)


def env_without_keys() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("MOUSELAB_KEY_FILE", "MOUSELAB_AUDIT_KEY_FILE")}
