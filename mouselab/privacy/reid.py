"""The re-identification meter: how well can someone pick a participant out of data or a release?

Cursor dynamics are a behavioural biometric (Balabit, SapiMouse and Boun report AUC 0.92–0.95 for verifying a
user from seconds of movement), so every release form is measured against an attacker, on the controller's
side, before anything leaves the store. Frames in, frames out; nothing here opens the store.

Threat models and what is measured (each gives top-1 / top-5 identification accuracy and the verification
equal error rate, EER, next to chance: 1/N, 5/N and 0.5):

* **raw per-action features** (:func:`identify_actions`) — the attacker holds labelled movement of each
  person from one session ("reference") and sees pseudonymous actions from another ("probe"); a classifier
  trained on the reference ranks identities for windows of ``window_actions`` probe actions.
* **per-participant summaries** (:func:`identify_profiles`) — the release has one pseudonymous row of mean
  features per person; the attacker ranks release rows by distance to each person's reference profile.
* **k-anonymous generalised summaries** (:func:`identify_generalised`) — the same rows reduced to
  quantile bins of a few features, classes smaller than ``k`` suppressed; rows of one class are
  indistinguishable, so ties are counted at their expected rank.
* **aggregates, exact or differentially private** (:func:`differencing_attack`) — a statistic over
  everyone but one person is released; the attacker knows every candidate's true values (the strongest
  insider) and ranks candidates by how well "total minus candidate" explains the release. Exact aggregates
  give the missing person away; OpenDP noise pushes the attack to chance.

Sessions: identification must cross sessions (never train and test within one). The sample study has one
trial session per participant, so :func:`pseudo_sessions` splits each session into halves by time — an
honest but optimistic stand-in (same day, same device, same state): real cross-day accuracy is lower.

The verdict (:func:`verdict`): a release form passes unless its top-1 accuracy is significantly above the
*tolerated* level ``τ = max(1/k, 1/N)`` — the k-anonymity promise ("no better than picking one of k"), or
chance itself when the study has fewer than ``k`` people, since no release can be less identifying than
guessing. "Significantly" is an exact one-sided binomial test of the probes' top-1 hits against ``τ`` at
level ``alpha``: the form fails when ``P(X ≥ hits) < alpha`` for ``X ~ Binomial(probes, τ)``. This keeps
a release measured at chance from failing on sampling noise in a small study (the old absolute rule,
top-1 ≤ 0.2, failed everything with fewer than five people, whatever the release). Two caveats, both
stated in the report: probes of one person are not independent, so the test is anti-conservative — it
fails a form more readily than independence would justify, the safe side for a privacy gate; and with few
probes it only detects large excesses, so the report also shows the largest top-1 that still passes.
``max_top1`` overrides ``τ``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

#: Per-action features used by the identification models (kinematics, not task geometry).
FEATURES = (
    "duration_ms", "distance_px", "straightness", "largest_deviation_px", "sum_of_angles", "sharp_angles",
    "pauses", "acc_time_ms", "n_samples",
    "speed_mean", "speed_sd", "speed_max", "acc_mean", "acc_sd", "acc_max", "acc_min", "jerk_mean", "jerk_sd",
    "vx_mean", "vx_sd", "vy_mean", "vy_sd", "angular_velocity_sd", "curvature_sd",
)
#: Public (data-independent) bounds of per-participant mean features, for releases: domain knowledge of
#: desktop pointing (px, ms, px/s), never derived from the data being released.
PUBLIC_BOUNDS: dict[str, tuple[float, float]] = {
    "duration_ms": (0.0, 3000.0), "distance_px": (0.0, 2000.0), "straightness": (0.0, 1.0),
    "largest_deviation_px": (0.0, 500.0), "speed_mean": (0.0, 4000.0), "speed_max": (0.0, 10000.0),
    "acc_time_ms": (0.0, 2000.0), "pauses": (0.0, 10.0), "sum_of_angles": (0.0, 100.0),
}
KEY = ("participant", "session", "trial", "action")


@dataclass(frozen=True)
class Identification:
    """Accuracy of one attack: top-1 / top-5 over probes, EER, and chance levels."""

    form: str
    probes: int
    candidates: int
    top1: float
    top5: float
    eer: float

    @property
    def chance_top1(self) -> float:
        return 1.0 / self.candidates if self.candidates else float("nan")

    @property
    def chance_top5(self) -> float:
        return min(5, self.candidates) / self.candidates if self.candidates else float("nan")

    def row(self, *, max_top1: float | None = None, k: int = 5, alpha: float = 0.05) -> dict:
        """One row of the report's identification table, with the :func:`verdict` columns."""
        v = verdict(self, k=k, alpha=alpha, max_top1=max_top1)
        return {
            "release form": self.form, "candidates": self.candidates, "probes": self.probes,
            "top-1": self.top1, "chance top-1": self.chance_top1, "top-5": self.top5,
            "chance top-5": self.chance_top5, "EER": self.eer, "chance EER": 0.5,
            "tolerated top-1": v["tolerated"], "passes up to": v["passes_up_to"], "p": v["p"],
            "verdict": v["verdict"],
        }


