"""Privacy by design: pseudonyms, consent, erasure, retention, audit, purpose limitation, safe releases and a
re-identification meter. See ``docs/privacy.md`` for the whole picture and ``mouselab privacy --help``.

Modules (import-light: each is imported where used, e.g. ``from mouselab.privacy import consent``):

* :mod:`.keys` — key files outside the store (keygen, key chains, audit key); :mod:`.pseudonym` — HMAC
  pseudonyms and :func:`pseudonymise_frames` for ingest / capture; :mod:`.rotation` — re-key a whole store.
* :mod:`.governance` — the ``STORE/governance/`` folder: policy (purposes, retention, budgets), ledgers.
* :mod:`.consent` — the consent registry; :mod:`.erasure` — withdrawal erases, verified by query and bytes;
  :mod:`.export` — a participant's access request; :mod:`.retention` — storage limitation sweeps.
* :mod:`.audit` — hash-chained, MAC-signed log of every read; :mod:`.access` — purpose checks and the
  ``score_individuals`` guard; :mod:`.reports` — which reports used whose data.
* :mod:`.anonymity` — k-anonymity / l-diversity gates; :mod:`.release` — measure tables leaving the store
  (release codes, suppression, audit entry); :mod:`.dp` — OpenDP releases with a persisted budget;
  :mod:`.reid` — how identifiable data and releases are.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "pseudonymise_frames": ("mouselab.privacy.pseudonym", "pseudonymise_frames"),
    "report_labels": ("mouselab.privacy.pseudonym", "report_labels"),
    "score_individuals": ("mouselab.privacy.access", "score_individuals"),
    "PurposeError": ("mouselab.privacy.access", "PurposeError"),
    "GovernanceError": ("mouselab.privacy.governance", "GovernanceError"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'mouselab.privacy' has no attribute {name!r}")


__all__ = sorted(_LAZY)
