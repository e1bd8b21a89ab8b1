"""Two popular ways of faking mouse movements, as baselines for the realism yardstick (pure, seeded).

Both are written here from their published descriptions (no code was copied):

* **WindMouse-style** (after B. J. Land's *WindMouse* description, 2005): the cursor is a particle pulled
  towards the target by a constant-magnitude "gravity" and pushed by a randomly fluctuating "wind"; its
  step length is capped at ``max_step_px``. Within ``target_area_px`` of the target the wind dies down and
  the cap shrinks, so the particle settles. Each step is one tick of a fixed clock.
* **Bezier-style** (the curve-plus-easing approach of many "human-like" automation libraries): a cubic
  Bezier curve from start to end whose two control points are pushed sideways by random fractions of the
  distance, traversed with an ease-in-out timing (a smoothstep of time), plus optional pixel jitter.

Neither has a model of human timing. To compare *how* they move rather than *when*, both accept a timing
:class:`~mouselab.synth.movement.MovementSpec` (latency, movement time, dwell — e.g. drawn from a
:class:`~mouselab.synth.calibrate.Calibration`) and are sampled by the same polling recorder as the
calibrated generators; without one they use Fitts' law with ``fitts_a_ms``/``fitts_b_ms`` and no latency.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mouselab.synth.describe import mirror_normal
from mouselab.synth.kinematics import rng_from, sample_times
from mouselab.synth.movement import MovementSpec, Recording, _keys, fitts_id, geometry_arrays, reported_times

__all__ = ["bezier_movements", "bezier_path", "windmouse_movements", "windmouse_path"]


def windmouse_path(
    start,
    end,
    *,
    seed: int | np.random.Generator,
    gravity: float = 9.0,
    wind: float = 3.0,
    max_step_px: float = 15.0,
    target_area_px: float = 12.0,
    max_steps: int = 5000,
) -> np.ndarray:
    """Points (m, 2) of one WindMouse-style path from ``start`` to ``end`` (px), one per clock tick.

    Per tick: while farther than ``target_area_px`` the wind changes by a uniform random kick
    (``wind_i ← wind_i/√3 + U(−wind, wind)/√5``), inside it decays (``/√3``) and the step cap shrinks;
    the velocity adds the wind and ``gravity`` towards the target; a velocity above the cap is cut to a
    random length between half the cap and the cap. The path ends exactly at ``end``.
    """
    rng = rng_from(seed)
    pos = np.asarray(start, dtype=float).copy()
    goal = np.asarray(end, dtype=float)
    v = np.zeros(2)
    w = np.zeros(2)
    cap = max_step_px
    points = [pos.copy()]
    sqrt3, sqrt5 = np.sqrt(3.0), np.sqrt(5.0)
    for _ in range(max_steps):
        delta = goal - pos
        dist = float(np.hypot(*delta))
        if dist < 1.0:
            break
        wind_now = min(wind, dist)
        if dist >= target_area_px:
            w = w / sqrt3 + rng.uniform(-wind_now, wind_now, 2) / sqrt5
        else:
            w = w / sqrt3
            cap = max(cap / sqrt3, 3.0) if cap > 3.0 else rng.uniform(1.0, 3.0)
        v = v + w + gravity * delta / dist
        speed = float(np.hypot(*v))
        if speed > cap:
            v = v / speed * (cap / 2.0 + rng.uniform(0.0, cap / 2.0))
        pos = pos + v
        points.append(pos.copy())
    points.append(goal.copy())
    return np.array(points)


def bezier_path(start, end, *, seed: int | np.random.Generator, spread: float = 0.3, n_points: int = 200) -> np.ndarray:
    """Points (n_points, 2) of a cubic Bezier curve from ``start`` to ``end`` at equal curve-parameter steps.

    The control points lie at 1/3 and 2/3 of the straight line, pushed sideways by ``U(−spread, spread)``
    × the distance (independently), so curves bend one way or form an S.
    """
    rng = rng_from(seed)
    p0 = np.asarray(start, dtype=float)
    p3 = np.asarray(end, dtype=float)
    chord = p3 - p0
    dist = float(np.hypot(*chord))
    normal = mirror_normal(chord[None, :])[0] if dist > 0 else np.zeros(2)
    k = rng.uniform(-spread, spread, 2) * dist
    p1 = p0 + chord / 3.0 + k[0] * normal
    p2 = p0 + 2.0 * chord / 3.0 + k[1] * normal
    u = np.linspace(0.0, 1.0, n_points)[:, None]
    return (1 - u) ** 3 * p0 + 3 * (1 - u) ** 2 * u * p1 + 3 * (1 - u) * u**2 * p2 + u**3 * p3


def _timing(geometry: pl.DataFrame, timing: MovementSpec | None, fitts_a_ms: float, fitts_b_ms: float,
            default_width_px: float):
    start, aim, size = geometry_arrays(geometry)
    n = start.shape[0]
    if timing is not None:
        if timing.n_trials != n:
            raise ValueError(f"timing has {timing.n_trials} trials but geometry has {n} rows")
        return (np.maximum(np.nan_to_num(timing.latency_ms), 0.0), np.maximum(np.nan_to_num(timing.movement_ms, nan=500.0), 60.0),
                np.maximum(np.nan_to_num(timing.dwell_ms), 0.0))
    width = np.where(np.isfinite(size).all(axis=1), np.nanmin(np.where(np.isfinite(size), size, np.inf), axis=1),
                     default_width_px)
    mt = fitts_a_ms + fitts_b_ms * fitts_id(np.hypot(*(aim - start).T), width)
    return np.zeros(n), mt, np.zeros(n)


def _endpoints(geometry: pl.DataFrame, timing: MovementSpec | None) -> tuple[np.ndarray, np.ndarray]:
    start, aim, size = geometry_arrays(geometry)
    end = aim.copy()
    if timing is not None:
        off = np.column_stack([np.nan_to_num(timing.end_dx), np.nan_to_num(timing.end_dy)])
        end = aim + np.where(np.isfinite(size), size / 2.0, 0.0) * off
    return start, end


def _sample_paths(geometry, paths, progress_fns, latency, moving, dwell, *, rng, recording: Recording, pixels: bool):
    """Sample each path (points at equal 'ticks') with the recorder: still during latency and dwell."""
    n = len(paths)
    total = latency + moving + dwell + 1000.0 / recording.rate_hz  # at least one sample after the movement
    t, n_samples = sample_times(total, seed=rng, rate_hz=recording.rate_hz, jitter_sd_ms=recording.jitter_sd_ms,
                                drop_prob=recording.drop_prob, resolution_ms=recording.resolution_ms)
    n_samples = np.maximum(n_samples, 2)
    seen = reported_times(t, device_hz=recording.device_hz, seed=rng)
    rows, ts, xs, ys = [], [], [], []
    for i in range(n):
        ti = t[i, : n_samples[i]]
        tau = np.clip((seen[i, : n_samples[i]] - latency[i]) / moving[i], 0.0, 1.0)
        s = progress_fns(tau)
        pts = paths[i]
        grid = np.linspace(0.0, 1.0, len(pts))
        x = np.interp(s, grid, pts[:, 0])
        y = np.interp(s, grid, pts[:, 1])
        if pixels:
            x, y = np.rint(x), np.rint(y)
        rows.append(np.full(ti.size, i))
        ts.append(ti)
        xs.append(x)
        ys.append(y)
    body = pl.DataFrame({"row": np.concatenate(rows), "t_ms": np.concatenate(ts), "x": np.concatenate(xs),
                         "y": np.concatenate(ys)})
    out = _keys(geometry).with_row_index("row").with_columns(pl.col("row").cast(pl.Int64)).join(
        body.with_columns(pl.col("row").cast(pl.Int64)), on="row", how="inner", maintain_order="right")
    return out.drop("row").with_columns(event=pl.lit("move"), buttons=pl.lit(0, dtype=pl.UInt8))


def windmouse_movements(
    geometry: pl.DataFrame,
    *,
    seed: int | np.random.Generator,
    timing: MovementSpec | None = None,
    recording: Recording = Recording(),
    gravity: float = 9.0,
    wind: float = 3.0,
    max_step_px: float = 15.0,
    target_area_px: float = 12.0,
    fitts_a_ms: float = 150.0,
    fitts_b_ms: float = 140.0,
    default_width_px: float = 100.0,
) -> pl.DataFrame:
    """WindMouse-style movements for every row of ``geometry`` (samples schema; see :func:`windmouse_path`).

    The ticks of each path are spread evenly over the movement time (a constant tick rate per movement).
    """
    rng = rng_from(seed)
    latency, moving, dwell = _timing(geometry, timing, fitts_a_ms, fitts_b_ms, default_width_px)
    start, end = _endpoints(geometry, timing)
    paths = [windmouse_path(start[i], end[i], seed=rng, gravity=gravity, wind=wind, max_step_px=max_step_px,
                            target_area_px=target_area_px) for i in range(start.shape[0])]
    return _sample_paths(geometry, paths, lambda tau: tau, latency, moving, dwell, rng=rng, recording=recording,
                         pixels=True)


def bezier_movements(
    geometry: pl.DataFrame,
    *,
    seed: int | np.random.Generator,
    timing: MovementSpec | None = None,
    recording: Recording = Recording(),
    spread: float = 0.3,
    jitter_px: float = 0.0,
    fitts_a_ms: float = 150.0,
    fitts_b_ms: float = 140.0,
    default_width_px: float = 100.0,
) -> pl.DataFrame:
    """Bezier-style movements for every row of ``geometry`` (samples schema; see :func:`bezier_path`).

    Time runs through the curve with the smoothstep easing ``3τ² − 2τ³``; ``jitter_px`` adds independent
    Gaussian noise to every moving sample (0: none).
    """
    rng = rng_from(seed)
    latency, moving, dwell = _timing(geometry, timing, fitts_a_ms, fitts_b_ms, default_width_px)
    start, end = _endpoints(geometry, timing)
    paths = [bezier_path(start[i], end[i], seed=rng, spread=spread) for i in range(start.shape[0])]
    frame = _sample_paths(geometry, paths, lambda tau: tau * tau * (3.0 - 2.0 * tau), latency, moving, dwell, rng=rng,
                          recording=recording, pixels=jitter_px <= 0)
    if jitter_px > 0:
        noise = rng.normal(0.0, jitter_px, (frame.height, 2))
        frame = frame.with_columns(x=(pl.col("x") + noise[:, 0]).round(0), y=(pl.col("y") + noise[:, 1]).round(0))
    return frame