# ------------------------------------------------------------------------------------------------ features
def action_features(samples: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Per-action features (the ``actions`` table) from samples, via :mod:`mouselab.segmentation`.

    Falls back to :func:`simple_action_features` when the segmentation package is unavailable.
    """
    try:
        from mouselab.segmentation import action_table
    except ImportError:  # pragma: no cover - segmentation ships with mouselab
        return simple_action_features(samples)
    return action_table(samples)


def simple_action_features(samples: pl.DataFrame | pl.LazyFrame, *, idle_gap_ms: float = 1000.0) -> pl.DataFrame:
    """Actions = runs of samples split at idle gaps ≥ ``idle_gap_ms`` and after each button release, with
    duration, path length, straightness and speed / acceleration statistics. A small stand-in for
    :func:`mouselab.segmentation.action_table`, vectorised in Polars."""
    lazy = samples.lazy() if isinstance(samples, pl.DataFrame) else samples
    unit = ["participant", "session", "trial"]
    lazy = lazy.sort(unit + ["t_ms"], nulls_last=True)
    gap = (pl.col("t_ms").diff().over(unit) >= idle_gap_ms).fill_null(False)
    after_up = (pl.col("event").shift().over(unit) == "up").fill_null(False)
    lazy = lazy.with_columns((gap | after_up).cum_sum().over(unit).add(1).cast(pl.Int32).alias("action"))
    keys = unit + ["action"]
    dt = pl.col("t_ms").diff().over(keys) / 1000.0
    ds = (pl.col("x").diff().over(keys) ** 2 + pl.col("y").diff().over(keys) ** 2).sqrt()
    lazy = lazy.with_columns(ds.alias("_ds"), (ds / dt).alias("speed"))
    lazy = lazy.with_columns((pl.col("speed").diff().over(keys) / dt).alias("acc"))
    disp = ((pl.col("x").last() - pl.col("x").first()) ** 2 + (pl.col("y").last() - pl.col("y").first()) ** 2).sqrt()
    out = lazy.group_by(keys).agg(
        pl.len().cast(pl.Int32).alias("n_samples"),
        (pl.col("t_ms").last() - pl.col("t_ms").first()).alias("duration_ms"),
        pl.col("_ds").sum().alias("distance_px"),
        pl.when(pl.col("_ds").sum() > 0).then(disp / pl.col("_ds").sum()).alias("straightness"),
        *[getattr(pl.col(c).filter(pl.col(c).is_finite()), f)().alias(f"{c}_{n}")
          for c in ("speed", "acc") for f, n in (("mean", "mean"), ("std", "sd"), ("max", "max"))],
    )
    return out.filter(pl.col("n_samples") >= 4).sort(keys).collect()


def feature_columns(actions: pl.DataFrame) -> list[str]:
    return [c for c in FEATURES if c in actions.columns]


def pseudo_sessions(actions: pl.DataFrame, *, how: str = "halves") -> pl.DataFrame:
    """Label each action ``split`` = ``"A"`` or ``"B"``.

    * ``halves`` — the first / second half of each participant's session by action start time (pseudo-
      sessions; for studies with one session per person);
    * ``sessions`` — each participant's first session is A, every later session B (true cross-session).
    """
    if how == "halves":
        order = pl.col("t_start_ms") if "t_start_ms" in actions.columns else pl.col("action")
        rank = order.rank("ordinal").over(["participant", "session"])
        size = pl.len().over(["participant", "session"])
        return actions.with_columns(pl.when(rank <= size / 2).then(pl.lit("A")).otherwise(pl.lit("B")).alias("split"))
    if how == "sessions":
        first = pl.col("session").min().over("participant")
        return actions.with_columns(pl.when(pl.col("session") == first).then(pl.lit("A")).otherwise(pl.lit("B")).alias("split"))
    raise ValueError(f"how must be 'halves' or 'sessions', not {how!r}")


# ------------------------------------------------------------------------------------------------ metrics
def _rank_metrics(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Expected top-1 / top-5 (ties at their expected rank) and EER from a probes × candidates score matrix."""
    n_probes, n_cand = scores.shape
    true_scores = scores[np.arange(n_probes), truth]
    greater = (scores > true_scores[:, None]).sum(axis=1)
    equal = (scores == true_scores[:, None]).sum(axis=1)
    top = {k: np.clip((k - greater) / equal, 0.0, 1.0).mean() for k in (1, 5)}
    genuine = true_scores
    mask = np.ones_like(scores, dtype=bool)
    mask[np.arange(n_probes), truth] = False
    impostor = scores[mask]
    return float(top[1]), float(top[5]), equal_error_rate(genuine, impostor)


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """EER: the rate where false accepts equal false rejects (higher score = more likely genuine)."""
    from sklearn.metrics import roc_curve

    genuine = np.asarray(genuine, dtype=float)
    impostor = np.asarray(impostor, dtype=float)
    if genuine.size == 0 or impostor.size == 0:
        return float("nan")
    y = np.r_[np.ones(genuine.size), np.zeros(impostor.size)]
    s = np.r_[genuine, impostor]
    fpr, tpr, _ = roc_curve(y, s)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2)


