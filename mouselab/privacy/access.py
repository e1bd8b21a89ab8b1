"""Purpose limitation and the store's read / write hooks (called by :class:`mouselab.store.Store`).

* :func:`before_read` — every ``Store.scan`` / ``read`` / ``sql`` / ``connect`` of a governed store: refuses
  a purpose the store does not declare, then appends one audit entry (:mod:`mouselab.privacy.audit`).
* :func:`before_write` — refuses raw identifiers in a pseudonymised store and data of erased participants.
* :func:`after_write` — remembers when each new (study, participant, session) was recorded (retention clock).
* :func:`score_individuals` — the guard every function that scores or ranks identified participants calls.
"""

from __future__ import annotations

import getpass
import os
import warnings

from mouselab.privacy import governance
from mouselab.privacy.governance import ALWAYS_ALLOWED, GovernanceError

#: The purpose that per-person scoring or ranking needs (declared by the store *and* consented per person).
SCORING_PURPOSE = "individual-scoring"
_warned: set[str] = set()


class PurposeError(GovernanceError):
    """The declared purpose is not allowed for this store or these participants."""


def current_purpose(store) -> str:
    from mouselab import config

    return getattr(store, "purpose", None) or config.get("purpose")


def current_operator(store=None) -> str:
    from mouselab import config

    explicit = getattr(store, "operator", None) if store is not None else None
    if explicit:
        return explicit
    configured = config.get("operator")
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def check_purpose(store_path, purpose: str) -> None:
    """Raise :class:`PurposeError` unless ``purpose`` is declared by the store (or always allowed)."""
    declared = governance.declared_purposes(store_path)
    if declared is None or purpose in declared or purpose in ALWAYS_ALLOWED:
        return
    raise PurposeError(
        f"purpose {purpose!r} is not declared for the store {store_path} (declared: {', '.join(declared) or 'none'}); "
        f"use one of them (Store(path, purpose=...), MOUSELAB_PURPOSE or mouselab.toml) or, if participants "
        f"consented to it, declare it: mouselab privacy init --store {store_path} --purposes "
        f"{','.join(list(declared) + [purpose])}"
    )


def before_read(store, op: str, tables: list[str], *, study=None, participants=None, detail=None) -> None:
    from mouselab.privacy import audit, keys

    purpose = current_purpose(store)
    operator = current_operator(store)
    info = {}
    if study is not None:
        info["study"] = study
    if participants is not None:
        info["participants"] = len(participants)  # how many, never who
    if detail:
        info["query"] = _redact(detail)
    try:
        key = keys.audit_key(store.path)
    except (OSError, ValueError) as exc:
        raise GovernanceError(f"the audit key cannot be read ({exc}); reads of {store.path} are refused") from None
    try:
        check_purpose(store.path, purpose)
    except PurposeError:
        _log(audit, store, key, op="refused", tables=tables, purpose=purpose, operator=operator,
             detail={**info, "reason": "purpose not declared"})
        raise
    _log(audit, store, key, op=op, tables=tables, purpose=purpose, operator=operator, detail=info)


def _redact(query: str) -> str:
    """SQL text with every string literal replaced by '…' (literals may name participants)."""
    import re

    return re.sub(r"'(?:[^']|'')*'", "'…'", query)


def _log(audit, store, key, **entry) -> None:
    try:
        audit.append(store.path, key=key, **entry)
    except (OSError, GovernanceError) as exc:
        if key is not None:  # a keyed store promises an audit trail: fail closed
            raise GovernanceError(f"cannot write the audit log of {store.path} ({exc}); the read is refused") from None
        message = f"mouselab: audit entry for {store.path} not written ({exc}); reading anyway (no audit key configured)"
        if message not in _warned:
            _warned.add(message)
            warnings.warn(message, RuntimeWarning, stacklevel=4)


def before_write(store, frames: dict) -> None:
    from mouselab.privacy import erasure
    from mouselab.privacy.pseudonym import PARTICIPANT_RE, SESSION_RE

    policy = governance.load_policy(store.path)
    pseudonymised = bool(policy.get("pseudonym_key_id"))
    for name, frame in frames.items():
        if "participant" not in frame.columns or frame.height == 0:
            continue
        people = [p for p in frame["participant"].unique().to_list() if p is not None]
        if pseudonymised:
            raw = [p for p in people if not PARTICIPANT_RE.match(p)]
            if raw:
                raise GovernanceError(
                    f"{name}: participant id {raw[0]!r} is not a pseudonym, and the store {store.path} is "
                    "pseudonymised; pseudonymise first (mouselab.privacy.pseudonymise_frames, or ingest with "
                    "--pseudonymise and the key_file setting)"
                )
            if "session" in frame.columns:
                bad = [s for s in frame["session"].unique().to_list() if s is not None and not SESSION_RE.match(s)]
                if bad:
                    raise GovernanceError(
                        f"{name}: session id {bad[0]!r} is not a pseudonym, and the store {store.path} is pseudonymised"
                    )
        studies = frame["study"].unique().to_list() if "study" in frame.columns else []
        for study in studies:
            blocked = erasure.tombstoned(store.path, study, people)
            if blocked:
                raise GovernanceError(
                    f"{name}: participant {sorted(blocked)[0]!r} of study {study!r} was erased after withdrawing "
                    "consent; their data may not enter the store again unless they consent anew "
                    "(mouselab privacy consent grant …)"
                )


def after_write(store, frames: dict) -> None:
    units: set[tuple[str, str, str]] = set()
    for frame in frames.values():
        if {"study", "participant", "session"} <= set(frame.columns) and frame.height:
            sub = frame.select("study", "participant", "session").drop_nulls().unique()
            units.update(sub.iter_rows())
    governance.record_units(store.path, sorted(units))


def score_individuals(store_path, study: str, participants, *, purpose: str = SCORING_PURPOSE) -> list[str]:
    """The guard of every function that scores or ranks identified (pseudonymous) participants.

    Refuses with :class:`PurposeError` unless the store declares ``purpose`` (default
    ``individual-scoring``) *and* every participant has active consent for it in ``study``; returns the
    participants. Aggregate analyses never need it; a per-person league table, feedback score or
    "which participant is this" model does.
    """
    from mouselab.privacy import consent

    people = list(participants)
    declared = governance.declared_purposes(store_path) or []
    if purpose not in declared:
        raise PurposeError(
            f"scoring or ranking individual participants needs the purpose {purpose!r}, which the store "
            f"{store_path} does not declare (declared: {', '.join(declared) or 'none'}); report aggregates "
            "instead, or declare the purpose and record each participant's consent to it"
        )
    missing = [p for p in people if not consent.is_active(store_path, p, study, purpose)]
    if missing:
        raise PurposeError(
            f"{len(missing)} of {len(people)} participants have no active consent for {purpose!r} in study "
            f"{study!r} (e.g. {missing[0]!r}); per-person scores are refused for them"
        )
    return people
