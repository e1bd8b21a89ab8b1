"""Altair chart builders: frames in, ``alt.Chart`` out (no I/O, no global state).

Every builder keeps the embedded data small (down-sampling or pre-binning in Polars), so charts stay
light in HTML reports and never hit Altair's row limit. Coordinates follow :mod:`mouselab.schema`: px,
origin top-left, y down — trajectory plots reverse the y axis so movements look as they did on screen.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import polars as pl

TRIAL_KEY = ("study", "participant", "session", "trial")
#: Colour-blind-safe palette (Tableau 10) used for conditions.
PALETTE = "tableau10"

AnyChart = alt.Chart | alt.LayerChart | alt.FacetChart | alt.ConcatChart | alt.VConcatChart | alt.HConcatChart


def _eager(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what}: missing column(s) {', '.join(repr(c) for c in missing)} (have: {', '.join(frame.columns)})"
        )


def sample_trials(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    by: str | None = None,
    max_trials: int = 30,
    seed: int = 0,
    key: Sequence[str] = TRIAL_KEY,
) -> pl.DataFrame:
    """Keep at most ``max_trials`` randomly chosen trials per ``by`` group (seeded, order-independent)."""
    frame = _eager(frame)
    key = [k for k in key if k in frame.columns]
    cols = key + ([by] if by else [])
    trials = frame.select(cols).unique().sort(cols, nulls_last=True)
    if by:
        chosen = pl.concat(
            [
                g.sample(min(max_trials, g.height), seed=seed + i, shuffle=False)
                for i, (_, g) in enumerate(trials.group_by(by, maintain_order=True))
            ]
        ) if trials.height else trials
    else:
        chosen = trials.sample(min(max_trials, trials.height), seed=seed)
    return frame.join(chosen.select(key), on=key, how="semi", nulls_equal=True)


def thin_trajectories(
    samples: pl.DataFrame | pl.LazyFrame, *, max_points: int = 60, key: Sequence[str] = TRIAL_KEY
) -> pl.DataFrame:
    """Keep about ``max_points`` evenly spaced samples per trial (always the first and last)."""
    samples = _eager(samples)
    key = [k for k in key if k in samples.columns]
    idx = pl.int_range(pl.len()).over(key)
    n = pl.len().over(key)
    step = ((n - 1) / max(max_points - 1, 1)).ceil().clip(lower_bound=1).cast(pl.Int64)
    return samples.filter((idx % step == 0) | (idx == n - 1))


def trajectories(
    samples: pl.DataFrame | pl.LazyFrame,
    *,
    color: str = "condition",
    max_trials: int = 30,
    max_points: int = 60,
    seed: int = 0,
    show_mean: bool = True,
    title: str = "Cursor trajectories",
    width: int = 420,
    height: int = 340,
) -> alt.LayerChart | alt.Chart:
    """Many trajectories as thin lines coloured by ``color`` (y axis reversed: as seen on screen).

    ``samples`` holds trial key columns, ``x``, ``y``, an order column (``step`` of time-normalised
    trajectories, else ``t_ms``) and ``color``. At most ``max_trials`` trials per colour (seeded random
    choice) with at most ``max_points`` points each are drawn. With time-normalised input (a ``step``
    column) and ``show_mean``, the mean trajectory of each group is drawn on top.
    """
    frame = _eager(samples)
    order = "step" if "step" in frame.columns else "t_ms"
    _require(frame, ["x", "y", order, color], "trajectories")
    key = [k for k in TRIAL_KEY if k in frame.columns]
    frame = frame.filter(pl.col(color).is_not_null())
    mean = None
    if show_mean and order == "step":
        # average per group *and* per end side (left / right of the start), or opposite paths cancel out
        side = (
            pl.when(pl.col("x").last().over(key) >= pl.col("x").first().over(key))
            .then(pl.lit("right")).otherwise(pl.lit("left")).alias("side")
        )
        mean = (
            frame.with_columns(side).group_by([color, "side", "step"])
            .agg(pl.col("x").mean(), pl.col("y").mean(), pl.len().alias("trials"))
            .sort([color, "side", "step"])
        )
    lines = thin_trajectories(sample_trials(frame, by=color, max_trials=max_trials, seed=seed), max_points=max_points)
    lines = lines.with_columns(pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator="/").alias("trial_id"))
    lines = lines.select(["trial_id", color, order, "x", "y"])
    x_dom = _domain(frame["x"])
    y_dom = _domain(frame["y"])
    enc_color = alt.Color(f"{color}:N", scale=alt.Scale(scheme=PALETTE), title=color,
                          legend=alt.Legend(symbolStrokeWidth=3, symbolOpacity=1))
    base = alt.Chart(lines).mark_line(strokeWidth=0.8, opacity=0.35).encode(
        x=alt.X("x:Q", title="x (px)", scale=alt.Scale(domain=x_dom, nice=False)),
        y=alt.Y("y:Q", title="y (px, down)", scale=alt.Scale(domain=y_dom, reverse=True, nice=False)),
        color=enc_color,
        detail="trial_id:N",
        order=alt.Order(f"{order}:Q"),
    )
    if mean is None:
        return base.properties(title=title, width=width, height=height)
    top = alt.Chart(mean).mark_line(strokeWidth=3.5).encode(
        x="x:Q", y="y:Q", color=enc_color, detail="side:N", order=alt.Order("step:Q"),
        tooltip=[alt.Tooltip(f"{color}:N"), alt.Tooltip("side:N"), alt.Tooltip("trials:Q")],
    )
    subtitle = (f"thin: up to {max_trials} random trials per {color}; thick: mean time-normalised path "
                "per end side")
    return alt.layer(base, top).properties(title=alt.Title(title, subtitle=subtitle), width=width, height=height)


def _domain(series: pl.Series) -> list[float]:
    lo, hi = series.min(), series.max()
    if lo is None or hi is None:
        return [0.0, 1.0]
    pad = 0.03 * (hi - lo or 1.0)
    return [float(lo - pad), float(hi + pad)]


def histogram_frame(
    frame: pl.DataFrame | pl.LazyFrame, *, column: str, bins: int = 40, by: str | None = None, log: bool = False
) -> pl.DataFrame:
    """Counts of ``column`` in ``bins`` equal-width (or log-spaced) bins, optionally per ``by`` group.

    Returns ``bin_start, bin_end, count`` (+ ``by``); non-finite and (for ``log``) non-positive values are dropped.
    """
    frame = _eager(frame)
    _require(frame, [column] + ([by] if by else []), "histogram")
    values = frame.filter(pl.col(column).is_finite())
    if log:
        values = values.filter(pl.col(column) > 0)
    empty = pl.DataFrame(schema={"bin_start": pl.Float64, "bin_end": pl.Float64, "count": pl.UInt32}
                         | ({by: frame.schema[by]} if by else {}))
    if values.height == 0:
        return empty
    data = values[column].to_numpy().astype(float)
    if log:
        edges = np.geomspace(data.min(), data.max() if data.max() > data.min() else data.min() * 1.01, bins + 1)
    else:
        edges = np.histogram_bin_edges(data, bins=bins)
    groups = values.group_by(by, maintain_order=True) if by else [((None,), values)]
    parts = []
    for (level,), part in groups:
        counts, _ = np.histogram(part[column].to_numpy().astype(float), bins=edges)
        out = pl.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "count": counts.astype(np.uint32)})
        if by:
            out = out.with_columns(pl.lit(level, dtype=frame.schema[by]).alias(by))
        parts.append(out)
    return pl.concat(parts)


def _histogram_chart(bins: pl.DataFrame, *, x_title: str, by: str | None, log: bool, title: str,
                     width: int, height: int, log_count: bool = False) -> alt.Chart:
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    yscale = alt.Scale(type="symlog") if log_count else alt.Scale()
    enc = {
        "x": alt.X("bin_start:Q", title=x_title, scale=scale),
        "x2": "bin_end:Q",
        "y": alt.Y("count:Q", title="count (symlog)" if log_count else "count", stack=None if by else "zero",
                   scale=yscale),
        "tooltip": [alt.Tooltip("bin_start:Q", format=".1f"), alt.Tooltip("bin_end:Q", format=".1f"), "count:Q"],
    }
    if by:
        enc["color"] = alt.Color(f"{by}:N", scale=alt.Scale(scheme=PALETTE))
        enc["tooltip"] = [f"{by}:N"] + enc["tooltip"]
    return alt.Chart(bins).mark_rect(opacity=0.7 if by else 0.9).encode(**enc).properties(
        title=title, width=width, height=height
    )


def sampling_rate_histogram(
    rates: pl.DataFrame | pl.LazyFrame,
    *,
    column: str = "rate_hz",
    by: str | None = None,
    bins: int = 40,
    title: str = "Sampling rate per recording unit",
    width: int = 420,
    height: int = 220,
) -> alt.Chart:
    """Histogram of sampling rates (one value per trial or session, e.g. from ``report.quality.sampling_rates``)."""
    hist = histogram_frame(rates, column=column, bins=bins, by=by)
    return _histogram_chart(hist, x_title="sampling rate (Hz)", by=by, log=False, title=title,
                            width=width, height=height)


def gap_distribution(
    intervals: pl.DataFrame | pl.LazyFrame,
    *,
    column: str = "dt_ms",
    threshold_ms: float | None = 100.0,
    by: str | None = None,
    bins: int = 50,
    log_count: bool = True,
    title: str = "Inter-sample intervals (log scale)",
    width: int = 420,
    height: int = 220,
) -> alt.LayerChart | alt.Chart:
    """Histogram of inter-sample intervals on a log axis; a red rule marks the gap threshold.

    Counts use a symlog axis by default (``log_count``) so that a few long gaps stay visible next to
    many regular intervals.
    """
    hist = histogram_frame(intervals, column=column, bins=bins, by=by, log=True)
    chart = _histogram_chart(hist, x_title="interval between samples (ms, log)", by=by, log=True, title=title,
                             width=width, height=height, log_count=log_count)
    if threshold_ms is None:
        return chart
    rule = alt.Chart(pl.DataFrame({"threshold_ms": [float(threshold_ms)]})).mark_rule(
        color="#c0392b", strokeDash=[4, 3]
    ).encode(x="threshold_ms:Q", tooltip=[alt.Tooltip("threshold_ms:Q", title="gap threshold (ms)")])
    return alt.layer(chart, rule)


def measure_by_condition(
    summary: pl.DataFrame | pl.LazyFrame,
    *,
    x: str = "condition",
    facet: str | None = "measure",
    subject_means: pl.DataFrame | pl.LazyFrame | None = None,
    columns: int = 3,
    reference: str | None = None,
    title: str = "Condition means with confidence intervals",
    width: int = 150,
    height: int = 180,
) -> alt.LayerChart | alt.FacetChart:
    """Point + CI per condition (from ``models.condition_means_ci``), one panel per measure.

    ``summary`` has ``x``, ``mean``, ``ci_low``, ``ci_high`` (and ``facet`` for several measures).
    ``subject_means`` (``x``, ``mean``, ``facet``) adds faint per-participant points behind.
    Levels are drawn in sorted order with ``reference`` (when given) first.
    """
    summary = _eager(summary)
    _require(summary, [x, "mean", "ci_low", "ci_high"], "measure_by_condition")
    use_facet = facet is not None and facet in summary.columns
    levels = sorted(str(v) for v in summary[x].drop_nulls().unique().to_list())
    if reference is not None and reference in levels:
        levels = [reference] + [v for v in levels if v != reference]
    color = alt.Color(f"{x}:N", scale=alt.Scale(scheme=PALETTE), legend=None)
    xenc = alt.X(f"{x}:N", title=None, axis=alt.Axis(labelAngle=0), sort=levels)
    tooltip = [f"{x}:N", alt.Tooltip("mean:Q", format=".3g"), alt.Tooltip("ci_low:Q", format=".3g"),
               alt.Tooltip("ci_high:Q", format=".3g")]
    if "n_subjects" in summary.columns:
        tooltip.append("n_subjects:Q")
    data = summary.with_columns(pl.lit("condition").alias("_layer"))
    if subject_means is not None:
        subj = _eager(subject_means)
        _require(subj, [x, "mean"], "measure_by_condition subject_means")
        keep = [c for c in (x, "mean", facet if use_facet else None) if c]
        data = pl.concat([data, subj.select(keep).with_columns(pl.lit("subject").alias("_layer"))],
                         how="diagonal_relaxed")
    yscale = alt.Scale(zero=False)
    cond = alt.Chart().transform_filter(alt.datum._layer == "condition")
    layers = []
    if subject_means is not None:
        layers.append(
            alt.Chart().transform_filter(alt.datum._layer == "subject").mark_circle(size=14, opacity=0.3).encode(
                x=xenc, y=alt.Y("mean:Q", title=None, scale=yscale), color=color)
        )
    layers.append(cond.mark_rule(strokeWidth=2.5).encode(
        x=xenc, y=alt.Y("ci_low:Q", title=None, scale=yscale), y2="ci_high:Q", color=color, tooltip=tooltip))
    layers.append(cond.mark_point(filled=True, size=80, opacity=1).encode(
        x=xenc, y=alt.Y("mean:Q", title=None, scale=yscale), color=color, tooltip=tooltip))
    chart = alt.layer(*layers, data=data)
    if use_facet:
        return chart.properties(width=width, height=height).facet(
            facet=alt.Facet(f"{facet}:N", title=None), columns=columns,
        ).resolve_scale(y="independent").properties(title=title)
    return chart.properties(title=title, width=width, height=height)


def participant_effects(
    measures: pl.DataFrame | pl.LazyFrame,
    *,
    measure: str,
    condition: str = "condition",
    subject: str = "participant",
    reference: str | None = None,
    level: str | None = None,
    title: str | None = None,
    width: int = 420,
    height: int | None = None,
    show_ids: bool = False,
) -> alt.LayerChart:
    """Per-participant condition effect: mean of ``level`` minus mean of ``reference``, sorted, zero marked.

    ``measures`` is one row per trial with ``subject``, ``condition`` and ``measure``. Defaults: the
    first two condition levels in sorted order (``reference`` first). The dashed rule is the mean effect.

    The chart shows the *spread* of effects, not who is where: participant ids are hidden by default so a
    report cannot be read as a ranking of individuals. ``show_ids=True`` labels the rows with the
    (pseudonymous) ids — use it only for data checks, never in a report that leaves the study team.
    """
    frame = _eager(measures)
    _require(frame, [subject, condition, measure], "participant_effects")
    levels = sorted(frame[condition].drop_nulls().unique().to_list())
    if len(levels) < 2:
        raise ValueError(f"participant_effects: {condition!r} needs two levels, found {levels}")
    reference = reference if reference is not None else levels[0]
    level = level if level is not None else next(v for v in levels if v != reference)
    for name, value in (("reference", reference), ("level", level)):
        if value not in levels:
            raise ValueError(f"participant_effects: {name} {value!r} is not a level of {condition!r} ({levels})")
    means = (
        frame.filter(pl.col(condition).is_in([reference, level]) & pl.col(measure).is_finite())
        .group_by([subject, condition]).agg(pl.col(measure).mean().alias("m"))
        .pivot(on=condition, index=subject, values="m")
    )
    if reference not in means.columns or level not in means.columns:
        raise ValueError(f"participant_effects: no finite {measure!r} values for {reference!r} and {level!r}")
    diffs = means.select(
        pl.col(subject).cast(pl.String),
        (pl.col(level) - pl.col(reference)).alias("effect"),
    ).drop_nulls().sort("effect")
    mean_effect = diffs["effect"].mean() if diffs.height else 0.0
    height = height or max(160, 12 * diffs.height)
    if not show_ids:
        diffs = diffs.with_columns(pl.int_range(1, pl.len() + 1).cast(pl.String).alias(subject))
    y = alt.Y(
        f"{subject}:N",
        sort=alt.EncodingSortField("effect", order="ascending"),
        title=subject if show_ids else "participants (sorted by effect; ids hidden)",
        axis=alt.Axis() if show_ids else alt.Axis(labels=False, ticks=False),
    )
    tooltip = [alt.Tooltip("effect:Q", format=".3g")] + ([f"{subject}:N"] if show_ids else [])
    dots = alt.Chart(diffs).mark_circle(size=60).encode(
        x=alt.X("effect:Q", title=f"{measure}: {level} − {reference}"),
        y=y,
        color=alt.condition(alt.datum.effect > 0, alt.value("#d62728"), alt.value("#1f77b4")),
        tooltip=tooltip,
    )
    zero = alt.Chart(pl.DataFrame({"x": [0.0]})).mark_rule(color="#555").encode(x="x:Q")
    avg = alt.Chart(pl.DataFrame({"x": [float(mean_effect or 0.0)]})).mark_rule(
        strokeDash=[5, 3], color="#d62728").encode(x="x:Q")
    return alt.layer(zero, avg, dots).properties(
        title=title or f"Per-participant effect on {measure} ({level} − {reference})", width=width, height=height
    )


def trial_counts_heatmap(
    counts: pl.DataFrame | pl.LazyFrame,
    *,
    x: str = "condition",
    y: str = "participant",
    value: str = "trials",
    title: str = "Trials per participant and condition",
    width: int = 160,
) -> alt.LayerChart:
    """Heat map of counts (e.g. trials per participant × condition) with the numbers written in."""
    frame = _eager(counts)
    _require(frame, [x, y, value], "trial_counts_heatmap")
    height = max(120, 14 * frame[y].n_unique())
    base = alt.Chart(frame).encode(x=alt.X(f"{x}:N", title=x, axis=alt.Axis(labelAngle=0)), y=alt.Y(f"{y}:N", title=y))
    rect = base.mark_rect().encode(color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues"), title=value),
                                   tooltip=[f"{y}:N", f"{x}:N", f"{value}:Q"])
    text = base.mark_text(fontSize=10).encode(text=f"{value}:Q")
    return alt.layer(rect, text).properties(title=title, width=width, height=height)


def distribution_by_condition(
    measures: pl.DataFrame | pl.LazyFrame,
    *,
    measure: str,
    condition: str = "condition",
    bins: int = 30,
    title: str | None = None,
    width: int = 300,
    height: int = 160,
) -> alt.Chart:
    """Overlaid histograms of one measure per condition (for the bimodality check)."""
    hist = histogram_frame(measures, column=measure, bins=bins, by=condition)
    return _histogram_chart(hist, x_title=measure, by=condition, log=False,
                            title=title or f"Distribution of {measure}", width=width, height=height)


__all__ = [
    "distribution_by_condition",
    "gap_distribution",
    "histogram_frame",
    "measure_by_condition",
    "participant_effects",
    "sample_trials",
    "sampling_rate_histogram",
    "thin_trajectories",
    "trajectories",
    "trial_counts_heatmap",
]