# ------------------------------------------------------------------------------------------------ attacks
def identify_actions(
    actions: pl.DataFrame, *, window_actions: int = 10, seed: int = 0, n_estimators: int = 200,
    form: str = "raw per-action features",
) -> Identification:
    """Train on split A, identify windows of ``window_actions`` actions of split B (and vice versa; averaged)."""
    from sklearn.ensemble import ExtraTreesClassifier

    cols = feature_columns(actions)
    people = sorted(actions["participant"].unique().to_list())
    index = {p: i for i, p in enumerate(people)}
    results = []
    for ref, probe in (("A", "B"), ("B", "A")):
        train = actions.filter(pl.col("split") == ref)
        test = actions.filter(pl.col("split") == probe)
        if train.height == 0 or test.height == 0:
            continue
        x_train = _matrix(train, cols)
        model = ExtraTreesClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=1, min_samples_leaf=2)
        model.fit(x_train, train["participant"].to_list())
        proba = model.predict_proba(_matrix(test, cols))
        full = np.full((test.height, len(people)), 1e-6)
        for j, cls in enumerate(model.classes_):
            full[:, index[cls]] += proba[:, j]
        logp = np.log(full)
        test_idx = test.with_row_index("__row").with_columns(
            (pl.col("__row").rank("ordinal").over("participant") - 1).floordiv(window_actions).alias("__w")
        )
        groups = test_idx.group_by(["participant", "__w"], maintain_order=True).agg(pl.col("__row"), pl.len())
        groups = groups.filter(pl.col("len") >= max(1, window_actions // 2))
        scores = np.vstack([logp[rows].mean(axis=0) for rows in groups["__row"].to_list()])
        truth = np.array([index[p] for p in groups["participant"].to_list()])
        results.append((_rank_metrics(scores, truth), len(truth)))
    return _combine(form, results, len(people))


def _matrix(frame: pl.DataFrame, cols: Sequence[str]) -> np.ndarray:
    x = np.array(frame.select([pl.col(c).cast(pl.Float64) for c in cols]).to_numpy(), dtype=float, copy=True)
    x[~np.isfinite(x)] = 0.0
    return x


def _combine(form: str, results, candidates: int) -> Identification:
    if not results:
        return Identification(form, 0, candidates, float("nan"), float("nan"), float("nan"))
    weights = np.array([n for _, n in results], dtype=float)
    metrics = np.array([m for m, _ in results])
    avg = (metrics * weights[:, None]).sum(axis=0) / weights.sum()
    return Identification(form, int(weights.sum()), candidates, float(avg[0]), float(avg[1]), float(avg[2]))


def participant_profiles(actions: pl.DataFrame, *, features: Sequence[str] | None = None) -> pl.DataFrame:
    """One row per (participant, split): the median of each feature over the participant's actions."""
    cols = list(features) if features is not None else feature_columns(actions)
    keys = ["participant", "split"] if "split" in actions.columns else ["participant"]
    return actions.group_by(keys).agg([pl.col(c).cast(pl.Float64).median().alias(c) for c in cols]).sort(keys)


def discriminative_features(actions: pl.DataFrame, *, n: int = 6) -> list[str]:
    """The ``n`` features that separate people best (ANOVA F over actions; what an attacker would pick from
    labelled reference data)."""
    cols = feature_columns(actions)
    x = _matrix(actions, cols)
    labels = np.array(actions["participant"].to_list())
    groups = [x[labels == p] for p in np.unique(labels)]
    grand = x.mean(axis=0)
    between = sum(len(g) * (g.mean(axis=0) - grand) ** 2 for g in groups) / max(len(groups) - 1, 1)
    within = sum(((g - g.mean(axis=0)) ** 2).sum(axis=0) for g in groups) / max(len(x) - len(groups), 1)
    f = np.where(within > 0, between / np.where(within > 0, within, 1.0), 0.0)
    return [cols[i] for i in np.argsort(-f)[:n]]


def identify_profiles(
    actions: pl.DataFrame, *, n_features: int = 6, form: str = "per-participant summaries (pseudonymised)",
) -> Identification:
    """Link each person's reference profile (A) to the released pseudonymous profiles (B) by distance over
    the ``n_features`` most discriminative features (chosen on the reference side)."""
    prof_all = participant_profiles(actions, features=feature_columns(actions))
    results = []
    for ref, probe in (("A", "B"), ("B", "A")):
        cols = discriminative_features(actions.filter(pl.col("split") == ref), n=n_features)
        prof = prof_all
        a = prof.filter(pl.col("split") == ref).sort("participant")
        b = prof.filter(pl.col("split") == probe).sort("participant")
        people = sorted(set(a["participant"]) & set(b["participant"]))
        a = a.filter(pl.col("participant").is_in(people))
        b = b.filter(pl.col("participant").is_in(people))
        xa, xb = _matrix(a, cols), _matrix(b, cols)
        mu, sd = xb.mean(axis=0), xb.std(axis=0)
        sd[sd == 0] = 1.0
        za, zb = (xa - mu) / sd, (xb - mu) / sd
        dist = np.sqrt(((za[:, None, :] - zb[None, :, :]) ** 2).sum(axis=2))
        results.append((_rank_metrics(-dist, np.arange(len(people))), len(people)))
    return _combine(form, results, prof_all["participant"].n_unique())


def generalise(profiles: pl.DataFrame, *, features: Sequence[str], bins: int = 3,
               edges: dict[str, list[float]] | None = None) -> tuple[pl.DataFrame, dict[str, list[float]]]:
    """Replace each feature by its quantile bin (``bins`` bins; edges from ``edges`` or from ``profiles``)."""
    edges = dict(edges or {})
    out = profiles
    for c in features:
        if c not in edges:
            qs = np.nanquantile(profiles[c].cast(pl.Float64).to_numpy(), np.linspace(0, 1, bins + 1)[1:-1])
            edges[c] = sorted({float(q) for q in qs if np.isfinite(q)})  # tied quantiles (few people) merge bins
        labels = [f"q{i + 1}" for i in range(len(edges[c]) + 1)]
        value = pl.col(c).cast(pl.Float64)
        if edges[c]:  # right-closed bins (lo, hi], as quantile edges are meant
            binned = value.bin_intervals(edges[c], labels=labels, right_closed=True).cast(pl.String)
        else:  # no finite edge (every value missing or equal): one bin
            binned = pl.when(value.is_not_null()).then(pl.lit(labels[0]))
        out = out.with_columns(binned.alias(c))
    return out, edges


def identify_generalised(
    actions: pl.DataFrame, *, features: Sequence[str], k: int = 5, bins: int = 3,
    form: str | None = None,
) -> tuple[Identification, dict]:
    """Link reference profiles to a k-anonymous release of generalised profiles (suppressed rows are lost)."""
    from mouselab.privacy.anonymity import k_anonymise

    prof = participant_profiles(actions, features=features)
    people_all = prof["participant"].n_unique()
    results, info = [], {}
    for ref, probe in (("A", "B"), ("B", "A")):
        b = prof.filter(pl.col("split") == probe)
        a = prof.filter(pl.col("split") == ref)
        gb, edges = generalise(b, features=features, bins=bins)
        ga, _ = generalise(a, features=features, bins=bins, edges=edges)
        released, rep = k_anonymise(gb, quasi_identifiers=list(features), k=k, unit="participant", drop=())
        info = {"rows_released": released.height, "rows_suppressed": rep.rows_suppressed,
                "classes": rep.classes_after, "k": k}
        if released.height == 0:
            results.append(((0.0, 0.0, 0.5), a.height))
            continue
        rel = released.select(["participant", *features])
        truth_rows = {p: i for i, p in enumerate(rel["participant"].to_list())}
        va = ga.select(features).to_numpy()
        vr = rel.select(features).to_numpy()
        scores = (va[:, None, :] == vr[None, :, :]).sum(axis=2).astype(float)
        # a suppressed person cannot be found: their "true" column is a virtual record no one matches
        truth = []
        for p in ga["participant"].to_list():
            truth.append(truth_rows.get(p, -1))
        truth = np.array(truth)
        scores = np.hstack([scores, np.full((scores.shape[0], 1), -1.0)])
        truth = np.where(truth < 0, scores.shape[1] - 1, truth)
        results.append((_rank_metrics(scores, truth), len(truth)))
    name = form or f"k-anonymous generalised summaries (k={k}, {bins} bins × {len(features)} features)"
    return _combine(name, results, people_all), info


def differencing_attack(
    values: pl.DataFrame, *, features: Sequence[str], mechanism, repeats: int = 5, form: str,
) -> Identification:
    """Leave each person out in turn, release ``mechanism(values without them)`` (sums per feature and a
    count), and rank candidates by the likelihood that they are the missing one.

    ``values`` has one row per participant. ``mechanism(matrix) -> (released sums, scales)``: scales of the
    Laplace noise per released number (0 for exact releases). The attacker knows every candidate's values.
    """
    x = _matrix(values, features)
    n = x.shape[0]
    total = x.sum(axis=0)
    scores, truth = [], []
    for t in range(n):
        others = np.delete(x, t, axis=0)
        for _ in range(repeats):
            released, scales = mechanism(others)
            expected = total[None, :] - x  # what the release would be if candidate i were missing
            resid = np.abs(released[None, :] - expected)
            if np.all(scales == 0):
                s = -resid.sum(axis=1) / np.maximum(np.abs(total), 1e-9).sum()
            else:
                s = -(resid / np.where(scales > 0, scales, 1.0)).sum(axis=1)  # Laplace log-likelihood
            scores.append(s)
            truth.append(t)
    return _combine(form, [(_rank_metrics(np.vstack(scores), np.array(truth)), len(truth))], n)


def exact_sums(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact release: column sums, no noise."""
    return matrix.sum(axis=0), np.zeros(matrix.shape[1])


def dp_sums(bounds: Sequence[tuple[float, float]], *, epsilon: float, seed: int | None = None):
    """A mechanism releasing each column's clamped sum with OpenDP's Laplace mechanism, ``epsilon`` split
    evenly over the columns (pure ε-DP, add/remove one participant).

    The noise scale always comes from OpenDP's calibration. With ``seed=None`` the noise is drawn by OpenDP
    itself (as in a real release). With a ``seed`` the *simulation* draws Laplace noise of that same scale
    from a seeded NumPy generator, so that a report's risk numbers are reproducible; this path exists only
    for the risk meter — real releases always go through :func:`mouselab.privacy.dp.release`.
    """
    from mouselab.privacy import dp

    parts = [dp.sum_measurement(lo, hi, epsilon=epsilon / len(bounds)) for lo, hi in bounds]
    scales = np.array([s for _, s in parts])
    rng = np.random.default_rng(seed) if seed is not None else None
    lows = np.array([lo for lo, _ in bounds])
    highs = np.array([hi for _, hi in bounds])

    def mechanism(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if rng is not None:
            exact = np.clip(matrix, lows, highs).sum(axis=0)
            return exact + rng.laplace(0.0, scales), scales
        out = np.array([float(meas(list(map(float, matrix[:, j])))) for j, (meas, _) in enumerate(parts)])
        return out, scales

    return mechanism


def verdict_threshold(k: int) -> float:
    """The k-anonymity promise for top-1 identification accuracy, 1/k (see :func:`tolerated_top1`)."""
    return 1.0 / k if k > 0 else math.nan


def tolerated_top1(candidates: int, *, k: int) -> float:
    """The tolerated top-1 accuracy ``τ = max(1/k, 1/candidates)``: the k-anonymity promise, or chance when
    there are fewer than ``k`` candidates (no release can be less identifying than a guess)."""
    if candidates < 1:
        return verdict_threshold(k)
    return max(verdict_threshold(k), 1.0 / candidates) if k > 0 else 1.0 / candidates


def top1_p_value(top1: float, probes: int, tolerated: float) -> float:
    """One-sided exact binomial p-value ``P(X ≥ top1·probes)`` for ``X ~ Binomial(probes, tolerated)``.

    Top-1 counts ties at their expected rank, so ``top1·probes`` hits may be fractional; the regularised
    incomplete beta function ``I_τ(h, n − h + 1)`` equals the binomial tail at whole ``h`` and interpolates
    between them. NaN when there are no probes.
    """
    from scipy.special import betainc

    if not probes or not np.isfinite(top1):
        return math.nan
    hits = min(max(float(top1) * probes, 0.0), float(probes))
    if hits <= 0.0 or tolerated >= 1.0:
        return 1.0
    if tolerated <= 0.0:
        return 0.0
    return float(betainc(hits, probes - hits + 1.0, tolerated))


def verdict(
    identification: Identification, *, k: int = 5, alpha: float = 0.05, max_top1: float | None = None,
) -> dict:
    """Pass or fail one release form (the rule of the module docstring).

    Returns ``tolerated`` (``τ``: ``max_top1`` when given, else :func:`tolerated_top1`), ``p``
    (:func:`top1_p_value` of the observed top-1 against ``τ``), ``passes_up_to`` (the largest top-1 with a
    whole number of hits that still passes with this many probes) and ``verdict``: ``"pass"`` when
    ``p >= alpha``, ``"FAIL"`` when ``p < alpha``, ``"n/a"`` without probes.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    tau = float(max_top1) if max_top1 is not None and max_top1 > 0 else tolerated_top1(identification.candidates, k=k)
    n = identification.probes
    p = top1_p_value(identification.top1, n, tau)
    if not np.isfinite(p):
        return {"tolerated": tau, "p": p, "passes_up_to": math.nan, "verdict": "n/a"}
    passing = [h for h in range(n + 1) if top1_p_value(h / n, n, tau) >= alpha]
    return {"tolerated": tau, "p": p, "passes_up_to": max(passing) / n, "verdict": "pass" if p >= alpha else "FAIL"}
