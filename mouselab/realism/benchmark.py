"""The realism benchmark: calibrate on some participants, generate, and compare with the others.

Protocol of :func:`realism_benchmark`:

1. Participants are split at random (seeded) into a **calibration** half and a **held-out** half.
2. Each calibrated generator (:func:`mouselab.synth.calibrate.calibrate`, kernels ``lognormal`` and
   ``minjerk``) is fitted to the calibration half only.
3. For every held-out real trial one synthetic trial is generated with the same start, target and target
   size, and the same participant label (a calibration participant is drawn for each held-out one).
   The baselines (WindMouse-style, Bezier-style; :mod:`mouselab.synth.baselines`) receive the **same
   timing** as the sigma-lognormal generator — latency, movement time and dwell drawn from its calibration
   — and the same recorder, so the comparison is about how they move, not when.
4. Held-out real and synthetic trials are compared with a classifier two-sample test on two feature sets
   (registered trial measures; raw time-normalised trajectories), folds split by participant; with
   distribution distances per measure; and with Fitts' law fitted to each set.

Nothing in the yardstick is tuned to the generators: the measures are the registry's
(:mod:`mouselab.measures`), the classifiers are off-the-shelf, and the generators never see held-out data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from mouselab.realism.distances import distribution_distances
from mouselab.realism.features import KEY, measure_features, trajectory_features
from mouselab.realism.two_sample import classifier_two_sample_test
from mouselab.synth.baselines import bezier_movements, windmouse_movements
from mouselab.synth.calibrate import Calibration, calibrate, fit_fitts, geometry_frame
from mouselab.synth.describe import describe_movements, trial_set
from mouselab.synth.kinematics import rng_from

__all__ = ["GENERATORS", "GENERATOR_LABELS", "RealismReport", "realism_benchmark", "split_participants"]

#: Generators compared by :func:`realism_benchmark`.
GENERATORS = ("lognormal", "minjerk", "windmouse", "bezier")
GENERATOR_LABELS = {
    "lognormal": "sigma-lognormal (calibrated)",
    "minjerk": "minimum-jerk (calibrated)",
    "windmouse": "WindMouse-style baseline",
    "bezier": "Bezier-style baseline",
}
#: Measures left out of the comparison: constant by definition (mousetrap's vel_min is always 0).
_CONSTANT = ("vel_min", "vel_min_time")


@dataclass
class RealismReport:
    """What :func:`realism_benchmark` found.

    ``auc``: one row per generator × feature set × classifier; ``distances``: one row per generator ×
    measure; ``fitts``: Fitts' law per source (held-out real data and each generator); ``split``: the role of
    every participant; ``calibrations``: the fitted generators; ``samples`` / ``measures``: the held-out real
    trials (``"real"``) and every generator's trials.
    """

    auc: pl.DataFrame
    distances: pl.DataFrame
    fitts: pl.DataFrame
    split: pl.DataFrame
    calibrations: dict[str, Calibration] = field(default_factory=dict)
    samples: dict[str, pl.DataFrame] = field(default_factory=dict)
    measures: dict[str, pl.DataFrame] = field(default_factory=dict)

    def auc_with_ci(self, *, alpha: float = 0.05) -> pl.DataFrame:
        """The AUC table with a normal-approximation ``1 − alpha`` interval from the Hanley–McNeil SE and the
        distance from chance, ``auc_gap = |AUC − 0.5|``."""
        from scipy.stats import norm

        z = float(norm.ppf(1 - alpha / 2))
        return self.auc.with_columns(
            ci_low=(pl.col("auc") - z * pl.col("auc_se")).clip(0.0, 1.0),
            ci_high=(pl.col("auc") + z * pl.col("auc_se")).clip(0.0, 1.0),
            auc_gap=(pl.col("auc") - 0.5).abs(),
        ).select(["label", "features", "classifier", "auc", "ci_low", "ci_high", "auc_fold_sd", "auc_gap", "n_real",
                  "n_synthetic", "n_features", "generator"])

    def ranking(self) -> pl.DataFrame:
        """One row per generator: its AUC per feature set × classifier and the mean distance from chance
        (``mean_gap``), best (closest to 0.5) first."""
        wide = self.auc.with_columns(test=pl.col("features") + " · " + pl.col("classifier")).pivot(
            on="test", index=["generator", "label"], values="auc")
        cols = [c for c in wide.columns if c not in ("generator", "label")]
        return wide.with_columns(
            mean_gap=pl.mean_horizontal([(pl.col(c) - 0.5).abs() for c in cols])).sort("mean_gap")

    def verdict(self) -> str:
        """A sentence per feature set × classifier: is the best calibrated generator closer to chance than
        both baselines? Written from the numbers."""
        lines = []
        ours = [g for g in ("lognormal", "minjerk") if g in set(self.auc["generator"])]
        base = [g for g in ("windmouse", "bezier") if g in set(self.auc["generator"])]
        for (feat, clf), grp in self.auc.group_by(["features", "classifier"], maintain_order=True):
            gap = {r["generator"]: abs(r["auc"] - 0.5) for r in grp.iter_rows(named=True)}
            auc = {r["generator"]: r["auc"] for r in grp.iter_rows(named=True)}
            if not ours or not base:
                continue
            best = min(ours, key=lambda g: gap[g])
            closest = min(base, key=lambda g: gap[g])
            ok = gap[best] < gap[closest]
            lines.append(
                f"- **{feat}, {clf}**: {GENERATOR_LABELS[best]} AUC {auc[best]:.3f}; the baseline closest to 0.5, "
                f"{GENERATOR_LABELS[closest]}, {auc[closest]:.3f} — "
                + ("ours is closer to 0.5." if ok else "ours is **not** closer to 0.5.")
            )
        return "\n".join(lines)

    def calibration_table(self) -> pl.DataFrame:
        """Fitted parameters of every calibrated generator side by side (one column per kernel)."""
        frames = [c.summary().select("parameter", "unit", pl.col("value").alias(k)) for k, c in self.calibrations.items()]
        out = frames[0]
        for f in frames[1:]:
            out = out.join(f.drop("unit"), on="parameter", how="full", coalesce=True, maintain_order="left")
        return out

    def distance_table(self, *, value: str = "wasserstein_sd") -> pl.DataFrame:
        """Measures × generators of one distance column, plus a ``mean`` row (nulls skipped)."""
        wide = self.distances.pivot(on="generator", index="measure", values=value)
        wide = wide.filter(pl.any_horizontal(pl.all().exclude("measure").is_not_null()))
        mean = wide.select(pl.lit("mean").alias("measure"), pl.all().exclude("measure").mean())
        return pl.concat([wide, mean])

    def measures_long(self) -> pl.DataFrame:
        """All measure tables stacked with a ``source`` column (``real`` or the generator label)."""
        return pl.concat([m.with_columns(source=pl.lit("real" if k == "real" else GENERATOR_LABELS[k]))
                          for k, m in self.measures.items()], how="diagonal_relaxed")

    def normalised_trajectories(self, *, n_steps: int = 51) -> pl.DataFrame:
        """Time-normalised trajectories of every source (``source`` column), for trajectory plots."""
        from mouselab.preprocess import time_normalize

        parts = []
        for k, frame in self.samples.items():
            label = "real" if k == "real" else GENERATOR_LABELS[k]
            f = frame.select(KEY + ["t_ms", "x", "y"]).with_columns(study=pl.lit(label))
            parts.append(time_normalize(f, n_steps=n_steps).with_columns(source=pl.lit(label)))
        return pl.concat(parts)


def split_participants(participants: Sequence[str], *, fraction: float, seed: int | np.random.Generator
                       ) -> tuple[list[str], list[str]]:
    """A seeded random split of participant ids: ``(calibration, held_out)``; both non-empty."""
    people = sorted(set(participants))
    if len(people) < 2:
        raise ValueError(f"need at least two participants to hold some out, got {len(people)}")
    rng = rng_from(seed)
    order = rng.permutation(people)
    k = int(np.clip(round(fraction * len(people)), 1, len(people) - 1))
    return sorted(order[:k].tolist()), sorted(order[k:].tolist())


def realism_benchmark(
    samples: pl.DataFrame | pl.LazyFrame,
    trials: pl.DataFrame | pl.LazyFrame | None = None,
    *,
    seed: int,
    calibration_fraction: float = 0.5,
    generators: Sequence[str] = GENERATORS,
    classifiers: Sequence[str] = ("gbm", "logistic"),
    n_splits: int = 5,
    preset: str = "all",
    n_steps: int = 21,
    default_width_px: float = 100.0,
) -> RealismReport:
    """Run the held-out realism comparison (see the module docstring).

    Parameters
    ----------
    samples : long samples frame of the real study (trial rows are used; free-use rows are ignored).
    trials : optional trials table (target geometry for generation and Fitts' law).
    seed : master seed (split, calibration, generation, folds).
    calibration_fraction : share of participants used for calibration.
    generators : subset of :data:`GENERATORS`.
    classifiers : subset of ``("gbm", "logistic")``.
    n_splits : folds of the two-sample test (split by participant).
    preset : measure preset of the measure features (:data:`mouselab.measures.PRESETS`).
    n_steps : time steps of the raw-trajectory features.
    default_width_px : Fitts width where targets have no size.
    """
    unknown = [g for g in generators if g not in GENERATORS]
    if unknown:
        raise ValueError(f"unknown generator(s) {', '.join(unknown)}; choose from {', '.join(GENERATORS)}")
    if isinstance(samples, pl.LazyFrame):
        samples = samples.collect()
    if isinstance(trials, pl.LazyFrame):
        trials = trials.collect()
    samples = samples.filter(pl.col("trial").is_not_null()) if "trial" in samples.columns else samples
    root = np.random.SeedSequence(seed)
    s_split, s_cal, s_gen, s_test = (np.random.default_rng(s) for s in root.spawn(4))
    cal_people, held_people = split_participants(samples.get_column("participant").unique().to_list(),
                                                 fraction=calibration_fraction, seed=s_split)
    cal_samples = samples.filter(pl.col("participant").is_in(cal_people))
    held_samples = samples.filter(pl.col("participant").is_in(held_people))
    held_desc = describe_movements(trial_set(held_samples, trials))
    held_desc = held_desc.filter((pl.col("amplitude_px") > 0) & (pl.col("movement_ms") > 0))
    geometry = geometry_frame(held_desc)
    key = [k for k in KEY if k in geometry.columns]
    real = held_samples.join(geometry.select(key), on=key, how="semi")

    calibrations: dict[str, Calibration] = {}
    generated: dict[str, pl.DataFrame] = {}
    timing = None
    for kernel in ("lognormal", "minjerk"):
        if kernel in generators or (kernel == "lognormal" and {"windmouse", "bezier"} & set(generators)):
            calibrations[kernel] = calibrate(cal_samples, trials, seed=s_cal, kernel=kernel,
                                             default_width_px=default_width_px)
    for name in generators:
        rng = np.random.default_rng(s_gen.integers(2**63))
        if name in ("lognormal", "minjerk"):
            generated[name] = calibrations[name].generate(geometry, seed=rng)
        else:
            cal = calibrations["lognormal"]
            if timing is None:
                timing = cal.specs(geometry, seed=np.random.default_rng(s_gen.integers(2**63)))
            maker = windmouse_movements if name == "windmouse" else bezier_movements
            generated[name] = maker(geometry, seed=rng, timing=timing, recording=cal.recording,
                                    default_width_px=default_width_px)

    all_samples = {"real": real, **generated}
    measures = measure_features(all_samples, preset=preset)
    names = [c for c, dtype in measures["real"].schema.items()
             if c not in KEY and c not in _CONSTANT and (dtype.is_numeric() or dtype == pl.Boolean)]
    raw = {label: trajectory_features(frame, n_steps=n_steps) for label, frame in all_samples.items()}
    raw_cols = [c for c in raw["real"].columns if c not in KEY]

    auc_rows, dist_frames = [], []
    test_seed = int(s_test.integers(2**31))
    for name in generators:
        for feat, table, cols in (("measures", measures, names), ("trajectory", raw, raw_cols)):
            for clf in classifiers:
                res = classifier_two_sample_test(
                    table["real"].select(cols), table[name].select(cols), seed=test_seed, classifier=clf,
                    groups_real=table["real"].get_column("participant").to_numpy(),
                    groups_synthetic=table[name].get_column("participant").to_numpy(), n_splits=n_splits,
                )
                auc_rows.append({"generator": name, "label": GENERATOR_LABELS[name], "features": feat, **res.as_row()})
        dist_frames.append(distribution_distances(measures["real"], measures[name], columns=names)
                           .with_columns(generator=pl.lit(name)))
    auc = pl.DataFrame(auc_rows).select(["generator", "label", "features", "classifier", "auc", "auc_se", "auc_fold_mean",
                                         "auc_fold_sd", "n_real", "n_synthetic", "n_features"])
    distances = pl.concat(dist_frames).select(["generator", "measure", "real_median", "synthetic_median", "wasserstein",
                                               "wasserstein_sd", "ks", "ks_p"])
    fitts_rows = []
    for label, frame in all_samples.items():
        desc = describe_movements(trial_set(frame, trials if label == "real" else _targets(geometry)))
        fit = fit_fitts(desc, default_width_px=default_width_px)
        moving = (desc["movement_ms"] - desc["pause_ms"]).to_numpy()
        fitts_rows.append({"source": label, "a_ms": fit.a_ms, "b_ms": fit.b_ms, "r2": fit.r2, "id_mean": fit.id_mean,
                           "id_sd": fit.id_sd, "b_fixed": fit.b_fixed, "moving_ms_median": float(np.median(moving)),
                           "n": fit.n})
    split = pl.DataFrame({"participant": cal_people + held_people,
                          "role": ["calibration"] * len(cal_people) + ["held-out"] * len(held_people)})
    return RealismReport(auc=auc, distances=distances, fitts=pl.DataFrame(fitts_rows), split=split,
                         calibrations=calibrations, samples=all_samples, measures=measures)


def _targets(geometry: pl.DataFrame) -> pl.DataFrame:
    return geometry.with_columns(target_x=pl.col("aim_x"), target_y=pl.col("aim_y"))
