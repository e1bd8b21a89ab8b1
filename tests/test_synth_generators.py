"""Movement generation, calibration, interaction scripts and baselines (mouselab.synth)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mouselab.schema import conform
from mouselab.synth import (
    Click,
    Drag,
    Idle,
    MovementParams,
    Scroll,
    Target,
    bezier_movements,
    calibrate,
    describe_movements,
    fit_fitts,
    generate_movements,
    session_movements,
    simulate_session,
    windmouse_movements,
)
from mouselab.synth.movement import reported_times


def _geometry(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    amp = rng.uniform(150, 800, n)
    ang = rng.uniform(0, 2 * np.pi, n)
    w = rng.choice([24.0, 48.0, 96.0], n)
    return pl.DataFrame({
        "participant": [f"S{i % 4 + 1:02d}" for i in range(n)], "trial": [f"t{i:04d}" for i in range(n)],
        "start_x": 640.0, "start_y": 400.0, "aim_x": 640 + amp * np.cos(ang), "aim_y": 400 + amp * np.sin(ang),
        "target_w": w, "target_h": w,
    })


@pytest.mark.parametrize("kernel", ["lognormal", "minjerk"])
def test_generation_is_seeded_schema_valid_and_lands_in_the_target(kernel):
    geo = _geometry(60)
    params = MovementParams()
    a = generate_movements(geo, params.specs(geo, seed=1), seed=2, kernel=kernel)
    b = generate_movements(geo, params.specs(geo, seed=1), seed=2, kernel=kernel)
    c = generate_movements(geo, params.specs(geo, seed=1), seed=3, kernel=kernel)
    assert a.equals(b) and not a.equals(c)
    assert conform(a, "samples").columns[:9] == ["study", "participant", "session", "trial", "t_ms", "x", "y", "event",
                                                 "buttons"]
    ends = a.group_by("trial", maintain_order=True).agg(pl.col("x").last(), pl.col("y").last())
    g = geo.join(ends, on="trial")
    inside = ((g["x"] - g["aim_x"]).abs() <= g["target_w"] / 2) & ((g["y"] - g["aim_y"]).abs() <= g["target_h"] / 2)
    assert inside.mean() > 0.95
    assert (a.group_by("trial").agg(pl.col("t_ms").diff().min())["t_ms"] > 0).all()


def test_no_global_random_state_is_touched():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    geo = _geometry(5)
    generate_movements(geo, MovementParams().specs(geo, seed=1), seed=1)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    with pytest.raises(TypeError):
        MovementParams().specs(geo, seed=None)


def test_device_report_rate_aliases_the_polling():
    t = np.tile(np.arange(0.0, 200.0, 10.0), (3, 1))
    seen = reported_times(t, device_hz=125.0, seed=1)
    steps = np.diff(seen, axis=1)[:, 1:]  # the first report may predate the recording
    assert set(np.round(np.unique(steps), 6)) <= {8.0, 16.0} and (steps == 16.0).any()
    np.testing.assert_array_equal(reported_times(t, device_hz=None, seed=1), t)


def _pointing_samples(params: MovementParams, *, seed: int, clicks: int = 60, people: int = 4):
    from mouselab.synth.script import pointing_task

    rng = np.random.default_rng(seed)
    samples, trials = [], []
    for p in range(people):
        layout, task = pointing_task(seed=rng, n_clicks=clicks)
        s, t = session_movements(simulate_session(layout, task, seed=rng, movements=params, participant=f"R{p}"))
        samples.append(s)
        trials.append(t)
    return pl.concat(samples), pl.concat(trials)


def test_calibration_recovers_known_generator_parameters():
    truth = MovementParams(fitts_a_ms=180.0, fitts_b_ms=120.0, deviation_sd=0.08, pause_rate=0.3,
                           pause_median_ms=250.0, endpoint_sd=0.25)
    samples, trials = _pointing_samples(truth, seed=11)
    cal = calibrate(samples, trials, seed=3)
    g = cal.generator_fitts
    assert not g.b_fixed and g.id_sd > 0.5
    assert g.a_ms == pytest.approx(truth.fitts_a_ms, rel=0.3)
    assert g.b_ms == pytest.approx(truth.fitts_b_ms, rel=0.25)
    p = cal.params
    assert p.deviation_sd == pytest.approx(truth.deviation_sd, rel=0.25)
    assert p.pause_rate == pytest.approx(truth.pause_rate, abs=0.12)
    assert p.pause_median_ms == pytest.approx(truth.pause_median_ms, rel=0.25)
    assert p.endpoint_sd == pytest.approx(truth.endpoint_sd, rel=0.25)
    assert cal.recording.rate_hz == pytest.approx(60.0, rel=0.05)
    # generating from the calibration reproduces the data's Fitts law
    geo = describe_movements(samples, trials).select(["participant", "trial", "start_x", "start_y", "aim_x", "aim_y",
                                                      "target_w", "target_h"])
    again = cal.generate(geo, seed=4)
    fit = fit_fitts(describe_movements(again, geo.rename({"aim_x": "target_x", "aim_y": "target_y"})))
    assert fit.b_ms == pytest.approx(cal.fitts.b_ms, rel=0.3)


def test_interaction_script_obeys_layout_and_fitts_law():
    rng = np.random.default_rng(5)
    layout = [Target(f"b{i}", float(rng.uniform(20, 1100)), float(rng.uniform(20, 650)), w, w)
              for i, w in enumerate(rng.choice([16.0, 32.0, 64.0, 128.0], 14))]
    names = [t.name for t in layout]
    order = [names[0]]
    while len(order) < 120:
        order.append(str(rng.choice([n for n in names if n != order[-1]])))
    task = [Click(n) for n in order] + [Drag("b1", "b2"), Scroll("b3", 4), Idle(1500.0), Click("b4", double=True)]
    params = MovementParams(fitts_a_ms=120.0, fitts_b_ms=150.0, pause_rate=0.0)
    out = simulate_session(layout, task, seed=6, movements=params)
    again = simulate_session(layout, task, seed=6, movements=params)
    assert out["samples"].equals(again["samples"]) and out["events"].equals(again["events"])
    samples, events = out["samples"], out["events"]
    assert samples["trial"].null_count() == samples.height  # a free-use style session
    assert (samples["t_ms"].diff().drop_nulls() > 0).all()
    rects = {t.name: t for t in layout}
    script = out["script"]
    # every click lands inside its target
    downs = events.filter(pl.col("kind") == "click_down")
    assert downs.height == 120 + 1 + 2  # clicks, the drag's press, the double click
    click_steps = script.filter(pl.col("kind") == "click")
    assert click_steps["inside"].all()
    for r in click_steps.iter_rows(named=True):
        assert rects[r["target"]].contains(r["end_x"], r["end_y"])
    kinds = set(events["kind"])
    assert {"click_down", "click_up", "scroll", "idle_start", "idle_end"} <= kinds
    assert set(samples["event"]) >= {"move", "down", "up", "drag", "scroll"}
    # Fitts' law as generated: movement time grows with the index of difficulty, slope near the parameter
    moves, trials = session_movements(out)
    fit = fit_fitts(describe_movements(moves, trials))
    assert fit.r2 > 0.4
    assert fit.b_ms == pytest.approx(params.fitts_b_ms, rel=0.3)


def test_script_refers_to_known_targets_only():
    with pytest.raises(ValueError, match="unknown target"):
        simulate_session([Target("a", 0, 0, 10, 10)], [Click("b")], seed=1)


@pytest.mark.parametrize("maker", [windmouse_movements, bezier_movements])
def test_baselines_reach_their_targets_and_are_seeded(maker):
    geo = _geometry(20)
    a = maker(geo, seed=1)
    assert a.equals(maker(geo, seed=1)) and not a.equals(maker(geo, seed=2))
    ends = a.group_by("trial", maintain_order=True).agg(pl.col("x").last(), pl.col("y").last()).join(geo, on="trial")
    assert ((ends["x"] - ends["aim_x"]).abs() <= 1).all() and ((ends["y"] - ends["aim_y"]).abs() <= 1).all()


# ----------------------------------------------------------------------------------------- free-use person styles
def test_style_population_is_seeded_and_people_differ_more_than_their_sessions():
    from mouselab.synth.free_use import STYLE_SPREADS, PersonStyle, StylePopulation

    pop = StylePopulation()
    ids = [f"p{i}" for i in range(40)]
    styles = pop.draw(ids, seed=1)
    assert styles == pop.draw(ids, seed=1) and styles != pop.draw(ids, seed=2)
    assert all(isinstance(s, PersonStyle) for s in styles.values())
    for name, spread in STYLE_SPREADS.items():
        values = [getattr(s, name) for s in styles.values()]
        assert min(values) >= spread.lo and max(values) <= spread.hi, name
    between = np.std([np.log(s.pace) for s in styles.values()])
    rng = np.random.default_rng(3)
    within = np.mean([np.std([np.log(pop.for_session(s, seed=rng).pace) for _ in range(8)]) for s in styles.values()])
    assert 0.12 < between < 0.35 and within < 0.5 * between
    moved = pop.for_session(styles["p0"], seed=4)
    assert moved.edge == styles["p0"].edge and len(moved.hotspots) == len(styles["p0"].hotspots)
    with pytest.raises(ValueError, match="unknown style field"):
        StylePopulation(spreads={"speed": STYLE_SPREADS["pace"]}).draw(["a"], seed=0)


def _speed_px_per_ms(samples: pl.DataFrame) -> float:
    """Median step speed of move samples inside movements (steps < 50 ms apart), from first principles."""
    s = samples.filter(pl.col("event") == "move").sort("t_ms")
    t, x, y = (s[c].to_numpy() for c in ("t_ms", "x", "y"))
    dt = np.diff(t)
    step = np.hypot(np.diff(x), np.diff(y))
    inside = (dt > 0) & (dt < 50)
    return float(np.median(step[inside] / dt[inside]))


def test_styled_free_use_sessions_follow_each_persons_style():
    from mouselab.synth import simulate_free_use
    from mouselab.synth.free_use import PersonStyle

    fast = PersonStyle(pace=0.6, p_drag=0.02, p_scroll=0.1, edge="bottom", edge_share=0.5)
    slow = PersonStyle(pace=1.7, p_drag=0.35, p_scroll=0.1, edge="top", edge_share=0.0)
    out = simulate_free_use(["fast", "slow"], seed=5, duration_s=(150.0, 150.0), screen_px=(1280, 800),
                            styles={"fast": fast, "slow": slow})
    again = simulate_free_use(["fast", "slow"], seed=5, duration_s=(150.0, 150.0), screen_px=(1280, 800),
                              styles={"fast": fast, "slow": slow})
    assert out["samples"].equals(again["samples"]) and out["events"].equals(again["events"])
    s, e = out["samples"], out["events"]
    by = {p: s.filter(pl.col("participant") == p) for p in ("fast", "slow")}
    assert _speed_px_per_ms(by["fast"]) > 1.5 * _speed_px_per_ms(by["slow"])
    drag_share = {p: by[p].filter(pl.col("event") == "drag").height / by[p].height for p in by}
    assert drag_share["slow"] > 3 * drag_share["fast"]
    # the pointer is clamped to the screen; flinging it at the bottom edge leaves samples on that edge
    assert s["x"].is_between(0, 1279).all() and s["y"].is_between(0, 799).all()
    assert by["fast"].filter(pl.col("y") == 799).height > 5 and by["slow"].filter(pl.col("y") == 799).height == 0
    for p, frame in by.items():
        assert (frame["t_ms"].diff().drop_nulls() > 0).all(), p
        ev = e.filter(pl.col("participant") == p)
        assert ev.filter(pl.col("kind") == "click_down").height == ev.filter(pl.col("kind") == "click_up").height > 10
    assert set(s["event"]) <= {"move", "down", "up", "drag", "scroll"}
    assert (s.filter(pl.col("event") == "drag")["buttons"] == 1).all()


def test_styles_must_cover_every_participant():
    from mouselab.synth import simulate_free_use
    from mouselab.synth.free_use import PersonStyle

    with pytest.raises(ValueError, match="no PersonStyle for participant"):
        simulate_free_use(["a", "b"], seed=0, styles={"a": PersonStyle()})
    with pytest.raises(ValueError, match="edge"):
        PersonStyle(edge="middle")
