"""Cross-validated evaluation of endpoint predictors at fractions of the movement (participant-split).

For every fold of a ``GroupKFold`` over participants, each predictor is fitted on the cases of the
training participants (all fractions together: a predictor never knows how far along a movement is) and
predicts the held-out participants' cases. Reported per predictor and fraction:

* endpoint error: Euclidean distance (px) between predicted and true final position — mean, median, and
  mean relative to the movement amplitude (%);
* target identification: the candidate target nearest to the prediction is the predicted target; it is
  correct when it is also the candidate nearest to the true final position. Candidates are the distinct
  target centres of the trials table, or — when the layout was not recorded — inferred from the final
  positions (:func:`~mouselab.predict.cases.infer_targets`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from mouselab.predict.cases import PartialMovements, cut_movements, infer_targets
from mouselab.predict.predictors import PREDICTORS, make_predictor
from mouselab.synth.describe import trial_set

__all__ = ["FRACTIONS", "EndpointEvaluation", "candidate_targets", "evaluate_endpoint_prediction", "parse_fractions"]

FRACTIONS = (0.25, 0.5, 0.75, 0.9)


@dataclass
class EndpointEvaluation:
    """``predictions``: one row per case × predictor; ``summary``: one row per predictor × fraction;
    ``targets``: the candidate target centres used for identification; ``source`` says where they came from."""

    predictions: pl.DataFrame
    summary: pl.DataFrame
    targets: np.ndarray
    source: str

    def verdict(self, *, baseline: str = "current") -> str:
        """Markdown lines: per fraction, which predictors have a lower mean endpoint error than ``baseline``
        and by how much; written from the numbers."""
        lines = []
        for (fraction,), grp in self.summary.group_by(["fraction"], maintain_order=True):
            base = grp.filter(pl.col("predictor") == baseline)
            if base.height == 0:
                continue
            b = base["mean_error_px"][0]
            better = grp.filter((pl.col("predictor") != baseline) & (pl.col("mean_error_px") < b)).sort("mean_error_px")
            best = grp.filter(pl.col("predictor") != baseline).sort("mean_error_px").head(1)
            head = f"- **{fraction * 100:.0f} %** of the movement: current position {b:.0f} px; "
            if better.height:
                r = better.row(0, named=True)
                names = ", ".join(better["label"].to_list())
                lines.append(head + f"best {r['label']} {r['mean_error_px']:.0f} px "
                             f"({100 * (1 - r['mean_error_px'] / b):.0f} % lower); beating the baseline: {names}.")
            elif best.height:
                r = best.row(0, named=True)
                lines.append(head + f"no predictor beats it (best {r['label']} {r['mean_error_px']:.0f} px).")
        return "\n".join(lines)

    def table(self, value: str = "mean_error_px") -> pl.DataFrame:
        """Predictors × fractions of one summary column (rows: predictors, columns: ``25 %`` …)."""
        wide = self.summary.with_columns(col=(pl.col("fraction") * 100).round(0).cast(pl.Int32).cast(pl.String) + " %")
        return wide.pivot(on="col", index="predictor", values=value, sort_columns=False)


def candidate_targets(trials: pl.DataFrame | None, ends: np.ndarray, *, radius_px: float = 150.0
                      ) -> tuple[np.ndarray, str]:
    """Candidate target centres (k, 2) and their source: ``"trials table"`` or ``"inferred from endpoints"``."""
    if trials is not None and {"target_x", "target_y"} <= set(trials.columns):
        t = trials.select(pl.col("target_x").cast(pl.Float64), pl.col("target_y").cast(pl.Float64)).drop_nulls().unique()
        t = t.filter(pl.col("target_x").is_finite() & pl.col("target_y").is_finite()).sort(["target_x", "target_y"])
        if t.height >= 2:
            return t.to_numpy(), "trials table"
    return infer_targets(ends, radius_px=radius_px), "inferred from endpoints"


def _nearest(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    if targets.shape[0] == 0:
        return np.full(points.shape[0], -1)
    d = np.hypot(points[:, None, 0] - targets[None, :, 0], points[:, None, 1] - targets[None, :, 1])
    return np.argmin(d, axis=1)


def evaluate_endpoint_prediction(
    samples: pl.DataFrame | pl.LazyFrame,
    trials: pl.DataFrame | pl.LazyFrame | None = None,
    *,
    seed: int,
    fractions: Sequence[float] = FRACTIONS,
    predictors: Sequence[str] = tuple(PREDICTORS),
    n_splits: int = 5,
    still_px: float = 2.0,
    alpha: float = 0.05,
) -> EndpointEvaluation:
    """Evaluate endpoint predictors with participant-split cross-validation (see the module docstring).

    Parameters
    ----------
    samples : long samples frame (trial rows are used).
    trials : optional trials table (target geometry for identification).
    seed : seeds the folds and the learned predictors.
    fractions : fractions of the movement time at which movements are cut.
    predictors : names from :data:`~mouselab.predict.predictors.PREDICTORS`.
    n_splits : folds (reduced to the number of participants when there are fewer).
    still_px : radius (px) of rest at the start and end (movement phases).
    alpha : the summary's ``ci_low`` / ``ci_high`` of the mean error cover ``1 − alpha`` (t interval over
        participants' mean errors, so trials of one person do not count as independent).
    """
    from scipy.stats import t as student_t
    from sklearn.model_selection import GroupKFold

    if isinstance(trials, pl.LazyFrame):
        trials = trials.collect()
    ts = trial_set(samples, trials)
    cases = cut_movements(ts, fractions=fractions, still_px=still_px)
    if cases.n_cases == 0:
        raise ValueError("no trial with a movement to predict")
    targets, source = candidate_targets(trials, cases.end)
    groups = cases.groups
    k = min(n_splits, len(np.unique(groups)))
    if k < 2:
        raise ValueError("need at least two participants for participant-split cross-validation")
    pred = {name: np.full((cases.n_cases, 2), np.nan) for name in predictors}
    folds = np.full(cases.n_cases, -1)
    splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(splitter.split(cases.features, groups=groups)):
        tr, te = cases.subset(train), cases.subset(test)
        folds[test] = fold
        for name in predictors:
            model = make_predictor(name, seed=seed).fit(tr)
            pred[name][test] = model.predict(te)
    keys = ts.keys[cases.trial]
    amp = np.hypot(*(cases.end - cases.start).T)
    true_target = _nearest(cases.end, targets)
    frames = []
    for name in predictors:
        p = pred[name]
        err = np.hypot(*(p - cases.end).T)
        hit = _nearest(p, targets) == true_target if targets.shape[0] else np.full(cases.n_cases, np.nan)
        frames.append(keys.with_columns(
            predictor=pl.lit(name), fraction=pl.Series(cases.fraction), fold=pl.Series(folds),
            pred_x=pl.Series(p[:, 0]), pred_y=pl.Series(p[:, 1]), end_x=pl.Series(cases.end[:, 0]),
            end_y=pl.Series(cases.end[:, 1]), amplitude_px=pl.Series(amp), error_px=pl.Series(err),
            target_correct=pl.Series(hit, dtype=pl.Boolean) if targets.shape[0] else pl.lit(None, dtype=pl.Boolean),
        ))
    predictions = pl.concat(frames)
    names = {k: PREDICTORS[k].name for k in predictors}
    summary = (
        predictions.group_by(["predictor", "fraction"], maintain_order=True)
        .agg(
            n=pl.len(),
            mean_error_px=pl.col("error_px").mean(),
            median_error_px=pl.col("error_px").median(),
            error_pct_of_amplitude=(pl.col("error_px") / pl.col("amplitude_px")).mean() * 100,
            target_accuracy_pct=pl.col("target_correct").cast(pl.Float64).mean() * 100,
        )
        .with_columns(label=pl.col("predictor").replace_strict(names))
    )
    # maintain_order + a sort keep float sums in one order, so the same seed gives bit-identical tables
    by_person = ["predictor", "fraction", "participant"] if "participant" in predictions.columns else ["predictor", "fraction"]
    people = (predictions.group_by(by_person, maintain_order=True)
              .agg(pl.col("error_px").mean().alias("m"))
              .sort(by_person)
              .group_by(["predictor", "fraction"], maintain_order=True).agg(sd=pl.col("m").std(), k=pl.len()))
    summary = summary.join(people, on=["predictor", "fraction"], how="left")
    tq = pl.col("k").map_elements(lambda k: float(student_t.ppf(1 - alpha / 2, max(k - 1, 1))), return_dtype=pl.Float64)
    half = tq * pl.col("sd") / pl.col("k").sqrt()
    summary = summary.with_columns(ci_low=pl.col("mean_error_px") - half, ci_high=pl.col("mean_error_px") + half,
                                   participants=pl.col("k")).drop("sd", "k")
    order = {k: i for i, k in enumerate(predictors)}
    summary = summary.with_columns(_o=pl.col("predictor").replace_strict(order)).sort(["fraction", "_o"]).drop("_o")
    return EndpointEvaluation(predictions, summary.select(["predictor", "label", "fraction", "n", "participants",
                                                           "mean_error_px", "ci_low", "ci_high", "median_error_px",
                                                           "error_pct_of_amplitude", "target_accuracy_pct"]),
                              targets, source)


def parse_fractions(text: str | Sequence[float]) -> tuple[float, ...]:
    """``"0.25, 0.5"`` → ``(0.25, 0.5)``; every fraction must lie in (0, 1]."""
    items = text.replace(";", ",").split(",") if isinstance(text, str) else list(text)
    try:
        out = tuple(float(v) for v in items if str(v).strip())
    except ValueError:
        raise ValueError(f"fractions: expected comma-separated numbers such as '0.25, 0.5', got {text!r}") from None
    if not out or any(not 0 < f <= 1 for f in out):
        raise ValueError(f"fractions must lie in (0, 1], got {text!r}")
    return out
