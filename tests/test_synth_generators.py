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


# ----------------------------------------------------------------------------------------- Balabit-format writer
def _free_use_session(seed: int = 3, seconds: float = 90.0):
    from mouselab.synth import simulate_free_use
    from mouselab.synth.free_use import StylePopulation

    styles = StylePopulation().draw(["p"], seed=seed)
    out = simulate_free_use(["p"], seed=seed, duration_s=(seconds, seconds), screen_px=(1920, 1080), styles=styles)
    return out["samples"].sort("t_ms"), out["events"]


def _parse(lines: list[str]) -> pl.DataFrame:
    from mouselab.synth.balabit import HEADER

    return pl.read_csv("\n".join([HEADER, *lines]).encode(), schema_overrides={"x": pl.Int64, "y": pl.Int64})


def test_balabit_rows_show_where_the_pointer_was_near_their_client_time():
    from mouselab.synth.balabit import balabit_lines

    samples, events = _free_use_session()
    lines, expected, counts = balabit_lines(samples, events, seed=1)
    rows = _parse(lines)
    moves = samples.filter(pl.col("event").is_in(["move", "drag"]))
    t = moves["t_ms"].to_numpy() - samples["t_ms"][0]
    t_next = np.append(t[1:], np.inf)
    xs, ys = moves["x"].to_numpy(), moves["y"].to_numpy()
    at = 0
    for c, state, x, y in rows.select("client timestamp", "state", "x", "y").iter_rows():
        if state not in ("Move", "Drag") or x == 65535:
            continue
        # the file's clock starts within a tick (16 ms) of the first sample; a row
        # shows the pointer at a moment from 45 ms before its client stamp (a paired report) to one report
        # interval (+ a tick) after it (a late report, stamped with the previous report's client time)
        c_ms = 1000.0 * c
        shown = np.flatnonzero((xs == x) & (ys == y) & (t <= c_ms + 16.0 + 160.0) & (t_next > c_ms - 16.0 - 45.0))
        shown = shown[shown >= at]
        assert shown.size, (c, state, x, y)
        at = shown[0]  # and the rows follow the trajectory in order
    # the coarse clock: steps are whole ticks of 15.625 ms, reports ~109 ms apart while moving
    client = np.unique(np.rint(rows["client timestamp"].to_numpy() * 1000.0))
    steps = np.diff(client)
    assert np.all(np.abs(steps / 15.625 - np.rint(steps / 15.625)) * 15.625 <= 1.0)
    assert 100.0 <= np.median(steps[steps < 1000]) <= 120.0
    assert counts["moving_s"] == pytest.approx(steps[steps < 1000].sum() / 1000.0, abs=0.01)


def test_balabit_expected_quarantine_follows_the_readers_rules():
    from mouselab.synth.balabit import balabit_lines, expected_quarantine

    client = np.array([0, 109, 109, 218, 218, 218, 327, 436, 436])
    sentinel = np.array([False, False, False, False, False, True, False, False, True])
    assert expected_quarantine(client, sentinel) == [
        (1, "client timestamp", "duplicate_timestamp"), (3, "client timestamp", "duplicate_timestamp"),
        (5, "x", "sentinel_coordinate"), (8, "x", "sentinel_coordinate"),
    ]  # the last of equal timestamps is kept; a sentinel row takes no part in the time checks
    with pytest.raises(ValueError, match="decrease"):
        expected_quarantine(np.array([0, 109, 100]), np.zeros(3, dtype=bool))
    # the writer's list is that rule applied to the file it wrote
    samples, events = _free_use_session(seed=4, seconds=60.0)
    lines, expected, counts = balabit_lines(samples, events, seed=2)
    rows = _parse(lines)
    oracle = expected_quarantine(np.rint(rows["client timestamp"].to_numpy() * 1000), (rows["x"] == 65535).to_numpy())
    assert expected.rows() == [(i + 2, c, r) for i, c, r in oracle] and counts["duplicate_timestamp"] > 0


def test_balabit_clock_quirks_follow_the_users_setup():
    from mouselab.synth.balabit import BalabitQuirks, RecordingSetup, balabit_lines

    samples, events = _free_use_session(seed=5)
    quiet = RecordingSetup(late_report_prob=0.0, paired_report_prob=0.0, held_report_prob=0.0,
                           stalled_report_prob=0.0, record_lag_ms=0.0)
    q = BalabitQuirks(sentinel_prob=0.0)
    _, _, base = balabit_lines(samples, events, seed=1, quirks=q, setup=quiet)
    lines, _, late = balabit_lines(samples, events, seed=1, quirks=q,
                                   setup=RecordingSetup(0.45, 0.0, 0.0, 0.0, 0.0))
    assert base["late_rows"] == base["paired_rows"] == base["held_rows"] == base["stalled_packets"] == 0
    assert late["late_rows"] > 0.2 * late["client_repeats"] and late["client_repeats"] > base["client_repeats"]
    # a late row repeats the previous row's client time; it goes in the next report's packet (record time)
    rows = _parse(lines)
    c, r = rows["client timestamp"].to_numpy(), rows["record timestamp"].to_numpy()
    repeat = np.flatnonzero(c[1:-1] == c[:-2]) + 1
    assert np.mean(r[repeat] == r[repeat + 1]) > 0.5
    # no stalls: the other rows are recorded within a few ms of their client time
    fresh = np.r_[True, c[1:] != c[:-1]]
    assert np.abs(r - c)[fresh].max() < 0.05 and np.abs(r - c)[~fresh].max() > 0.09
    setups = [RecordingSetup.draw(BalabitQuirks(), seed=s) for s in range(50)]
    assert setups[0] == RecordingSetup.draw(BalabitQuirks(), seed=0)
    for name in ("late_report_prob", "paired_report_prob", "held_report_prob", "stalled_report_prob",
                 "record_lag_ms"):
        lo, hi = getattr(BalabitQuirks(), name)
        values = [getattr(s, name) for s in setups]
        assert lo <= min(values) and max(values) <= hi and max(values) - min(values) > 0.5 * (hi - lo)


def test_balabit_writer_refuses_bad_settings():
    from mouselab.synth.balabit import BalabitQuirks, ReportClock, balabit_lines, iter_balabit

    with pytest.raises(ValueError, match="schedule"):
        next(iter_balabit(users=1, sessions=1, minutes=0.2, seed=1, schedule="60hz"))
    with pytest.raises(ValueError, match="schedule"):
        balabit_lines(pl.DataFrame(), pl.DataFrame(), seed=1, schedule="60hz")
    with pytest.raises(ValueError, match="late_report_prob"):
        BalabitQuirks(late_report_prob=(0.3, 0.1))
    with pytest.raises(ValueError, match="report_ticks"):
        ReportClock(report_ticks=(7, 8), report_weights=(1.0,))
    with pytest.raises(ValueError, match="tick_ms"):
        ReportClock(tick_ms=0.0)
