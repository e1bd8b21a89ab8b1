"""Analytic and property checks of the kinematic movement model (mouselab.synth.kinematics)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mouselab.synth.kinematics import (
    attraction_via,
    fitts_duration_ms,
    minimum_jerk,
    minimum_jerk_velocity,
    plan_submovements,
    render,
    sample_times,
    simulate_pointing,
    superpose,
)

NOISE_OFF = dict(endpoint_sd_along=0.0, endpoint_sd_across=0.0, primary_gain=1.0)


def _fine_grid(n: int, end_ms: float, step_ms: float = 0.5) -> np.ndarray:
    return np.tile(np.arange(0.0, end_ms + step_ms, step_ms), (n, 1))


# ------------------------------------------------------------------------- minimum jerk
def test_minimum_jerk_boundaries_and_symmetry():
    tau = np.linspace(0, 1, 101)
    s = minimum_jerk(tau)
    assert s[0] == 0 and s[-1] == 1 and minimum_jerk(0.5) == pytest.approx(0.5)
    np.testing.assert_allclose(s + s[::-1], 1.0, atol=1e-12)  # point symmetric about (0.5, 0.5)
    assert np.all(np.diff(s) >= 0)
    assert minimum_jerk(-1.0) == 0 and minimum_jerk(2.0) == 1  # at rest before onset and after the end
    v = minimum_jerk_velocity(tau)
    assert v[0] == 0 and v[-1] == 0
    # derivative agrees with a central difference of the position profile
    h = 1e-6
    mid = tau[1:-1]
    np.testing.assert_allclose((minimum_jerk(mid + h) - minimum_jerk(mid - h)) / (2 * h), minimum_jerk_velocity(mid), atol=1e-6)


def test_single_submovement_speed_is_bell_shaped_with_peak_at_midpoint():
    start, target = np.array([[100.0, 700.0]]), np.array([[900.0, 100.0]])
    plan = plan_submovements(start, target, seed=1, target_size_px=(60, 60), onset_ms=200.0, **NOISE_OFF)
    assert plan.used.sum() == 1
    onset, dur = plan.movement_onset_ms[0], plan.movement_end_ms[0] - plan.movement_onset_ms[0]
    assert dur == pytest.approx(fitts_duration_ms(1000.0, 60.0))
    t = _fine_grid(1, onset + dur + 100.0, 0.25)
    pos, vel = superpose(plan, t)
    speed = np.hypot(vel[0, :, 0], vel[0, :, 1])
    i_peak = int(np.argmax(speed))
    assert t[0, i_peak] == pytest.approx(onset + dur / 2, abs=0.25)  # peak at the temporal midpoint
    assert speed.max() == pytest.approx(1.875 * 1000.0 / dur, rel=1e-4)  # 1.875 A/T
    moving = (t[0] > onset) & (t[0] < onset + dur)
    assert np.all(speed[~moving] == 0)  # still before onset (latency) and after the end
    # bell shape: on a grid symmetric about the midpoint the speed is unimodal and mirror symmetric
    tau_grid = onset + dur * np.linspace(0.0, 1.0, 1001)[None, :]
    _, v = superpose(plan, tau_grid)
    inside = np.hypot(v[0, :, 0], v[0, :, 1])
    peak = int(np.argmax(inside))
    assert peak == 500
    assert np.all(np.diff(inside[: peak + 1]) > 0) and np.all(np.diff(inside[peak:]) < 0)
    np.testing.assert_allclose(inside, inside[::-1], rtol=1e-9, atol=1e-12)
    # the path is straight and at the midpoint half-way
    np.testing.assert_allclose(pos[0, i_peak], (start[0] + target[0]) / 2, atol=1.0)


def test_endpoint_equals_target_without_noise():
    rng = np.random.default_rng(3)
    start = rng.uniform(0, 1280, (50, 2))
    target = rng.uniform(0, 800, (50, 2))
    plan = plan_submovements(start, target, seed=4, target_size_px=(30, 30), **NOISE_OFF)
    np.testing.assert_allclose(plan.end_px, target, atol=1e-9)
    assert np.all(plan.n_corrections == 0)
    # an undershooting primary without noise is corrected exactly onto the target
    under = plan_submovements(start, target, seed=4, target_size_px=(30, 30), endpoint_sd_along=0.0,
                              endpoint_sd_across=0.0, primary_gain=0.9)
    half = 15.0 * 0.9  # target half-size minus the 10 % margin
    missed = np.any(np.abs(0.1 * (target - start)) > half, axis=1)  # the primary stops 10 % short
    assert missed.sum() > 40
    np.testing.assert_array_equal(under.n_corrections, missed.astype(int))
    np.testing.assert_allclose(under.end_px[missed], target[missed], atol=1e-9)
    assert np.all(np.abs(under.end_px - target) <= half + 1e-9)  # inside the target either way


def test_rendered_endpoint_is_planned_endpoint_despite_path_noise():
    start = np.tile([640.0, 740.0], (200, 1))
    target = np.tile([1140.0, 70.0], (200, 1))
    tr = simulate_pointing(start, target, seed=5, target_size_px=(240, 100), onset_ms=300.0, sdn_coef=0.05)
    last = tr.n_samples - 1
    rows = np.arange(200)
    np.testing.assert_array_equal(tr.x[rows, last], np.rint(tr.plan.end_px[:, 0]))
    np.testing.assert_array_equal(tr.y[rows, last], np.rint(tr.plan.end_px[:, 1]))
    # every movement ends inside its target (Meyer: correct until inside)
    assert np.all(np.abs(tr.plan.end_px - target) <= np.array([120.0, 50.0]))
    # the noise does bend the path
    x0, _ = render(tr.plan, tr.t_ms, seed=6, sdn_coef=0.0, const_noise_px_per_ms=0.0, pixels=False)
    assert np.abs(tr.x - x0)[tr.valid()].max() > 2.0


def test_integer_pixels_and_still_during_latency():
    tr = simulate_pointing([[640.0, 740.0]] * 20, [[140.0, 70.0]] * 20, seed=7, target_size_px=(240, 100), onset_ms=400.0)
    v = tr.valid()
    assert np.all(tr.x[v] == np.rint(tr.x[v])) and np.all(tr.y[v] == np.rint(tr.y[v]))
    before = tr.t_ms < 400.0
    assert np.all(tr.x[before] == 640.0) and np.all(tr.y[before] == 740.0)


# ------------------------------------------------------------------------- sampling
@pytest.mark.parametrize("rate_hz", [60.0, 120.0, 30.0])
def test_sampling_rate_within_five_percent(rate_hz):
    t, n = sample_times(np.full(100, 3000.0), seed=8, rate_hz=rate_hz)
    mask = np.arange(t.shape[1])[None, :] < n[:, None]
    dts = np.concatenate([np.diff(row[:k]) for row, k in zip(t, n)])
    assert np.all(dts > 0)  # strictly increasing
    assert abs(1000.0 / dts.mean() - rate_hz) / rate_hz < 0.05
    assert np.all(t[mask] == np.round(t[mask]))  # 1 ms timestamps
    assert np.all(t[np.arange(100), n - 1] <= 3000.0) and np.all(t[:, 0] == 0.0)
    assert np.all(t[np.arange(100), np.minimum(n, t.shape[1] - 1)] > 3000.0)


def test_sampling_jitter_is_small():
    t, n = sample_times([60_000.0], seed=9, rate_hz=60.0)
    dt = np.diff(t[0, : n[0]])
    assert 0.3 < np.median(np.abs(dt - 1000 / 60)) < 2.0
    assert dt.min() >= 12.0


# ------------------------------------------------------------------------- determinism and seeds
def test_same_seed_same_trajectories_and_different_seed_differs():
    args = (np.tile([640.0, 740.0], (30, 1)), np.tile([1140.0, 70.0], (30, 1)))
    kw = dict(target_size_px=(240, 100), competitor_px=[140.0, 70.0], attraction=0.3, pause_ms=150.0)
    a = simulate_pointing(*args, seed=11, **kw)
    b = simulate_pointing(*args, seed=11, **kw)
    c = simulate_pointing(*args, seed=12, **kw)
    for name in ("t_ms", "x", "y", "n_samples"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.x, c.x) or not np.array_equal(a.t_ms, c.t_ms)
    g1, g2 = np.random.default_rng(11), np.random.default_rng(11)
    np.testing.assert_array_equal(simulate_pointing(*args, seed=g1, **kw).x, simulate_pointing(*args, seed=g2, **kw).x)


def test_no_global_random_state_and_explicit_seed():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    simulate_pointing([[0.0, 0.0]], [[500.0, 500.0]], seed=1)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    with pytest.raises(TypeError):
        simulate_pointing([[0.0, 0.0]], [[500.0, 500.0]], seed=None)


# ------------------------------------------------------------------------- choice-task dynamics
def test_attraction_via_geometry():
    s, t, c = np.array([[640.0, 740.0]]), np.array([[1140.0, 70.0]]), np.array([[140.0, 70.0]])
    np.testing.assert_allclose(attraction_via(s, t, c, attraction=[0.5], progress=[0.5]), [[640.0, 405.0]])
    np.testing.assert_allclose(attraction_via(s, t, c, attraction=[0.0], progress=[1.0]), t)
    np.testing.assert_allclose(attraction_via(s, t, c, attraction=[1.0], progress=[1.0]), c)


def _xflips(x: np.ndarray) -> int:
    dx = np.diff(x)
    dx = dx[dx != 0]
    return int(np.sum(np.sign(dx[1:]) != np.sign(dx[:-1])))


def test_change_of_mind_gives_x_flip_and_attraction_bends_path():
    n = 3
    start, target, comp = np.tile([640.0, 740.0], (n, 1)), np.tile([1140.0, 70.0], (n, 1)), np.tile([140.0, 70.0], (n, 1))
    quiet = dict(sdn_coef=0.0, const_noise_px_per_ms=0.0, **NOISE_OFF)
    tr = simulate_pointing(start, target, seed=13, target_size_px=(240, 100), competitor_px=comp,
                           attraction=[0.0, 0.4, 0.85], via_progress=0.5, **quiet)
    flips = [_xflips(tr.x[i, : tr.n_samples[i]]) for i in range(n)]
    assert flips[0] == 0 and flips[1] == 0 and flips[2] == 1  # only the change of mind reverses in x
    # maximum deviation from the straight start-end line grows with attraction
    dev = []
    for i in range(n):
        x, y = tr.x[i, : tr.n_samples[i]], tr.y[i, : tr.n_samples[i]]
        lx, ly = x[-1] - x[0], y[-1] - y[0]
        dev.append(np.max(np.abs((x - x[0]) * ly - (y - y[0]) * lx)) / np.hypot(lx, ly))
    assert dev[0] < 3 < dev[1] < dev[2]


def test_hesitation_keeps_cursor_exactly_still():
    n = 10
    tr = simulate_pointing(np.tile([640.0, 740.0], (n, 1)), np.tile([140.0, 70.0], (n, 1)), seed=14,
                           target_size_px=(240, 100), competitor_px=[1140.0, 70.0], attraction=0.3,
                           pause_ms=250.0, onset_ms=100.0)
    for i in range(n):
        t, x, y = (a[i, : tr.n_samples[i]] for a in (tr.t_ms, tr.x, tr.y))
        moved = np.flatnonzero((np.diff(x) != 0) | (np.diff(y) != 0))
        gaps = t[moved[1:]] - t[moved[:-1] + 1]  # still stretches between the first and last movement
        assert gaps.max() >= 250.0 - 2 * 17.0


def test_vectorised_speed():
    n = 2400
    rng = np.random.default_rng(15)
    t0 = time.perf_counter()
    simulate_pointing(np.tile([640.0, 740.0], (n, 1)), np.tile([1140.0, 70.0], (n, 1)), seed=15,
                      target_size_px=(240, 100), competitor_px=[140.0, 70.0], attraction=rng.uniform(0, 0.9, n),
                      pause_ms=np.where(rng.random(n) < 0.3, 200.0, 0.0), onset_ms=rng.uniform(200, 600, n))
    assert time.perf_counter() - t0 < 5.0  # ~0.3 s here; generous bound for slow CI machines


def test_bad_shapes_speak_clearly():
    with pytest.raises(ValueError, match="target_px"):
        plan_submovements(np.zeros((3, 2)), np.zeros((2, 2)), seed=1)
    with pytest.raises(ValueError, match="resolution_ms"):
        sample_times([100.0], seed=1, rate_hz=1000.0, resolution_ms=1.0)
