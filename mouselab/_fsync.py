"""Durability helper shared by the store and the capture spool (standard library only)."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file's data, or a folder's entries (new names, renames), to disk."""
    fd = os.open(Path(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: a file's data on disk (before a manifest or index that lists it is committed)
fsync_file = fsync_path
#: a folder's entries on disk (after creating or renaming files in it)
fsync_dir = fsync_path
