"""Differentially private aggregates through OpenDP, with contribution bounding and a persisted budget.

Rules (and why):

* **One row per participant.** The privacy unit is a participant (add / remove one person,
  ``dp.unit_of(contributions=1)``). :func:`release` refuses a frame where a participant has more than one
  row: collapse first (:func:`per_participant`), or the noise needed to hide many rows swamps the signal.
* **Public bounds.** Sums and means clamp each value to bounds the caller states from domain knowledge;
  quantiles choose among public candidates; histograms use public bin edges. Bounds must never be computed
  from the data being released.
* **OpenDP does the noise.** Every statistic is an OpenDP measurement (exact discrete samplers for counts,
  OpenDP's Laplace for sums, the exponential mechanism for quantiles), built with the Context API
  (``dp.Context.compositor``), which splits a release's ε over its statistics and refuses queries beyond it.
  No noise is generated here. (OpenDP's Polars plugin is not used: it pins Polars 1.x.)
* **Budget per study, persisted.** ``policy.json`` declares ``epsilon_budget`` per study; every release is
  charged to ``governance/budget.jsonl`` *before* it runs (sequential composition: the ε of releases add up)
  and a release that would exceed the budget is refused. A release that fails after charging stays charged.
* **Accuracy next to the value.** Each released number carries its noise scale and the half-width of an
  interval that holds with probability ``1 - alpha`` (OpenDP's scale-to-accuracy conversions; for means an
  interval-arithmetic bound over the noisy sum and count; for quantiles the rank error of the exponential
  mechanism, ``scale · ln(|candidates| / alpha)``).
* **No seed.** DP noise must be unpredictable: OpenDP draws from the operating system's CSPRNG. This is the
  one documented exception to "every stochastic function takes ``seed``".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from mouselab.privacy import governance
from mouselab.privacy.governance import GovernanceError

BUDGET_FILE = "budget.jsonl"
KINDS = ("count", "sum", "mean", "quantile", "histogram")


class BudgetExceeded(GovernanceError):
    """A release would spend more privacy budget than the study has left."""


def _dp():
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


# ------------------------------------------------------------------------------------------------ queries
@dataclass(frozen=True)
class Query:
    """One statistic of a release. Build with :func:`count`, :func:`dp_sum`, :func:`mean`, :func:`quantile`,
    :func:`histogram`."""

    kind: str
    column: str | None = None
    bounds: tuple[float, float] | None = None
    q: float | None = None
    edges: tuple[float, ...] | None = None
    candidates: int = 201
    weight: float = 1.0

    def label(self) -> str:
        if self.kind == "count":
            return "count"
        if self.kind == "quantile":
            return f"quantile {self.q:g} of {self.column}"
        return f"{self.kind} of {self.column}"


def count(*, weight: float = 1.0) -> Query:
    """Number of participants."""
    return Query("count", weight=weight)


def dp_sum(column: str, *, bounds: tuple[float, float], weight: float = 1.0) -> Query:
    """Sum of a per-participant value clamped to public ``bounds``."""
    return Query("sum", column, _bounds(bounds), weight=weight)


def mean(column: str, *, bounds: tuple[float, float], weight: float = 1.0) -> Query:
    """Mean of a per-participant value clamped to public ``bounds`` (noisy sum / noisy count)."""
    return Query("mean", column, _bounds(bounds), weight=weight)


def quantile(column: str, q: float, *, bounds: tuple[float, float], candidates: int = 201, weight: float = 1.0) -> Query:
    """The ``q``-quantile, chosen among ``candidates`` evenly spaced public values within ``bounds``."""
    if not 0 <= q <= 1:
        raise ValueError(f"quantile q must be within 0..1, got {q}")
    return Query("quantile", column, _bounds(bounds), q=q, candidates=candidates, weight=weight)


def histogram(column: str, *, edges: Sequence[float], weight: float = 1.0) -> Query:
    """Counts per bin ``[e_i, e_{i+1})`` of public ``edges``, plus the two open-ended outer bins."""
    e = tuple(float(x) for x in edges)
    if len(e) < 2 or any(b <= a for a, b in zip(e, e[1:])):
        raise ValueError("histogram edges must be at least two strictly increasing numbers")
    return Query("histogram", column, edges=e, weight=weight)


def _bounds(bounds) -> tuple[float, float]:
    lo, hi = float(bounds[0]), float(bounds[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"bounds must be two finite numbers lo < hi, got {bounds}")
    return lo, hi


# ------------------------------------------------------------------------------------------------ budget
@dataclass
class Budget:
    """The privacy budget (total ε) of one study; persisted in the store's governance folder.

    ``Budget(store_path, study)`` reads the total from the store's policy and the spending from
    ``governance/budget.jsonl``. ``Budget.in_memory(total)`` is a throw-away budget for simulations and
    tests (nothing persisted).
    """

    store_path: str | Path | None
    study: str
    total: float | None = None
    _spent_memory: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if self.store_path is not None and self.total is None:
            declared = governance.study_policy(self.store_path, self.study).get("epsilon_budget")
            if declared is None:
                raise GovernanceError(
                    f"study {self.study!r} of {self.store_path} declares no privacy budget; declare one first: "
                    f"mouselab privacy init --store {self.store_path} --study {self.study} --epsilon 2"
                )
            self.total = float(declared)
        if self.total is None or not self.total > 0:
            raise ValueError("a privacy budget needs a total epsilon > 0")

    @classmethod
    def in_memory(cls, total: float, study: str = "simulation") -> "Budget":
        return cls(None, study, float(total))

    def _path(self) -> Path:
        return governance.governance_dir(self.store_path) / BUDGET_FILE

    def ledger(self) -> list[dict]:
        if self.store_path is None:
            return []
        return [r for r in governance.read_jsonl(self._path()) if r.get("study") == self.study]

    @property
    def spent(self) -> float:
        if self.store_path is None:
            return self._spent_memory
        return float(sum(r["epsilon"] for r in self.ledger()))

    @property
    def remaining(self) -> float:
        return max(0.0, self.total - self.spent)

    def charge(self, epsilon: float, *, label: str, statistics: list[str]) -> dict:
        """Spend ``epsilon`` or raise :class:`BudgetExceeded` (check and record are one locked step)."""
        if not epsilon > 0:
            raise ValueError("epsilon must be > 0")
        if self.store_path is None:
            if self._spent_memory + epsilon > self.total + 1e-12:
                raise BudgetExceeded(self._refusal(epsilon, self._spent_memory))
            self._spent_memory += epsilon
            return {"epsilon": epsilon, "label": label}
        from mouselab.privacy import access

        with governance.locked(self.store_path, ".budget.lock"):
            spent = self.spent
            if spent + epsilon > self.total + 1e-12:
                raise BudgetExceeded(self._refusal(epsilon, spent))
            record = {"at": governance.now_iso(), "study": self.study, "epsilon": float(epsilon), "label": label,
                      "statistics": statistics, "operator": access.current_operator()}
            governance.append_jsonl(self._path(), record)
        return record

    def _refusal(self, epsilon: float, spent: float) -> str:
        return (
            f"release refused: it needs ε = {epsilon:g} but study {self.study!r} has {max(0.0, self.total - spent):g} "
            f"of its budget ε = {self.total:g} left ({spent:g} spent); release fewer statistics, or accept that "
            "the budget is exhausted (raising it weakens the promise made to participants)"
        )


# ------------------------------------------------------------------------------------------------ release
def per_participant(frame: pl.DataFrame, *, columns: Sequence[str], by: str = "participant", how: str = "median") -> pl.DataFrame:
    """Collapse to one row per participant (contribution bounding before any noise): ``median`` or ``mean``."""
    if how not in ("median", "mean"):
        raise ValueError("how must be 'median' or 'mean'")
    return frame.group_by(by).agg([getattr(pl.col(c).cast(pl.Float64), how)().alias(c) for c in columns]).sort(by)


def _values(frame: pl.DataFrame, column: str) -> list[float]:
    if column not in frame.columns:
        raise ValueError(f"column {column!r} is not in the frame; columns: {', '.join(frame.columns)}")
    s = frame[column].cast(pl.Float64)
    return [float(v) for v in s.filter(s.is_finite()).to_list()]


def release(
    frame: pl.DataFrame, queries: Sequence[Query], *, epsilon: float, budget: Budget, unit: str = "participant",
    alpha: float = 0.05, label: str = "release",
) -> pl.DataFrame:
    """Release ``queries`` over ``frame`` (one row per ``unit``) with total privacy loss ``epsilon``.

    Returns one row per released number: ``query`` (its position in ``queries``; the bins of a histogram
    share it), ``statistic``, ``column``, ``bin``, ``value``, ``epsilon`` (of the whole query),
    ``mechanism``, ``noise_scale``, ``accuracy`` (half-width of a ``1 - alpha`` interval, in the value's
    unit; ranks for quantiles) and ``accuracy_note``. The ``unit`` column itself is never released.
    """
    if not queries:
        raise ValueError("nothing to release: give at least one query")
    if unit in frame.columns:
        dupes = frame.group_by(unit).len().filter(pl.col("len") > 1)
        if dupes.height:
            raise ValueError(
                f"{dupes.height} {unit}s have more than one row; collapse to one row per {unit} first "
                "(mouselab.privacy.dp.per_participant) so that each person's contribution is bounded"
            )
    else:
        raise ValueError(f"the frame has no {unit!r} column: contributions cannot be bounded per {unit}")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be within (0, 1)")
    budget.charge(float(epsilon), label=label, statistics=[q.label() for q in queries])
    dp = _dp()
    total_weight = sum(q.weight for q in queries)
    rows: list[dict] = []
    for number, q in enumerate(queries, start=1):
        eps_q = float(epsilon) * q.weight / total_weight
        data = _values(frame, q.column) if q.column else [0.0] * frame.height
        ctx = dp.Context.compositor(
            data=data, privacy_unit=dp.unit_of(contributions=1), privacy_loss=dp.loss_of(epsilon=eps_q),
            split_by_weights=[1.0, 1.0] if q.kind == "mean" else [1.0],
            domain=dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        )
        rows += [{"query": number, **row} for row in _run(dp, ctx, q, eps_q, alpha)]
    return pl.DataFrame(rows, schema={
        "query": pl.Int32, "statistic": pl.String, "column": pl.String, "bin": pl.String, "value": pl.Float64, "epsilon": pl.Float64,
        "mechanism": pl.String, "noise_scale": pl.Float64, "accuracy": pl.Float64, "accuracy_note": pl.String,
    })


def _run(dp, ctx, q: Query, eps: float, alpha: float) -> list[dict]:
    base = {"statistic": q.kind if q.kind != "quantile" else f"quantile {q.q:g}", "column": q.column, "bin": None,
            "epsilon": eps}
    level = f"{100 * (1 - alpha):g} %"
    if q.kind == "count":
        query = ctx.query().count().laplace()
        scale = float(query.param())
        value = float(query.release())
        return [{**base, "value": value, "mechanism": "discrete Laplace (OpenDP)", "noise_scale": scale,
                 "accuracy": dp.discrete_laplacian_scale_to_accuracy(scale, alpha),
                 "accuracy_note": f"± participants, {level}"}]
    if q.kind == "sum":
        lo, hi = q.bounds
        query = ctx.query().clamp((lo, hi)).sum().laplace()
        scale = float(query.param())
        value = float(query.release())
        return [{**base, "value": value, "mechanism": "Laplace (OpenDP), clamped sum", "noise_scale": scale,
                 "accuracy": dp.laplacian_scale_to_accuracy(scale, alpha),
                 "accuracy_note": f"± value units, {level}; values clamped to [{lo:g}, {hi:g}]"}]
    if q.kind == "mean":
        lo, hi = q.bounds
        s_query = ctx.query().clamp((lo, hi)).sum().laplace()
        s_scale = float(s_query.param())
        s_value = float(s_query.release())
        c_query = ctx.query().count().laplace()
        c_scale = float(c_query.param())
        n = max(float(c_query.release()), 1.0)
        value = min(max(s_value / n, lo), hi)
        a_s = dp.laplacian_scale_to_accuracy(s_scale, alpha / 2)
        a_c = dp.discrete_laplacian_scale_to_accuracy(c_scale, alpha / 2)
        return [{**base, "value": value, "mechanism": "Laplace sum / discrete Laplace count (OpenDP)",
                 "noise_scale": s_scale, "accuracy": _mean_halfwidth(s_value, n, a_s, a_c, lo, hi, value),
                 "accuracy_note": f"± value units, {level} (interval arithmetic over the noisy sum and count); "
                 f"values clamped to [{lo:g}, {hi:g}]"}]
    if q.kind == "quantile":
        lo, hi = q.bounds
        cands = [lo + (hi - lo) * i / (q.candidates - 1) for i in range(q.candidates)]
        query = ctx.query().clamp((lo, hi)).private_quantile(dp.max_divergence(), cands, float(q.q))
        scale = float(query.param())
        value = float(query.release())
        return [{**base, "value": value, "mechanism": "exponential mechanism (OpenDP)", "noise_scale": scale,
                 "accuracy": scale * math.log(len(cands) / alpha),
                 "accuracy_note": f"± ranks (participants), {level}; grid step {(hi - lo) / (q.candidates - 1):g}"}]
    if q.kind == "histogram":
        edges = list(q.edges)
        cats = list(range(len(edges) + 1))
        query = ctx.query().find_bin(edges=edges).count_by_categories(categories=cats, null_category=False).laplace()
        scale = float(query.param())
        counts = query.release()
        acc = dp.discrete_laplacian_scale_to_accuracy(scale, alpha)
        names = [f"< {edges[0]:g}"] + [f"[{a:g}, {b:g})" for a, b in zip(edges, edges[1:])] + [f">= {edges[-1]:g}"]
        return [{**base, "bin": names[i], "value": float(max(c, 0)),
                 "mechanism": "discrete Laplace (OpenDP); negative counts shown as 0", "noise_scale": scale,
                 "accuracy": acc, "accuracy_note": f"± participants per bin, {level}"} for i, c in enumerate(counts)]
    raise ValueError(f"unknown statistic kind {q.kind!r}; use one of {', '.join(KINDS)}")


def _mean_halfwidth(s, n, a_s, a_c, lo, hi, value) -> float:
    corners = []
    for ds in (-a_s, a_s):
        for dc in (-a_c, a_c):
            c = max(n + dc, 1.0)
            corners.append(min(max((s + ds) / c, lo), hi))
    return float(max(abs(c - value) for c in corners))


# ----------------------------------------------------------------------------------- building blocks
def sum_measurement(lo: float, hi: float, *, epsilon: float):
    """``(measurement, scale)``: an ε-DP sum (OpenDP Laplace) of values clamped to [lo, hi] — a building block
    of the re-identification meter's simulations (real releases go through :func:`release`)."""
    dp = _dp()
    lo, hi = _bounds((lo, hi))
    space = (dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.symmetric_distance())
    chain = space >> dp.t.then_clamp((lo, hi)) >> dp.t.then_sum()
    scale = float(dp.binary_search_param(lambda s: chain >> dp.m.then_laplace(s), d_in=1, d_out=epsilon))
    return chain >> dp.m.then_laplace(scale), scale


