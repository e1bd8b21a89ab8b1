"""Analytic cases for the kinematic and HCI measures: straight lines, circles, minimum-jerk reaches, planted
submovements, hovers, overshoot and target re-entries with known answers; both engines."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from mouselab.measures import PRESETS, compute_measures
from mouselab.synth.kinematics import minimum_jerk


def frame(trials: dict[str, tuple], *, participant: str = "p1") -> pl.DataFrame:
    return pl.concat([
        pl.DataFrame({"study": "s", "participant": participant, "session": "a", "trial": k,
                      "t_ms": np.asarray(t, float), "x": np.asarray(x, float), "y": np.asarray(y, float)})
        for k, (t, x, y) in trials.items()
    ])


def targets(**per_trial: tuple[float, float, float, float]) -> pl.DataFrame:
    return pl.DataFrame([
        {"study": "s", "participant": "p1", "session": "a", "trial": k, "target_x": tx, "target_y": ty,
         "target_w": w, "target_h": h}
        for k, (tx, ty, w, h) in per_trial.items()
    ])


def one(samples: pl.DataFrame, names: list[str], **kwargs) -> dict:
    out = compute_measures(samples, measures=names, **kwargs)
    assert out.height == 1
    return out.row(0, named=True)


def test_straight_constant_velocity_line() -> None:
    t = np.arange(0, 1000, 10.0)
    x, y = 0.3 * t, -0.4 * t  # 0.5 px/ms along a diagonal
    m = one(frame({"a": (t, x, y)}), PRESETS["kinematic"])
    assert m["curvature"] == pytest.approx(0.0, abs=1e-12)
    assert m["jerk_mean"] == pytest.approx(0.0, abs=1e-12) and m["jerk_rms"] == pytest.approx(0.0, abs=1e-12)
    assert m["peak_velocity"] == pytest.approx(0.5) and m["min_velocity"] == pytest.approx(0.5)
    assert m["peak_acceleration"] == pytest.approx(0.0, abs=1e-12)
    assert m["path_efficiency"] == pytest.approx(1.0)
    assert m["velocity_peaks"] == 1 and m["hovers"] == 0 and m["micro_hesitation_count"] == 0


def test_circle_curvature_is_one_over_radius() -> None:
    radius = 200.0
    phi = np.linspace(0, 1.5 * np.pi, 600)
    t = np.arange(phi.size) * 5.0
    m = one(frame({"c": (t, radius * np.cos(phi), radius * np.sin(phi))}), ["curvature"],
            params={"curvature_step_px": 2.0})
    assert m["curvature"] == pytest.approx(1 / radius, rel=5e-3)


@pytest.mark.parametrize("engine", ["numpy", "auto"])
def test_minimum_jerk_reach_matches_the_closed_form(engine: str) -> None:
    amplitude, duration, dt = 600.0, 800.0, 0.25
    t = np.arange(0.0, duration + dt / 2, dt)
    x = amplitude * minimum_jerk(t / duration)
    m = one(frame({"mj": (t, x, np.zeros_like(x))}), PRESETS["kinematic"], engine=engine)
    # jerk = D/T^3 (60 - 360 tau + 360 tau^2); RMS over [0, T] = sqrt(720) D / T^3
    assert m["jerk_rms"] == pytest.approx(math.sqrt(720.0) * amplitude / duration**3, rel=2e-3)
    tau = np.linspace(0, 1, 200_001)
    mean_abs = np.trapezoid(np.abs(60 - 360 * tau + 360 * tau**2), tau) * amplitude / duration**3
    assert m["jerk_mean"] == pytest.approx(mean_abs, rel=2e-3)
    # bell-shaped speed: peak 1.875 D/T at the middle of the movement
    assert m["peak_velocity"] == pytest.approx(1.875 * amplitude / duration, rel=1e-4)
    assert m["peak_velocity_time"] == pytest.approx(duration / 2, abs=dt)
    assert m["peak_velocity_relative_time"] == pytest.approx(0.5, abs=0.01)
    assert m["velocity_peaks"] == 1 and m["curvature"] == pytest.approx(0.0, abs=1e-12)
    # peak acceleration of the minimum-jerk profile: 10/sqrt(3) D/T^2 at tau = (3 - sqrt(3))/6
    assert m["peak_acceleration"] == pytest.approx(10 / math.sqrt(3) * amplitude / duration**2, rel=1e-3)
    assert m["peak_deceleration"] == pytest.approx(-10 / math.sqrt(3) * amplitude / duration**2, rel=1e-3)


def test_primary_movement_and_correction_are_two_submovements() -> None:
    dt = 10.0
    t = np.arange(0, 1400, dt)
    primary = 500 * minimum_jerk(t / 600)
    correction = 60 * minimum_jerk((t - 800) / 300)
    noisy = primary + correction + np.where(t < 600, 0.4 * np.sin(t / 7.0), 0.0)  # wiggles on one bump
    m = one(frame({"a": (t, noisy, np.zeros_like(t))}), ["velocity_peaks"])
    assert m["velocity_peaks"] == 2
    # overlapping submovements without a clear dip in speed count once
    blended = 500 * minimum_jerk(t / 600) + 60 * minimum_jerk((t - 350) / 300)
    assert one(frame({"a": (t, blended, np.zeros_like(t))}), ["velocity_peaks"])["velocity_peaks"] == 1
    # a lower peak fraction threshold drops the small correction
    assert one(frame({"a": (t, noisy, np.zeros_like(t))}), ["velocity_peaks"],
               params={"peak_min_speed_fraction": 0.5})["velocity_peaks"] == 1


def test_hovers_with_threshold_and_initial_phase() -> None:
    # still 300 ms, move, still 400 ms, move, still 100 ms at the end
    x = [0.0] * 31 + list(np.arange(1, 21) * 5.0) + [100.0] * 40 + list(100 + np.arange(1, 11) * 5.0) + [150.0] * 10
    t = np.arange(len(x)) * 10.0
    s = frame({"h": (t, x, np.zeros(len(x)))})
    m = one(s, ["hovers", "hover_time", "idle_time"])
    assert m["hovers"] == 2 and m["hover_time"] == pytest.approx(300.0 + 400.0)
    assert one(s, ["hovers"], params={"hover_include_initial": False})["hovers"] == 1
    assert one(s, ["hovers"], params={"hover_threshold_ms": 350})["hovers"] == 1
    assert one(s, ["hovers"], params={"hover_threshold_ms": 50})["hovers"] == 3
    # a positive first timestamp is a still lead-in (as idle_time)
    late = frame({"h": (t + 500.0, x, np.zeros(len(x)))})
    assert one(late, ["hover_time"])["hover_time"] == pytest.approx(800.0 + 400.0)


def test_overshoot_and_target_reentries_on_constructed_paths() -> None:
    t = np.arange(0, 500, 10.0)
    # target centred at x = 400 (width 40): stop short at 350, stop inside at 390, pass to 450 and come back
    short = np.linspace(0, 350, t.size)
    inside = np.linspace(0, 390, t.size)
    beyond = np.concatenate([np.linspace(0, 450, 30), np.linspace(450, 400, t.size - 30)])
    zig = np.concatenate([np.linspace(0, 395, 20), np.linspace(395, 370, 10), np.linspace(370, 398, 10),
                          np.linspace(398, 430, 5), np.linspace(430, 400, 5)])
    geo = dict(target_x=400.0, target_y=0.0, target_w=40.0, target_h=40.0)
    trials = {"short": (t, short, 0 * t), "inside": (t, inside, 0 * t), "beyond": (t, beyond, 0 * t),
              "zig": (t, zig, 0 * t)}
    tg = targets(**{k: tuple(geo.values()) for k in trials})
    out = compute_measures(frame(trials), measures=["overshoot", "target_reentries", "fitts_amplitude",
                                                    "fitts_width", "fitts_id", "endpoint_deviation"], targets=tg)
    m = {r["trial"]: r for r in out.iter_rows(named=True)}
    assert m["short"]["overshoot"] == 0.0 and m["inside"]["overshoot"] == 0.0
    assert m["beyond"]["overshoot"] == pytest.approx(450 - 420)
    assert m["short"]["target_reentries"] == 0 and m["inside"]["target_reentries"] == 0
    assert m["beyond"]["target_reentries"] == 1  # in at 380, out beyond 420, back in
    assert m["zig"]["target_reentries"] == 2  # in, out short, in, out beyond, in
    assert m["short"]["fitts_amplitude"] == 400 and m["short"]["fitts_width"] == 40
    assert m["short"]["fitts_id"] == pytest.approx(math.log2(400 / 40 + 1))
    assert m["short"]["endpoint_deviation"] == pytest.approx(-50.0)
    # without target geometry the target measures are missing, the others unaffected
    bare = compute_measures(frame(trials), measures=["overshoot", "target_reentries", "RT"])
    assert bare["overshoot"].is_nan().all() and bare["target_reentries"].is_null().all()
    assert bare["target_reentries"].dtype == pl.Int64


def test_vertical_task_axis_uses_target_height() -> None:
    t = np.arange(0, 300, 10.0)
    y = np.linspace(500, 80, t.size)  # upwards on a y-down screen, beyond the top edge (100 - 20 = 80)
    tg = targets(v=(0.0, 100.0, 200.0, 40.0))
    m = compute_measures(frame({"v": (t, 0 * t, y)}), measures=["overshoot", "fitts_width"], targets=tg).row(0, named=True)
    assert m["fitts_width"] == 40.0
    assert m["overshoot"] == pytest.approx(0.0)
    tg2 = targets(v=(0.0, 120.0, 200.0, 40.0))
    assert compute_measures(frame({"v": (t, 0 * t, y)}), measures=["overshoot"], targets=tg2)["overshoot"][0] == \
        pytest.approx(20.0)


def test_clean_and_mousetrap_velocity_conventions_differ_as_documented() -> None:
    t = [0.0, 10.0, 30.0, 40.0]
    x = [0.0, 10.0, 50.0, 60.0]  # speeds 1, 2, 1 px/ms
    m = one(frame({"a": (t, x, [0.0] * 4)}), ["vel_max_time", "peak_velocity_time", "vel_min", "min_velocity",
                                              "acc_max", "peak_acceleration"])
    assert m["vel_max_time"] == 10.0  # mousetrap: timestamp k-1 of the fastest step 10 -> 30
    assert m["peak_velocity_time"] == 20.0  # clean: the step's midpoint
    assert m["vel_min"] == 0.0 and m["min_velocity"] == 1.0
    assert m["acc_max"] == pytest.approx((2 - 1) / 10)  # mousetrap: previous step's dt
    assert m["peak_acceleration"] == pytest.approx((2 - 1) / 15)  # clean: between step midpoints 5 and 20
