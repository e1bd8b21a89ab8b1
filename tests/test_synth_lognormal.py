"""Analytic checks of the sigma-lognormal model (mouselab.synth.lognormal)."""

from __future__ import annotations

import numpy as np
import pytest

from mouselab.synth.lognormal import (
    StrokePlan,
    lognormal_displacement,
    lognormal_peak_time,
    lognormal_speed,
    peak_fraction,
    sigma_for_peak_fraction,
    stroke_between,
    stroke_timing,
    superpose_strokes,
)


@pytest.mark.parametrize("t0, mu, sigma", [(0.0, 5.5, 0.25), (120.0, 6.0, 0.4), (-30.0, 5.0, 0.1)])
def test_speed_of_one_stroke_peaks_at_t0_plus_exp_mu_minus_sigma_squared(t0, mu, sigma):
    t = np.linspace(t0, t0 + np.exp(mu + 4 * sigma), 400_001)
    v = lognormal_speed(t, t0_ms=t0, mu=mu, sigma=sigma, amplitude_px=800.0)
    expected = t0 + np.exp(mu - sigma**2)
    assert lognormal_peak_time(t0, mu, sigma) == pytest.approx(expected)
    assert t[np.argmax(v)] == pytest.approx(expected, abs=2 * (t[1] - t[0]))
    # the peak value is the lognormal density at its mode times the amplitude
    mode_density = np.exp(-mu + sigma**2 / 2) / (sigma * np.sqrt(2 * np.pi))
    assert v.max() == pytest.approx(800.0 * mode_density, rel=1e-6)
    assert np.all(lognormal_speed(np.array([t0 - 1.0, t0]), t0_ms=t0, mu=mu, sigma=sigma) == 0.0)


def test_speed_integrates_to_the_displacement_and_the_amplitude():
    t0, mu, sigma, amp = 50.0, 5.8, 0.3, 640.0
    t = np.linspace(t0, t0 + np.exp(mu + 6 * sigma), 200_001)
    v = lognormal_speed(t, t0_ms=t0, mu=mu, sigma=sigma, amplitude_px=amp)
    area = np.concatenate([[0.0], np.cumsum((v[1:] + v[:-1]) / 2 * np.diff(t))])
    d = lognormal_displacement(t, t0_ms=t0, mu=mu, sigma=sigma, amplitude_px=amp)
    np.testing.assert_allclose(area, d, atol=1e-3 * amp)
    assert d[-1] == pytest.approx(amp, rel=1e-6)


def test_peak_fraction_inverse_and_symmetric_limit():
    sig = np.array([0.05, 0.1, 0.2, 0.35, 0.6])
    f = peak_fraction(sig)
    assert np.all(np.diff(f) < 0) and np.all(f < 0.5)
    assert peak_fraction(1e-3) == pytest.approx(0.5, abs=0.01)  # symmetric (minimum-jerk-like) as sigma -> 0
    np.testing.assert_allclose(sigma_for_peak_fraction(f), sig, rtol=1e-6)
    np.testing.assert_allclose(sigma_for_peak_fraction(peak_fraction(0.3, support=5.0), support=5.0), 0.3, rtol=1e-6)


def test_stroke_timing_places_the_visible_window():
    t0, mu = stroke_timing(200.0, 500.0, 0.25, support=3.0)
    assert t0 + np.exp(mu - 3 * 0.25) == pytest.approx(200.0)
    assert t0 + np.exp(mu + 3 * 0.25) == pytest.approx(700.0)


@pytest.mark.parametrize("curvature", [0.0, 0.8, -1.2])
def test_arc_stroke_joins_its_points_and_bends_as_asked(curvature):
    p0, p1 = np.array([[100.0, 700.0]]), np.array([[900.0, 100.0]])
    s = stroke_between(p0, p1, onset_ms=0.0, duration_ms=600.0, sigma=0.2, curvature_rad=curvature)
    plan = StrokePlan(p0, s["t0_ms"][:, None], s["mu"][:, None], np.atleast_1d(s["sigma"])[:, None],
                      s["amplitude_px"][:, None], s["theta_start"][:, None], s["theta_end"][:, None])
    np.testing.assert_allclose(plan.end_px, p1, atol=1e-9)
    t = np.linspace(-50.0, 3000.0, 6001)[None, :]
    pos, vel = superpose_strokes(plan, t)
    np.testing.assert_allclose(pos[0, -1], p1[0], atol=0.05)  # the tail beyond the window is tiny
    # path length equals the amplitude; a straight stroke's chord equals it
    path = np.sum(np.hypot(*np.diff(pos[0], axis=0).T))
    assert path == pytest.approx(float(s["amplitude_px"][0]), rel=2e-3)
    # velocity is the derivative of position
    num = np.gradient(pos[0, :, 0], t[0])
    np.testing.assert_allclose(num[100:-100], vel[0, 100:-100, 0], atol=0.02 * np.abs(vel[0, :, 0]).max())
    chord = np.hypot(*(p1 - p0)[0])
    u = (p1 - p0)[0] / chord
    rel = pos[0] - p0[0]
    lateral = np.abs(rel[:, 0] * u[1] - rel[:, 1] * u[0]).max()
    assert (lateral < 1e-6) if curvature == 0 else (lateral > 50)
