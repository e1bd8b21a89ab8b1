"""The store manifest: which files make up each table, with their SHA-256, row count and size.

The manifest is the store's commit point. A file that is on disk but not in the manifest is invisible to
every reader (it is the remains of a crashed write and is removed by the next write or ``gc``). The
manifest itself is replaced atomically (write to a temporary file, fsync, ``os.replace``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from mouselab._fsync import fsync_dir, fsync_file
from mouselab.schema import SCHEMA_VERSION, TABLES

MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileEntry:
    """One Parquet file of a table: path relative to the table folder, checksum, rows, bytes."""

    relpath: str
    sha256: str
    rows: int
    bytes: int

    @property
    def partition(self) -> dict[str, str]:
        """The hive partition values encoded in the path, e.g. ``{'study': 's', 'participant': 'p'}``."""
        parts = {}
        for piece in self.relpath.split("/")[:-1]:
            key, _, value = piece.partition("=")
            parts[key] = value
        return parts


@dataclass
class Manifest:
    """In-memory view of ``manifest.json``."""

    schema_version: int = SCHEMA_VERSION
    created: str = field(default_factory=lambda: _now())
    updated: str = field(default_factory=lambda: _now())
    tables: dict[str, dict[str, FileEntry]] = field(default_factory=lambda: {t: {} for t in TABLES})
    extra_columns: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path) -> "Manifest":
        path = root / MANIFEST_NAME
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{root} is not a mouselab store (no {MANIFEST_NAME}); create one with Store.create() "
                "or `mouselab ingest … --store PATH`"
            ) from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: manifest is not valid JSON ({exc}); run `mouselab store verify`") from None
        if raw.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"{path}: schema version {raw.get('schema_version')} is not supported "
                f"(this mouselab reads version {SCHEMA_VERSION})"
            )
        tables = {t: {} for t in TABLES}
        for name, files in raw.get("tables", {}).items():
            tables[name] = {rel: FileEntry(rel, **meta) for rel, meta in files.items()}
        return cls(
            schema_version=raw["schema_version"],
            created=raw.get("created", _now()),
            updated=raw.get("updated", _now()),
            tables=tables,
            extra_columns=raw.get("extra_columns", {}),
        )

    def to_json(self) -> str:
        body = {
            "schema_version": self.schema_version,
            "created": self.created,
            "updated": self.updated,
            "tables": {
                name: {rel: {"sha256": e.sha256, "rows": e.rows, "bytes": e.bytes} for rel, e in sorted(files.items())}
                for name, files in sorted(self.tables.items())
            },
            "extra_columns": self.extra_columns,
        }
        return json.dumps(body, indent=1, sort_keys=False) + "\n"

    def save(self, root: Path) -> None:
        """Atomically replace ``manifest.json`` (the commit point of every write)."""
        self.updated = _now()
        atomic_write_text(root / MANIFEST_NAME, self.to_json())

    def content_hash(self, tables: list[str] | None = None) -> str:
        """A SHA-256 over the sorted (table, path, file hash) triples: identifies the store's content."""
        digest = hashlib.sha256()
        for name in sorted(tables or self.tables):
            for rel, entry in sorted(self.tables.get(name, {}).items()):
                digest.update(f"{name}/{rel}:{entry.sha256}\n".encode())
        return digest.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see either the old or the new content, never a mix."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the manifest is as readable as the data files
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise





def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
