"""Ingest with a configured key: no raw participant or session id reaches any file of the store."""

from __future__ import annotations

import polars as pl
import pytest

from mouselab.ingest import IngestError, ingest_files
from mouselab.privacy import keys
from mouselab.schema import TABLES
from mouselab.store import Store

RAW = ('"mt_id","subject_nr","timestamps","xpos","ypos"\n'
       '"alice-t1","alice",0,0,0\n"alice-t1","alice",10,oops,0\n"alice-t1","alice",20,3,3\n'
       '"bobby-t1","bobby",0,1,1\n"bobby-t1","bobby",10,2,2\n')


@pytest.fixture
def key_file(tmp_path, monkeypatch):
    path = tmp_path / "keys" / "pseudonym.key"
    path.parent.mkdir()
    keys.keygen(path)
    monkeypatch.setenv("MOUSELAB_KEY_FILE", str(path))
    return path


def all_text(store: Store) -> str:
    parts = []
    for name in TABLES:
        frame = store.read(name)
        for col, dtype in frame.schema.items():
            if dtype == pl.String:
                parts += [v for v in frame[col].to_list() if v is not None]
    parts += [str(p) for p in store.path.rglob("*")]
    return "\n".join(parts)


def test_configured_key_pseudonymises_every_table_and_quarantined_text(tmp_path, key_file):
    (tmp_path / "raw.csv").write_text(RAW)
    store = Store.create(tmp_path / "st")
    report = ingest_files("mousetrap", [tmp_path / "raw.csv"], store=store, study="s1")
    assert report.quarantined == 1
    store = Store(store.path)
    text = all_text(store)
    assert "alice" not in text and "bobby" not in text
    people = store.read("participants")["participant"].to_list()
    assert len(people) == 2 and all(p.startswith("p-") for p in people)
    raw_bytes = b"".join(p.read_bytes() for p in store.path.rglob("*") if p.is_file())
    assert b"alice" not in raw_bytes and b"bobby" not in raw_bytes
    # idempotent: the same file again changes nothing
    again = ingest_files("mousetrap", [tmp_path / "raw.csv"], store=store, study="s1")
    assert not again.write.changed


def test_pseudonymise_without_a_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("MOUSELAB_KEY_FILE", raising=False)
    (tmp_path / "raw.csv").write_text(RAW)
    store = Store.create(tmp_path / "st")
    with pytest.raises(IngestError, match="privacy keygen"):
        ingest_files("mousetrap", [tmp_path / "raw.csv"], store=store, study="s1", pseudonymise=True)
    assert store.read("samples").height == 0


def test_a_pseudonymised_store_refuses_raw_ids(tmp_path, key_file, monkeypatch):
    (tmp_path / "raw.csv").write_text(RAW)
    store = Store.create(tmp_path / "st")
    ingest_files("mousetrap", [tmp_path / "raw.csv"], store=store, study="s1")
    with pytest.raises(IngestError, match="pseudonymised"):
        ingest_files("mousetrap", [tmp_path / "raw.csv"], store=Store(store.path), study="s1", pseudonymise=False)
