"""Classifier two-sample test: can a classifier tell real trials from synthetic ones? (Lopez-Paz & Oquab 2017)

A classifier is trained to separate the two samples and scored on trials it has not seen. Its
cross-validated ROC AUC is the statistic: **0.5** means the samples are indistinguishable to that
classifier, **1.0** means every synthetic trial is recognised. Folds are split by *group* (participant)
when groups are given, so a classifier cannot win by recognising a person seen in training; synthetic
trials carry the group of the real participant whose trials they replay.

References
----------
Lopez-Paz, D., & Oquab, M. (2017). Revisiting classifier two-sample tests. *ICLR*.
Friedman, J. (2003). On multivariate goodness-of-fit and two-sample testing. *SLAC-PUB-10325*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = ["CLASSIFIERS", "TwoSampleResult", "classifier_two_sample_test", "make_classifier"]

#: Classifiers available to :func:`classifier_two_sample_test`.
CLASSIFIERS = ("gbm", "logistic")


@dataclass(frozen=True)
class TwoSampleResult:
    """Outcome of :func:`classifier_two_sample_test`.

    ``auc``: ROC AUC of the pooled out-of-fold predictions; ``auc_fold_mean`` / ``auc_fold_sd`` over folds;
    ``auc_se``: Hanley–McNeil standard error of ``auc``; ``n_real`` / ``n_synthetic`` rows; ``n_features``.
    """

    auc: float
    auc_se: float
    auc_fold_mean: float
    auc_fold_sd: float
    fold_aucs: tuple[float, ...]
    n_real: int
    n_synthetic: int
    n_features: int
    classifier: str

    def as_row(self) -> dict:
        return {
            "auc": self.auc, "auc_se": self.auc_se, "auc_fold_mean": self.auc_fold_mean, "auc_fold_sd": self.auc_fold_sd,
            "n_real": self.n_real, "n_synthetic": self.n_synthetic, "n_features": self.n_features,
            "classifier": self.classifier,
        }


def make_classifier(name: str, *, seed: int):
    """A fresh scikit-learn classifier: ``"gbm"`` (histogram gradient boosting, handles NaN) or
    ``"logistic"`` (median imputation, standardisation, L2 logistic regression)."""
    if name == "gbm":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=10,
                                              early_stopping=False, random_state=seed)
    if name == "logistic":
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                             LogisticRegression(C=1.0, max_iter=2000))
    raise ValueError(f"classifier must be one of {', '.join(CLASSIFIERS)}, got {name!r}")


def _matrix(x) -> np.ndarray:
    if isinstance(x, pl.DataFrame):
        x = x.select(pl.all().cast(pl.Float64)).to_numpy()
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"features must be a 2-D table, got shape {arr.shape}")
    arr = np.where(np.isfinite(arr), arr, np.nan)
    return arr


def _auc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUC."""
    if not 0 < auc < 1 or n_pos < 1 or n_neg < 1:
        return 0.0
    q1 = auc / (2 - auc)
    q2 = 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    return float(np.sqrt(max(var, 0.0)))


def classifier_two_sample_test(
    real,
    synthetic,
    *,
    seed: int,
    classifier: str = "gbm",
    groups_real=None,
    groups_synthetic=None,
    n_splits: int = 5,
) -> TwoSampleResult:
    """Cross-validated AUC of a classifier separating ``real`` from ``synthetic`` rows.

    Parameters
    ----------
    real, synthetic : feature tables (Polars frames or 2-D arrays) with the same columns; NaN allowed.
    seed : seeds the fold assignment and the classifier.
    classifier : ``"gbm"`` or ``"logistic"`` (:func:`make_classifier`).
    groups_real, groups_synthetic : optional group labels (e.g. participants); folds never split a group.
    n_splits : number of folds (reduced to the number of groups when there are fewer).
    """
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, StratifiedKFold
    from threadpoolctl import threadpool_limits

    xr, xs = _matrix(real), _matrix(synthetic)
    if xr.shape[1] != xs.shape[1]:
        raise ValueError(f"real has {xr.shape[1]} feature columns but synthetic has {xs.shape[1]}")
    if xr.shape[0] < 2 or xs.shape[0] < 2:
        raise ValueError("each sample needs at least two rows")
    x = np.vstack([xr, xs])
    keep = np.isfinite(x).any(axis=0)  # a column without any value carries no information (and trips sklearn)
    x = x[:, keep]
    y = np.concatenate([np.ones(xr.shape[0], dtype=int), np.zeros(xs.shape[0], dtype=int)])
    if groups_real is not None and groups_synthetic is not None:
        groups = np.concatenate([np.asarray(groups_real).astype(str), np.asarray(groups_synthetic).astype(str)])
        k = min(n_splits, len(np.unique(groups)))
        if k < 2:
            raise ValueError("need at least two groups for group-wise cross-validation")
        splits = GroupKFold(n_splits=k, shuffle=True, random_state=seed).split(x, y, groups)
    else:
        k = min(n_splits, int(min(xr.shape[0], xs.shape[0])))
        splits = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x, y)
    model = make_classifier(classifier, seed=seed)
    score = np.full(y.size, np.nan)
    folds = []
    for train, test in splits:
        if len(np.unique(y[train])) < 2:
            continue
        with threadpool_limits(1):  # small data: OpenMP threads only contend (and crawl on a busy machine)
            fitted = clone(model).fit(x[train], y[train])
            p = fitted.predict_proba(x[test])[:, 1]
        score[test] = p
        if len(np.unique(y[test])) == 2:
            folds.append(float(roc_auc_score(y[test], p)))
    ok = np.isfinite(score)
    auc = float(roc_auc_score(y[ok], score[ok]))
    return TwoSampleResult(
        auc=auc, auc_se=_auc_se(auc, int(y[ok].sum()), int((1 - y[ok]).sum())),
        auc_fold_mean=float(np.mean(folds)) if folds else float("nan"),
        auc_fold_sd=float(np.std(folds, ddof=1)) if len(folds) > 1 else float("nan"),
        fold_aucs=tuple(folds), n_real=xr.shape[0], n_synthetic=xs.shape[0], n_features=xr.shape[1],
        classifier=classifier,
    )
