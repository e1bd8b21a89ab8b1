"""Grouped partition reads (mouselab.study.read_partitions): the same frames as one read per file, groups
that respect their limits, a clear error when a file disagrees with the manifest, and measures that do
not depend on how partitions are grouped."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

import mouselab.study as study
from mouselab.store import Store


def _parts(store: Store) -> list[study.Partition]:
    return [p for p in study.sample_partitions(store) if p.rows]


def test_grouped_read_equals_one_read_per_file(sample_store) -> None:
    parts = _parts(Store(sample_store))
    grouped = study.read_partitions(parts[:7])
    assert len(grouped) == 7
    for part, frame in zip(parts[:7], grouped):
        alone = pl.read_parquet(part.path, columns=["session", "trial", "t_ms", "x", "y"])
        assert frame.equals(alone.filter(pl.col("trial").is_not_null()))


def test_free_use_rows_are_left_out_unless_asked(sample_store) -> None:
    parts = _parts(Store(sample_store))
    mixed = [p for p in parts if pl.read_parquet(p.path, columns=["trial"])["trial"].null_count()]
    assert mixed, "the sample study has free-use sessions beside trials"
    kept = study.read_partitions(mixed[:1], trials_only=False)[0]
    dropped = study.read_partitions(mixed[:1])[0]
    assert kept.height == mixed[0].rows
    assert dropped.height == kept.height - kept["trial"].null_count()


def test_partition_groups_respect_row_and_file_limits() -> None:
    parts = [study.Partition(f"p{i}", "s", f"P{i}", rows) for i, rows in enumerate([5, 5, 5, 20, 1, 1, 1, 1])]
    groups = study.partition_groups(parts, max_rows=10, max_files=3)
    assert [[p.path for p in g] for g in groups] == [["p0", "p1"], ["p2"], ["p3"], ["p4", "p5", "p6"], ["p7"]]
    assert [p for g in groups for p in g] == parts  # order kept, nothing lost


def test_a_file_that_disagrees_with_the_manifest_is_named(sample_store, tmp_path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(sample_store, copy)
    parts = _parts(Store(copy))
    victim = parts[1]
    frame = pl.read_parquet(victim.path)
    frame.head(frame.height - 3).write_parquet(victim.path)  # a damaged (truncated) file
    with pytest.raises(ValueError, match=r"holds \d+ rows but the store manifest records") as info:
        study.read_partitions(parts[:3])
    assert victim.path in str(info.value) and "store verify" in str(info.value)


def test_measures_do_not_depend_on_the_grouping(sample_store, monkeypatch) -> None:
    store = Store(sample_store)
    grouped = study.trial_measures(store, preset="mousetrap", n_threads=2)
    original = study.partition_groups
    monkeypatch.setattr(study, "partition_groups", lambda parts: original(parts, max_files=1))
    one_by_one = study.trial_measures(store, preset="mousetrap", n_threads=1)
    assert grouped.equals(one_by_one)
