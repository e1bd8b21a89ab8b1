"""k-anonymity and l-diversity for tables leaving the store — a few lines of Polars, no extra dependency.

Definitions (Sweeney 2002; Machanavajjhala et al. 2007):

* the *quasi-identifiers* (QIs) are the released columns an outsider could link to other data (age band,
  handedness, device, binned movement measures …); rows with equal QI values form an *equivalence class*;
* a table is **k-anonymous** when every class holds at least ``k`` people (``unit`` given: distinct values of
  that column, e.g. participants, since one person may contribute many rows; else rows);
* it is **l-diverse** (distinct l-diversity) when every class holds at least ``l`` distinct values of each
  *sensitive* column.

:func:`k_anonymise` suppresses the rows of every class that fails (the classes are listed in the report) and
drops direct identifiers (``participant``, ``session`` — pseudonyms are still personal data).
:func:`suppress_small_cells` does the same for an aggregate table with a count column. :func:`check_release`
is the gate every export calls: it refuses a table that still carries identifiers or fails k / l.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from mouselab.privacy.governance import GovernanceError

DEFAULT_K = 5
#: Columns that identify a person directly (pseudonyms included) and never leave the store.
DIRECT_IDENTIFIERS = ("participant", "session")


class ReleaseError(GovernanceError):
    """A table may not leave the store as it is; the message says which rule failed and what to do."""


@dataclass
class AnonymityReport:
    """Outcome of a k-anonymity / l-diversity check (and of suppression, when applied)."""

    k: int
    l: int | None
    quasi_identifiers: list[str]
    sensitive: list[str]
    rows_in: int
    classes: int
    smallest_class: int
    lowest_diversity: int | None
    rows_suppressed: int = 0
    classes_suppressed: int = 0
    classes_after: int = 0
    suppressed: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def k_anonymous(self) -> bool:
        return self.smallest_class >= self.k

    @property
    def l_diverse(self) -> bool:
        return self.l is None or (self.lowest_diversity is not None and self.lowest_diversity >= self.l)

    @property
    def passed(self) -> bool:
        return self.k_anonymous and self.l_diverse

    def summary(self) -> str:
        text = (f"{self.classes} classes over {', '.join(self.quasi_identifiers)}; smallest holds "
                f"{self.smallest_class} (k = {self.k} required)")
        if self.l is not None:
            text += f"; lowest diversity {self.lowest_diversity} (l = {self.l} required)"
        if self.rows_suppressed or self.classes_suppressed:
            text += f"; suppressed {self.rows_suppressed} rows in {self.classes_suppressed} classes"
        return text


def equivalence_classes(
    frame: pl.DataFrame, quasi_identifiers: Sequence[str], *, unit: str | None = None,
    sensitive: Sequence[str] = (),
) -> pl.DataFrame:
    """One row per class: the QI values, ``size`` (people or rows), ``rows`` and ``diversity`` (the fewest
    distinct values of any sensitive column; null without sensitive columns)."""
    qi = list(quasi_identifiers)
    missing = [c for c in qi + list(sensitive) + ([unit] if unit else []) if c not in frame.columns]
    if missing:
        raise ValueError(f"column(s) {', '.join(missing)} not in the table; columns: {', '.join(frame.columns)}")
    size = pl.col(unit).n_unique() if unit else pl.len()
    aggs = [size.cast(pl.Int64).alias("size"), pl.len().cast(pl.Int64).alias("rows")]
    if sensitive:
        aggs.append(pl.min_horizontal([pl.col(s).n_unique() for s in sensitive]).cast(pl.Int64).alias("diversity"))
    else:
        aggs.append(pl.lit(None, dtype=pl.Int64).alias("diversity"))
    if not qi:
        return frame.select(aggs)
    return frame.group_by(qi).agg(aggs).sort(qi, nulls_last=True)


def check_k_anonymity(
    frame: pl.DataFrame, quasi_identifiers: Sequence[str], *, k: int = DEFAULT_K, unit: str | None = None,
    sensitive: Sequence[str] = (), l: int | None = None,
) -> AnonymityReport:
    """Measure k (smallest class) and distinct l-diversity of ``frame`` without changing it."""
    if k < 1:
        raise ValueError("k must be >= 1")
    classes = equivalence_classes(frame, quasi_identifiers, unit=unit, sensitive=sensitive)
    return AnonymityReport(
        k=k, l=l, quasi_identifiers=list(quasi_identifiers), sensitive=list(sensitive), rows_in=frame.height,
        classes=classes.height, smallest_class=int(classes["size"].min()) if classes.height else 0,
        lowest_diversity=int(classes["diversity"].min()) if sensitive and classes.height else None,
        classes_after=classes.height,
    )


def k_anonymise(
    frame: pl.DataFrame, *, quasi_identifiers: Sequence[str], k: int = DEFAULT_K, unit: str | None = None,
    sensitive: Sequence[str] = (), l: int | None = None, drop: Sequence[str] = DIRECT_IDENTIFIERS,
) -> tuple[pl.DataFrame, AnonymityReport]:
    """Suppress every class smaller than ``k`` (or less than ``l``-diverse) and drop ``drop`` columns.

    Returns the releasable frame and a report listing the suppressed classes (QI values, size, rows).
    """
    qi = list(quasi_identifiers)
    report = check_k_anonymity(frame, qi, k=k, unit=unit, sensitive=sensitive, l=l)
    classes = equivalence_classes(frame, qi, unit=unit, sensitive=sensitive)
    bad = pl.col("size") < k
    if l is not None and sensitive:
        bad = bad | (pl.col("diversity") < l)
    failing = classes.filter(bad)
    if qi:
        kept = frame.join(failing.select(qi), on=qi, how="anti", nulls_equal=True)
    else:
        kept = frame.clear() if failing.height else frame
    report.rows_suppressed = frame.height - kept.height
    report.classes_suppressed = failing.height
    report.classes_after = classes.height - failing.height
    report.suppressed = failing
    return kept.drop([c for c in drop if c in kept.columns]), report


def suppress_small_cells(
    table: pl.DataFrame, *, count_column: str, k: int = DEFAULT_K, value_columns: Sequence[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """For an aggregate table whose ``count_column`` says how many people each cell summarises: blank the
    count and ``value_columns`` (default: every other numeric column) of cells below ``k``.

    Returns the table with the cells suppressed and the list of suppressed cells (their key columns).
    """
    if count_column not in table.columns:
        raise ValueError(f"count column {count_column!r} not in the table")
    values = list(value_columns) if value_columns is not None else [
        c for c, t in table.schema.items() if c != count_column and t.is_numeric()
    ]
    small = pl.col(count_column) < k
    keys = [c for c in table.columns if c not in values and c != count_column]
    out = table.with_columns(
        [pl.when(small).then(None).otherwise(pl.col(c)).alias(c) for c in values + [count_column]]
    )
    return out, table.filter(small).select(keys + [count_column])


def check_release(
    frame: pl.DataFrame, *, quasi_identifiers: Sequence[str], k: int = DEFAULT_K, unit: str | None = None,
    sensitive: Sequence[str] = (), l: int | None = None,
) -> AnonymityReport:
    """The gate for any table leaving the store: no direct identifiers, k-anonymous, l-diverse; else raises
    :class:`ReleaseError` naming the failing rule (use :func:`k_anonymise` to suppress)."""
    present = [c for c in DIRECT_IDENTIFIERS if c in frame.columns and c != unit]
    if present:
        raise ReleaseError(
            f"the table still holds direct identifier column(s) {', '.join(present)} (pseudonyms are personal "
            "data); drop or aggregate them before release"
        )
    report = check_k_anonymity(frame, quasi_identifiers, k=k, unit=unit, sensitive=sensitive, l=l)
    if not report.passed:
        raise ReleaseError(
            f"release refused: {report.summary()}; suppress the small classes (mouselab.privacy.anonymity."
            "k_anonymise, or `mouselab privacy check-release --suppress`) or generalise the quasi-identifiers"
        )
    return report
