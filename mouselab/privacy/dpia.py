"""A DPIA-ready summary (GDPR Art. 35): what is collected, why, for how long, which risks were measured and
which mitigations are in place — written from the store's policy, the data contract and measured results."""

from __future__ import annotations

import polars as pl

from mouselab.privacy import governance


def _collected() -> list[str]:
    from mouselab.schema import TABLES

    lines = []
    for name in ("samples", "events", "trials", "participants", "actions"):
        spec = TABLES[name]
        cols = ", ".join(f"`{c.name}`" for c in spec.columns if c.name not in ("study", "participant"))
        lines.append(f"* **{name}** — {spec.doc}: {cols}")
    return lines


def dpia_markdown(store_path, *, study: str, risks: pl.DataFrame, max_top1: float, epsilon: float, k: int,
                  pseudo_sessions: bool) -> str:
    """Markdown for the DPIA page of the privacy-risk report.

    ``risks`` is the identification table of the report (one row per release form with ``verdict``).
    """
    governed = governance.is_governed(store_path)
    policy = governance.load_policy(store_path) if governed else {}
    entry = policy.get("studies", {}).get(study, {})
    purposes = policy.get("purposes")
    retention = entry.get("retention_days")
    failing = risks.filter(pl.col("verdict") != "pass")["release form"].to_list()
    passing = risks.filter(pl.col("verdict") == "pass")["release form"].to_list()
    out = [
        "### What is collected",
        "",
        *_collected(),
        "* **never**: keystrokes, screen contents, window titles, names or contact details (the capture agent "
        "has no keyboard code at all; applications are a coarse category or a keyed pseudonym).",
        "",
        "### Why (purposes and lawful basis)",
        "",
        (f"Declared purposes of this store: {', '.join(f'`{p}`' for p in purposes)}. " if purposes else
         "This store declares no purposes (" + ("governed, every purpose accepted and audited" if governed else
                                                "not governed: the synthetic sample") + "). ")
        + "Lawful basis: consent (Art. 6(1)(a), 9(2)(a) — movement dynamics can identify people, so they are "
        "treated like biometric data), recorded per participant, study and purpose in an append-only registry. "
        "Scoring or ranking identified individuals needs its own declared and consented purpose "
        "(`individual-scoring`).",
        "",
        "### How long",
        "",
        ("Retention of study " + f"`{study}`: " + ", ".join(f"{t} {d:g} days" for t, d in sorted(retention.items()))
         + " after recording; `mouselab privacy retention sweep` deletes what is older (dry run available)."
         if retention else f"No retention policy is declared for `{study}` yet: declare one with "
         "`mouselab privacy init --study … --retention samples=90,events=90,actions=365`."),
        "",
        "### Risks measured (this report)",
        "",
        "Identification of a participant from released data "
        + ("across pseudo-sessions (halves of one session — optimistic for the attacker). " if pseudo_sessions
           else "across sessions. ")
        + f"A release form fails when its top-1 accuracy is significantly above the tolerated τ = {max_top1:.3g} "
        "(exact one-sided binomial test over the probes).",
        "",
        f"* significantly above τ (must not leave the store): {', '.join(failing) or 'none'}",
        f"* not significantly above τ: {', '.join(passing) or 'none'}",
        "",
        "### Mitigations in place",
        "",
        "* pseudonymisation at ingest and capture: HMAC-SHA256 pseudonyms under a key kept outside the store "
        "(rotatable; " + ("this store is pseudonymised" if policy.get("pseudonym_key_id") else
                          "**this store is not pseudonymised**") + ");",
        "* consent registry with withdrawal → erasure of raw, derived and cached data, verified by query and by a "
        "byte scan; stale reports listed for re-rendering; access requests answered with readable exports;",
        "* purpose limitation on every read and a tamper-evident audit log (hash chain, MAC, anchored in reports);",
        f"* releases: per-person rows never leave; tables pass k-anonymity (k ≥ {k}) with small cells suppressed; "
        f"aggregates are differentially private (OpenDP, ε = {epsilon:g} per release, persisted study budget, "
        "accuracy stated next to every number).",
        "",
        "### Residual risks",
        "",
        "* whoever holds the pseudonym key and a participant's raw id can link them — keep the key offline;",
        "* movement itself is identifying: any per-person feature table is personal data even without ids;",
        "* k-anonymity does not protect against an attacker who already knows a person's movement profile "
        "well enough to land in the right class; differential privacy does, at the cost of noise.",
    ]
    return "\n".join(out)