def count_measurement(*, epsilon: float):
    """An ε-DP count of rows (discrete Laplace, OpenDP) and its noise scale."""
    dp = _dp()
    space = (dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.symmetric_distance())
    chain = space >> dp.t.then_count()
    scale = float(dp.binary_search_param(lambda s: chain >> dp.m.then_laplace(s), d_in=1, d_out=epsilon))
    return chain >> dp.m.then_laplace(scale), scale


def quantile_measurement(q: float, *, bounds: tuple[float, float], candidates: int, epsilon: float):
    """An ε-DP quantile (exponential mechanism, OpenDP) over evenly spaced candidates, and its scale."""
    dp = _dp()
    lo, hi = _bounds(bounds)
    cands = [lo + (hi - lo) * i / (candidates - 1) for i in range(candidates)]
    space = (dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.symmetric_distance())
    chain = space >> dp.t.then_clamp((lo, hi))
    scale = float(dp.binary_search_param(
        lambda s: chain >> dp.m.then_private_quantile(dp.max_divergence(), cands, q, s), d_in=1, d_out=epsilon))
    return chain >> dp.m.then_private_quantile(dp.max_divergence(), cands, q, scale), scale


def study_budget(store_path, study: str, *, fallback_epsilon: float) -> tuple[Budget, str]:
    """The study's persisted budget when the store declares one, else an in-memory budget of
    ``fallback_epsilon`` (an ungoverned store such as the synthetic sample); with a sentence saying which."""
    if governance.is_governed(store_path) and "epsilon_budget" in governance.study_policy(store_path, study):
        b = Budget(store_path, study)
        return b, (f"charged to the persisted budget of study {study!r}: ε {b.total:g}, "
                   f"{b.remaining:g} left before this release")
    return Budget.in_memory(fallback_epsilon, study), (
        f"the store declares no budget for {study!r} (ungoverned or synthetic): an in-memory budget of "
        f"ε {fallback_epsilon:g} is used and nothing is persisted"
    )


def ledger(store_path, study: str | None = None) -> list[dict]:
    rows = governance.read_jsonl(governance.governance_dir(store_path) / BUDGET_FILE)
    return [r for r in rows if study is None or r.get("study") == study]


__all__ = [
    "Budget", "BudgetExceeded", "Query", "count", "count_measurement", "dp_sum", "histogram", "ledger", "mean",
    "per_participant", "quantile", "quantile_measurement", "release", "study_budget", "sum_measurement",
]
