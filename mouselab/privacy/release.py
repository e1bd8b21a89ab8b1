"""The release gate for tables of participant-level rows that leave the store (``mouselab measures --out``).

Reading the store for analysis needs no gate: notebooks and :func:`mouselab.study.trial_measures` see the
ids as stored. A table *written out* (a CSV for R, a file for a collaborator) is a release, and by default
it passes :func:`prepare_release`:

1. **small cells suppressed**: rows whose quasi-identifier values (default: the columns of
   :data:`QUASI_IDENTIFIERS` the table has — study, condition and the participant attributes cohort,
   handedness, age band, device) are shared by fewer than ``k`` participants are removed
   (:func:`mouselab.privacy.anonymity.k_anonymise`, class size counted in participants, default k = 5);
2. **no ids from the store**: ``participant`` becomes a *release code* (``r01`` …), assigned in a random
   order under a key used for this export only and never stored, so the file cannot be joined back to
   the store, to its pseudonyms, or to another export; ``session`` becomes ``session_index`` (1, 2, … per
   participant); ``trial`` (free text that often embeds the participant id) is dropped (``trial_index``
   stays), and so is any other text column whose values name a participant or session;
3. rows are sorted by release code, so the file's order does not follow the ids either;
4. the result goes through :func:`mouselab.privacy.anonymity.check_release` (no direct identifier other
   than the release codes, every class ≥ k participants) — the same gate as every other release.

Writing identified, unchecked rows instead is an explicit decision with a reason; :func:`record_export`
records either kind of export in the audit log of a governed store, with participant and session ids
found in the free text (reason, file name) redacted, so an erasure's byte scan never finds them there.

Randomness: the release-code key comes from the OS CSPRNG unless ``key`` is given (tests); like DP noise it
is deliberately not seeded, since a recorded seed would make the codes linkable again.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from mouselab.privacy.anonymity import DEFAULT_K, AnonymityReport, ReleaseError, check_release, k_anonymise

#: Columns treated as quasi-identifiers when present (and none are given): linkable to outside knowledge.
QUASI_IDENTIFIERS = ("study", "condition", "cohort", "handedness", "age_band", "device")
#: Free-text id columns that are dropped from a release (their order is kept in ``trial_index``).
ID_TEXT_COLUMNS = ("trial",)
#: Ids shorter than these are not searched in free text (as in pseudonymise_frames: "7" is not an id).
MIN_PARTICIPANT_TOKEN, MIN_SESSION_TOKEN = 3, 8


@dataclass
class ReleaseReport:
    """What :func:`prepare_release` changed: recoding, dropped columns, suppressed classes."""

    rows_in: int
    participants_in: int
    rows_out: int = 0
    participants_out: int = 0
    k: int = DEFAULT_K
    quasi_identifiers: list[str] = field(default_factory=list)
    anonymity: AnonymityReport | None = None
    recoded: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def rows_suppressed(self) -> int:
        return self.anonymity.rows_suppressed if self.anonymity else 0

    def lines(self) -> list[str]:
        qi = ", ".join(self.quasi_identifiers) or "(none: the whole table is one class)"
        out = [f"release check: k = {self.k} participants per class over {qi}"]
        out += [f"  {r}" for r in self.recoded]
        out += [f"  dropped {c}: {why}" for c, why in self.dropped.items()]
        a = self.anonymity
        if a is not None and a.classes_suppressed:
            out.append(f"  suppressed {a.rows_suppressed:,} rows of {self.participants_in - self.participants_out} "
                       f"participant(s) in {a.classes_suppressed} class(es) with fewer than {self.k} participants:")
            for row in a.suppressed.iter_rows(named=True):
                where = ", ".join(f"{c}={row[c]}" for c in self.quasi_identifiers) or "the whole table"
                out.append(f"    {where}: {row['size']} participant(s), {row['rows']:,} rows")
        elif a is not None:
            out.append(f"  no small cells: {a.classes} class(es), the smallest holds {a.smallest_class} participants")
        out.append(f"  released {self.rows_out:,} of {self.rows_in:,} rows ({self.participants_out} of "
                   f"{self.participants_in} participants)")
        return out


def release_codes(ids: Iterable[str], *, key: bytes) -> dict[str, str]:
    """``id → "r01"…`` in the order of HMAC-SHA256(``key``, id): a random order for a random key."""
    unique = sorted(set(ids))
    width = max(2, len(str(len(unique))))
    order = sorted(unique, key=lambda i: hmac.new(key, i.encode(), hashlib.sha256).digest())
    return {pid: f"r{n:0{width}d}" for n, pid in enumerate(order, start=1)}


def id_tokens(frame: pl.DataFrame) -> set[str]:
    """The participant and session ids of ``frame`` long enough to be searched in free text."""
    found: set[str] = set()
    for col, shortest in (("participant", MIN_PARTICIPANT_TOKEN), ("session", MIN_SESSION_TOKEN)):
        if col in frame.columns:
            found |= {v for v in frame[col].drop_nulls().unique().to_list() if len(str(v)) >= shortest}
    return found


def _token_pattern(ids: Iterable[str]) -> str | None:
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return rf"(?:^|[^A-Za-z0-9])(?:{alternatives})(?:[^A-Za-z0-9]|$)" if alternatives else None


def prepare_release(
    frame: pl.DataFrame, *, k: int = DEFAULT_K, quasi_identifiers: Sequence[str] | None = None,
    key: bytes | None = None,
) -> tuple[pl.DataFrame, ReleaseReport]:
    """The releasable form of ``frame`` (one row per trial / session / participant) and what was changed.

    Raises :class:`mouselab.privacy.anonymity.ReleaseError` when nothing would be left (every row in a class
    of fewer than ``k`` participants) and ValueError when a quasi-identifier is not a column.
    """
    if quasi_identifiers is None:
        qi = [c for c in QUASI_IDENTIFIERS if c in frame.columns]
    else:
        qi = list(quasi_identifiers)
    bad = [c for c in qi if c in ("participant", "session", *ID_TEXT_COLUMNS)]
    if bad:
        raise ValueError(f"{', '.join(bad)} cannot be a quasi-identifier: ids never leave the store; "
                         f"use attributes such as {', '.join(QUASI_IDENTIFIERS)}")
    if "participant" not in frame.columns:  # not participant-level: only the common gate
        anon = check_release(frame, quasi_identifiers=qi, k=k)
        return frame, ReleaseReport(rows_in=frame.height, participants_in=0, rows_out=frame.height, k=k,
                                    quasi_identifiers=qi, anonymity=anon)
    report = ReleaseReport(rows_in=frame.height, participants_in=frame["participant"].n_unique(), k=k,
                           quasi_identifiers=qi)
    kept, report.anonymity = k_anonymise(frame, quasi_identifiers=qi, k=k, unit="participant", drop=())
    if kept.height == 0 and frame.height:
        raise ReleaseError(
            f"release refused: every row is in a class of fewer than k = {k} participants (the table holds "
            f"{report.participants_in} participant(s); classes over {', '.join(qi) or 'the whole table'}), so "
            "nothing could be written; export more participants, use fewer quasi-identifiers (--qi), or write "
            "an internal, identified file with --no-release-check --reason TEXT (recorded in the audit log)"
        )
    key = key if key is not None else secrets.token_bytes(32)
    codes = release_codes(kept["participant"].unique().to_list(), key=key)
    out = kept.with_columns(pl.col("participant").replace_strict(codes, return_dtype=pl.String))
    report.recoded.append(
        f"participant ids -> release codes {min(codes.values(), default='-')}..{max(codes.values(), default='-')} "
        "(random for this export, not linkable to the store or to other exports)")
    if "session" in out.columns:
        within = [c for c in ("study", "participant") if c in out.columns]
        out = out.with_columns(pl.col("session").rank("dense").over(within).cast(pl.Int32).alias("session")) \
                 .rename({"session": "session_index"})
        report.recoded.append("session ids -> session_index (1, 2, ... per participant)")
    needles = id_tokens(kept)
    pattern = _token_pattern(needles)
    for col in [c for c in ID_TEXT_COLUMNS if c in out.columns]:
        kept_order = "; trial_index keeps the order" if "trial_index" in out.columns else ""
        report.dropped[col] = "free-text ids" + kept_order
    for col, dtype in out.schema.items():
        if col in ID_TEXT_COLUMNS or col in qi or dtype != pl.String or col == "participant" or pattern is None:
            continue
        if out[col].drop_nulls().str.contains(pattern).any():
            report.dropped[col] = "its values name participants or sessions"
    out = out.drop(list(report.dropped))
    order = [c for c in ("study", "participant", "session_index", "trial_index") if c in out.columns]
    out = out.sort(order, nulls_last=True, maintain_order=True)
    check_release(out, quasi_identifiers=qi, k=k, unit="participant")  # the common gate: passes by construction
    report.rows_out, report.participants_out = out.height, out["participant"].n_unique()
    return out, report


# ----------------------------------------------------------------------------------------- audit record
def redact(text: str, ids: Iterable[str], *, chain=None) -> str:
    """``text`` with every occurrence of one of ``ids`` as a whole token (bounded by non-alphanumerics, as
    the erasure's byte scan sees tokens) replaced by ``[id]``; with the store's key ``chain`` also every raw
    id whose pseudonym is one of ``ids``."""
    known = set(ids)
    if not known:
        return text
    from mouselab.privacy.pseudonym import participant as pseudonymise

    spans = []
    for run in re.finditer(r"[A-Za-z0-9._-]+", text):
        pieces = [(run.start() + m.start(), run.start() + m.end()) for m in re.finditer(r"[A-Za-z0-9]+", run.group(0))]
        for i, (start, _) in enumerate(pieces):
            for _, end in pieces[i:]:
                candidate = text[start:end]
                if candidate in known or (chain is not None and len(candidate) >= MIN_PARTICIPANT_TOKEN
                                          and pseudonymise(candidate, chain) in known):
                    spans.append((start, end))
    out, at = [], 0
    for start, end in sorted(spans, key=lambda s: (s[0], s[0] - s[1])):
        if start >= at:
            out += [text[at:start], "[id]"]
            at = end
    return "".join(out) + text[at:]


def record_export(
    store_path: str | os.PathLike[str], *, out: str | os.PathLike[str], tables: Sequence[str], rows: int,
    participants: int, columns: Sequence[str], checked: bool, ids: Iterable[str] = (), reason: str | None = None,
    report: ReleaseReport | None = None, purpose: str | None = None, operator: str | None = None,
) -> dict | None:
    """Record an export in the audit log of a governed store (None for an ungoverned store: it has no log).

    Call it *before* writing the file: when the entry cannot be written to a keyed log this raises and
    nothing leaves the store. ``ids`` are the participant / session ids the exported rows carried in the
    store; they are redacted from ``reason`` and the file name, and never recorded themselves.
    """
    from mouselab import config
    from mouselab.privacy import access, audit, governance, keys

    root = Path(store_path)
    if not governance.is_governed(root):
        return None
    try:
        chain = keys.configured_chain(root) if governance.load_policy(root).get("pseudonym_key_id") else None
    except (OSError, ValueError):
        chain = None
    from mouselab.store.manifest import Manifest

    ids = set(ids) | {entry.partition["participant"] for files in Manifest.load(root).tables.values()
                      for entry in files.values() if "participant" in entry.partition}
    detail: dict = {"out": redact(str(Path(out).absolute()), ids, chain=chain), "rows": rows,
                    "participants": participants, "columns": len(columns), "release_check": checked}
    if report is not None:
        detail.update(k=report.k, quasi_identifiers=report.quasi_identifiers, rows_suppressed=report.rows_suppressed)
    if reason is not None:
        detail["reason"] = redact(reason, ids, chain=chain)
    key = keys.audit_key(root)
    return audit.append(root, op="export", tables=list(tables), purpose=purpose or config.get("purpose"),
                        operator=operator or access.current_operator(), key=key, detail=detail)


__all__ = ["ID_TEXT_COLUMNS", "QUASI_IDENTIFIERS", "ReleaseReport", "id_tokens", "prepare_release", "record_export",
           "redact", "release_codes"]
