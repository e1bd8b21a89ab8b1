"""Chart builders: valid Vega-Lite, small embedded data, and the offline renderer."""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import polars as pl
import pytest

from mouselab import plot
from mouselab.plot import offline


def samples_frame(n_trials=40, n=50, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_trials):
        cond = "high" if i % 2 else "low"
        side = 1 if i % 4 < 2 else -1
        t = np.cumsum(rng.uniform(15, 19, n))
        x = 640 + side * np.linspace(0, 500, n) + rng.normal(0, 3, n)
        y = np.linspace(740, 70, n)
        rows.append(pl.DataFrame({"study": "s", "participant": f"P{i % 5}", "session": "s1", "trial": f"t{i:03d}",
                                  "t_ms": t - t[0], "x": x, "y": y, "condition": cond}))
    return pl.concat(rows)


def spec_rows(chart) -> int:
    spec = chart.to_dict()
    return sum(len(v) for v in spec.get("datasets", {}).values())


def test_trajectories_limits_trials_and_points_and_reverses_y():
    frame = samples_frame()
    chart = plot.trajectories(frame, max_trials=5, max_points=10, show_mean=False, seed=1)
    spec = chart.to_dict()
    assert spec["encoding"]["y"]["scale"]["reverse"] is True
    data = next(iter(spec["datasets"].values()))
    trials = {r["trial_id"] for r in data}
    assert len(trials) == 10  # 5 per condition
    assert len(data) <= 10 * 11
    assert chart.to_dict() == plot.trajectories(frame, max_trials=5, max_points=10, show_mean=False, seed=1).to_dict()


def test_trajectories_with_time_normalised_input_draw_means_per_side():
    from mouselab.preprocess import time_normalize

    frame = samples_frame()
    tn = time_normalize(frame).join(frame.select(["participant", "trial", "condition"]).unique(),
                                    on=["participant", "trial"])
    chart = plot.trajectories(tn, max_trials=4)
    assert isinstance(chart, alt.LayerChart)
    means = [d for d in chart.to_dict()["datasets"].values() if "side" in d[0]]
    assert {(r["condition"], r["side"]) for r in means[0]} == {("high", "left"), ("high", "right"),
                                                              ("low", "left"), ("low", "right")}


def test_sample_trials_is_seeded():
    frame = samples_frame()
    a = plot.sample_trials(frame, by="condition", max_trials=3, seed=5)
    b = plot.sample_trials(frame.reverse(), by="condition", max_trials=3, seed=5)
    assert sorted(a["trial"].unique()) == sorted(b["trial"].unique())


def test_histogram_frame_counts_everything():
    values = pl.DataFrame({"v": np.arange(1, 1001, dtype=float), "g": ["a", "b"] * 500})
    bins = plot.histogram_frame(values, column="v", bins=20, by="g")
    assert bins["count"].sum() == 1000 and bins.height == 40
    log_bins = plot.histogram_frame(values, column="v", bins=10, log=True)
    assert log_bins["count"].sum() == 1000
    assert plot.histogram_frame(values.clear(), column="v").height == 0


def test_rate_and_gap_charts_are_prebinned():
    rates = pl.DataFrame({"rate_hz": np.random.default_rng(0).normal(60, 1, 50_000), "kind": "trials"})
    chart = plot.sampling_rate_histogram(rates, by="kind", bins=30)
    assert spec_rows(chart) == 30
    gaps = pl.DataFrame({"dt_ms": np.random.default_rng(1).lognormal(3, 1, 50_000)})
    layered = plot.gap_distribution(gaps, threshold_ms=100)
    assert isinstance(layered, alt.LayerChart) and spec_rows(layered) <= 51


def test_measure_by_condition_and_participant_effects():
    from mouselab.models import condition_means_ci, subject_means

    rng = np.random.default_rng(3)
    measures = pl.DataFrame({
        "participant": np.repeat([f"P{i}" for i in range(8)], 20),
        "condition": np.tile(["low", "high"], 80),
        "MAD": rng.normal(100, 10, 160),
        "RT": rng.normal(900, 50, 160),
    })
    summary = condition_means_ci(measures, measure=["MAD", "RT"])
    subj = pl.concat([subject_means(measures, measure=m) for m in ["MAD", "RT"]])
    chart = plot.measure_by_condition(summary, subject_means=subj, reference="low")
    spec = chart.to_dict()
    assert "facet" in spec and spec["resolve"]["scale"]["y"] == "independent"
    assert spec["spec"]["layer"][1]["encoding"]["x"]["sort"] == ["low", "high"]
    single = plot.measure_by_condition(summary.filter(pl.col("measure") == "MAD"), facet=None)
    single.to_dict()
    eff = plot.participant_effects(measures, measure="MAD", reference="low")
    data = [d for d in eff.to_dict()["datasets"].values() if "effect" in d[0]][0]
    assert len(data) == 8
    # ids are hidden unless asked for: the chart must not be readable as a ranking of people
    assert not any(str(row.get("participant", "")).startswith("P") for row in data)
    labelled = plot.participant_effects(measures, measure="MAD", reference="low", show_ids=True)
    data = [d for d in labelled.to_dict()["datasets"].values() if "effect" in d[0]][0]
    assert {row["participant"] for row in data} == {f"P{i}" for i in range(8)}
    with pytest.raises(ValueError, match="not a level"):
        plot.participant_effects(measures, measure="MAD", reference="medium")


def test_small_charts_validate():
    counts = pl.DataFrame({"participant": ["P1", "P1", "P2"], "condition": ["a", "b", "a"], "trials": [3, 4, 5]})
    plot.trial_counts_heatmap(counts).to_dict()
    m = pl.DataFrame({"MAD": [1.0, 2.0, 3.0, 4.0], "condition": ["a", "a", "b", "b"]})
    plot.distribution_by_condition(m, measure="MAD").to_dict()


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="'condition'"):
        plot.trajectories(pl.DataFrame({"x": [1.0], "y": [1.0], "t_ms": [0.0]}))


def test_offline_renderer_emits_the_bundle_once(monkeypatch):
    monkeypatch.setattr(offline, "javascript_bundle", lambda vl_version=None: "window.vegaEmbed=function(){};")
    plot.enable_offline_charts()
    try:
        chart = alt.Chart(pl.DataFrame({"a": [1, 2], "b": ["</script><!--", "x"]})).mark_bar().encode(x="a:Q", y="b:N")
        first = alt.renderers.get()(chart.to_dict())
        second = alt.renderers.get()(chart.to_dict())
    finally:
        alt.renderers.enable("default")
    assert first["text/html"].count("window.vegaEmbed=function") == 1
    assert "window.vegaEmbed=function" not in second["text/html"]
    for bundle in (first, second):
        html = bundle["text/html"]
        assert 'type="module"' in html and "vegaEmbed(el," in html and "src=" not in html
        assert "</script><!--" not in html and "\\u003c/script>" in html
    ids = [b["text/html"].split('id="')[1].split('"')[0] for b in (first, second)]
    assert ids[0] != ids[1]


def test_real_bundle_has_no_script_terminator():
    bundle = offline.javascript_bundle()
    assert len(bundle) > 100_000 and "window.vegaEmbed" in bundle
    assert "</script" not in bundle.lower() and "<!--" not in bundle
    assert offline.vega_lite_version().split(".")[0] == alt.SCHEMA_VERSION.lstrip("v").split(".")[0]


def test_spec_json_is_script_safe():
    text = offline._json_for_script({"title": "</script>"})
    assert "<" not in text and json.loads(text) == {"title": "</script>"}
