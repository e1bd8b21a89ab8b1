"""Keyed pseudonyms (HMAC-SHA256) for participants, sessions and application names — pure functions.

* participant ``P017``  → ``p-`` + 24 hex digits = HMAC(k, "mouselab/participant" ‖ 0 ‖ raw), truncated to 96 bits;
* session ``s1`` of ``P017`` → ``s-`` + 16 hex digits = HMAC(k, "mouselab/session" ‖ 0 ‖ participant ‖ 0 ‖ session)
  (the participant is part of the input, so equal raw session names of two people do not collide or link);
* application class → ``app-`` + 16 hex digits under a derived subkey (the capture agent's ``events.app``).

With a key chain ``[k1, …, kn]`` (see :mod:`mouselab.privacy.keys`) each step is applied once per key,
oldest first; :func:`rekey_frames` applies one more step to already-pseudonymised frames, which is how a
store is rotated without raw ids.

:func:`pseudonymise_frames` is what ingest and capture call before anything is written: it maps the
``participant`` and ``session`` columns of every table and replaces whole-token occurrences of the raw ids in
every other text column (trial ids such as ``P017-t003``, ``ingest_log.source_file`` paths, quarantined raw
text), so that no raw identifier reaches a Parquet file. Raw ids shorter than :data:`MIN_SCRUB_CHARS` are
not searched for in free text (a participant called ``7`` would otherwise rewrite every standalone 7); such
short codes identify nobody by themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mouselab.privacy.keys import KeyChain

if TYPE_CHECKING:  # Polars is imported where frames are handled: the capture agent never loads it
    import polars as pl

PARTICIPANT_RE = re.compile(r"^p-[0-9a-f]{24}$")
SESSION_RE = re.compile(r"^s-[0-9a-f]{16}$")
APP_RE = re.compile(r"^app-[0-9a-f]{16}$")
_PARTICIPANT_TOKEN = re.compile(r"(?<![A-Za-z0-9])p-[0-9a-f]{24}(?![0-9a-f])")
#: Raw participant ids shorter than this are not scrubbed from free-text columns.
MIN_SCRUB_CHARS = 3
#: Raw session ids shorter than this are not scrubbed from free-text columns (``s1`` is not identifying;
#: generated capture ids such as ``20261126-091403-ab12`` are).
MIN_SESSION_SCRUB_CHARS = 8
_ID_COLUMNS = ("participant", "session")


def _mac(key: bytes, label: str, *parts: str) -> str:
    return hmac.new(key, (label + "\0" + "\0".join(parts)).encode(), hashlib.sha256).hexdigest()


def participant_step(key: bytes, value: str) -> str:
    return "p-" + _mac(key, "mouselab/participant", value)[:24]


def session_step(key: bytes, participant_value: str, session_value: str) -> str:
    return "s-" + _mac(key, "mouselab/session", participant_value, session_value)[:16]


def app_step(chain_key: bytes, value: str) -> str:
    sub = hmac.new(chain_key, b"mouselab/app", hashlib.sha256).digest()
    return "app-" + _mac(sub, "mouselab/app", value)[:16]


def is_pseudonym(value: str) -> bool:
    return isinstance(value, str) and bool(PARTICIPANT_RE.match(value))


def participant(raw: str, key: bytes | KeyChain) -> str:
    """Pseudonym of the raw participant id ``raw`` under ``key`` (refuses an id that already is one)."""
    if is_pseudonym(raw):
        raise ValueError(
            f"participant id {raw!r} already is a pseudonym; pseudonymising twice would lose the link to new data"
        )
    value = raw
    for k in KeyChain.of(key).keys:
        value = participant_step(k, value)
    return value


def session(raw_participant: str, raw_session: str, key: bytes | KeyChain) -> str:
    """Pseudonym of session ``raw_session`` of the raw participant ``raw_participant``."""
    p, s = raw_participant, raw_session
    for k in KeyChain.of(key).keys:
        p, s = participant_step(k, p), session_step(k, p, s)
    return s


def app(app_class: str, key: bytes | KeyChain) -> str:
    """Pseudonym of an application (window class), case- and space-insensitive."""
    value = app_class.strip().lower()
    for k in KeyChain.of(key).keys:
        value = app_step(k, value)
    return value


def consent_token(pseudonym: str, key: bytes | KeyChain) -> str:
    """The id under which the consent registry and other governance ledgers name a participant.

    Derived from the pseudonym under a separate subkey, so that governance records and data tables share no
    identifier: after an erasure the pseudonym appears nowhere in the store, while the withdrawal stays on
    record (linkable only by whoever holds the key).
    """
    return "c-" + _mac(KeyChain.of(key).subkey("consent"), "mouselab/consent", pseudonym)[:24]


def _token_pattern(ids: Iterable[str]) -> re.Pattern | None:
    ids = sorted({i for i in ids if i}, key=len, reverse=True)
    if not ids:
        return None
    return re.compile(r"(?<![A-Za-z0-9])(" + "|".join(re.escape(i) for i in ids) + r")(?![A-Za-z0-9])")


def _map_text(series: pl.Series, pattern: re.Pattern | None, replace) -> pl.Series:
    import polars as pl

    if pattern is None or series.dtype != pl.String or series.null_count() == series.len():
        return series
    uniques = series.drop_nulls().unique().to_list()
    mapping = {u: pattern.sub(replace, u) for u in uniques}
    mapping = {k: v for k, v in mapping.items() if k != v}
    if not mapping:
        return series
    return series.replace(mapping)


def pseudonymise_frames(frames: dict[str, pl.DataFrame], *, key: bytes | KeyChain) -> dict[str, pl.DataFrame]:
    """The frames with raw participant and session ids replaced by their pseudonyms (pure; inputs untouched).

    ``frames`` maps table names (``samples``, ``events``, ``trials``, ``participants``, ``quarantine``,
    ``ingest_log``, …) to frames in the store's layout. The ``participant`` / ``session`` columns are mapped;
    raw ids found as whole tokens in other text columns are replaced by the same pseudonyms; application
    names in ``events.app`` that are neither a pseudonym nor a coarse category are pseudonymised as well.
    Raises ``ValueError`` when a participant id already looks like a pseudonym (double pseudonymisation).
    """
    import polars as pl

    chain = KeyChain.of(key)
    people: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for frame in frames.values():
        if "participant" in frame.columns:
            people.update(v for v in frame["participant"].drop_nulls().unique().to_list())
            if "session" in frame.columns:
                sub = frame.select("participant", "session").drop_nulls().unique()
                pairs.update(zip(sub["participant"].to_list(), sub["session"].to_list()))
    already = sorted(p for p in people if is_pseudonym(p))
    if already:
        raise ValueError(
            f"participant id {already[0]!r} already is a pseudonym; these frames were pseudonymised before"
        )
    p_map = {p: participant(p, chain) for p in people}
    s_map = {(p, s): session(p, s, chain) for p, s in pairs}
    text_map = {p: q for p, q in p_map.items() if len(p) >= MIN_SCRUB_CHARS}
    for (p, s), q in s_map.items():
        if len(s) >= MIN_SESSION_SCRUB_CHARS:
            text_map.setdefault(s, q)
    pattern = _token_pattern(text_map)

    def repl(m: re.Match) -> str:
        return text_map[m.group(1)]

    out = {}
    for name, frame in frames.items():
        cols = []
        for col in frame.columns:
            series = frame[col]
            if col == "participant":
                series = series.replace_strict(p_map, default=None, return_dtype=pl.String)
            elif col == "session" and "participant" in frame.columns:
                keys = frame.select("participant", "session")
                uniq = keys.unique()
                mapped = [s_map.get((p, s)) if p is not None and s is not None else None for p, s in uniq.iter_rows()]
                lookup = uniq.with_columns(pl.Series("__new", mapped, dtype=pl.String))
                series = keys.join(lookup, on=["participant", "session"], how="left", nulls_equal=True,
                                   maintain_order="left")["__new"].alias("session")
            elif col == "app" and name == "events":
                series = _pseudonymise_apps(series, chain)
            elif series.dtype == pl.String:
                series = _map_text(series, pattern, repl)
            cols.append(series.alias(col))
        out[name] = pl.DataFrame(cols) if cols else frame.clone()
    return out


def _pseudonymise_apps(series: pl.Series, chain: KeyChain) -> pl.Series:
    from mouselab.capture.apps import _CATEGORIES

    keep = set(_CATEGORIES) | {"other"}
    uniques = [u for u in series.drop_nulls().unique().to_list() if u not in keep and not APP_RE.match(u)]
    if not uniques:
        return series
    return series.replace({u: app(u, chain) for u in uniques})


def rekey_participant(pseudonym: str, new_key: bytes) -> str:
    return participant_step(new_key, pseudonym)


def rekey_frame(frame: pl.DataFrame, *, new_key: bytes) -> pl.DataFrame:
    """One more chain step on an already-pseudonymised frame (key rotation; needs no raw id).

    ``participant`` and ``session`` columns (sessions are re-keyed with their *old* participant pseudonym,
    matching :func:`session` under the extended chain), application pseudonyms in ``app``, and participant
    pseudonyms embedded in any other text column (e.g. trial ids ``p-…-t003``) are all re-keyed.
    """
    import polars as pl

    cols = []
    has_p = "participant" in frame.columns
    for col in frame.columns:
        series = frame[col]
        if col == "participant":
            uniques = series.drop_nulls().unique().to_list()
            series = series.replace_strict({u: participant_step(new_key, u) for u in uniques}, default=None,
                                           return_dtype=pl.String)
        elif col == "session" and has_p:
            keys = frame.select("participant", "session").unique()
            mapped = [session_step(new_key, p, s) if p is not None and s is not None else s
                      for p, s in keys.iter_rows()]
            lookup = keys.with_columns(pl.Series("__new", mapped, dtype=pl.String))
            series = frame.select("participant", "session").join(
                lookup, on=["participant", "session"], how="left", nulls_equal=True, maintain_order="left"
            )["__new"].alias("session")
        elif col == "app":
            uniques = [u for u in series.drop_nulls().unique().to_list() if APP_RE.match(u)]
            if uniques:
                series = series.replace({u: app_step(new_key, u) for u in uniques})
        elif series.dtype == pl.String:
            series = _map_text(series, _PARTICIPANT_TOKEN, lambda m: participant_step(new_key, m.group(0)))
        cols.append(series.alias(col))
    return pl.DataFrame(cols) if cols else frame.clone()


def report_labels(frames: dict[str, "pl.DataFrame"], *, seed: int) -> dict[str, "pl.DataFrame"]:
    """Replace participant ids by neutral labels (``person 1`` … ``person k``, zero-padded from 10 people on
    so that they sort in number order) and session ids by ``session 1`` … per person, for a report (pure).

    Reports about whole working sessions (activity, idle time, breaks) describe what a person did all
    day; labelled with ids they read as a record of that person. Session ids can name the person too (a
    file name in a public data set, a date). The person labels are assigned in a seeded random order that
    does not follow the ids; sessions are numbered in the order of their ids within each person. Both are
    consistent across all ``frames``, so tables and charts of one report still line up while the report
    itself no longer names anyone. (The mapping is not returned: a report has no use for it.)
    """
    import numpy as np
    import polars as pl

    people = sorted({p for f in frames.values() if "participant" in f.columns
                     for p in f["participant"].drop_nulls().unique().to_list()})
    order = np.random.default_rng(seed).permutation(len(people))
    width = len(str(len(people)))  # "person 01" … "person 12": labels sort in number order
    mapping = {p: f"person {int(k) + 1:0{width}d}" for p, k in zip(people, order)}
    sep = "\x1f"
    pairs = sorted({(p, s) for f in frames.values() if {"participant", "session"} <= set(f.columns)
                    for p, s in f.select("participant", "session").drop_nulls().unique().iter_rows()})
    per_person: dict[str, list[str]] = {}
    for p, s in pairs:
        per_person.setdefault(p, []).append(s)
    sessions = {}
    for p, ids in per_person.items():
        digits = len(str(len(ids)))
        sessions.update({f"{p}{sep}{s}": f"session {j + 1:0{digits}d}" for j, s in enumerate(ids)})

    def relabel(f: "pl.DataFrame") -> "pl.DataFrame":
        if "participant" not in f.columns:
            return f
        cols = []
        if "session" in f.columns and sessions:
            key = pl.concat_str([pl.col("participant"), pl.col("session")], separator=sep)
            cols.append(key.replace_strict(sessions, default=None, return_dtype=pl.String).alias("session"))
        cols.append(pl.col("participant").replace_strict(mapping, default=None, return_dtype=pl.String))
        return f.with_columns(cols)

    return {name: relabel(f) for name, f in frames.items()}