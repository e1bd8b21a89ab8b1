"""Simulated free-use desktop sessions: point-and-click, drags, scrolling, window focus, idle periods.

A session is a sequence of actions on a ``screen_px`` screen, laid out on one session clock
(``t_ms`` since session start, ``trial`` null):

* **click** (65 %): a pointing movement (:mod:`mouselab.synth.kinematics`) to a random target (a button or
  link, 16–200 × 16–60 px), a short dwell, then a click (5 % right clicks); after 15 % of clicks the focused
  application changes (``focus`` event with a coarse ``app`` category, never a window title);
* **drag** (12 %): a movement to an item, press, a second movement with the button held (samples
  ``event = "drag"``, ``buttons = 1``), release;
* **scroll** (23 %): a burst of 3–12 wheel steps 40–150 ms apart (``scroll`` samples and events,
  ``dy > 0`` = towards the end of the document as in DOM ``WheelEvent.deltaY``), sometimes after a short
  move to the content area;
* **idle** (1–2 per session): 15–60 s without any input and without samples, marked by ``idle_start`` /
  ``idle_end`` events carrying ``duration_ms``.

Between actions the cursor rests (0.3–2.5 s of reading or thinking). Like a desktop recorder hooked to
the OS, samples are event driven: a ``move`` sample is written only when the integer position changes
(the movement itself is polled at ``rate_hz``), plus one sample per button press, release and wheel step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from mouselab.synth.kinematics import SubmovementPlan, plan_submovements, render, rng_from, sample_times

__all__ = ["APP_CATEGORIES", "simulate_free_use"]

#: Coarse application categories written to ``events.app`` (never window titles).
APP_CATEGORIES = ("browser", "editor", "terminal", "email", "spreadsheet", "chat", "file_manager")

_BUTTON_BITS = {"left": 1, "right": 2}


def simulate_free_use(
    participants: Sequence[str],
    *,
    seed: int | np.random.Generator,
    study: str = "cogload",
    session: str = "free1",
    duration_s: tuple[float, float] = (180.0, 300.0),
    screen_px: tuple[int, int] = (1280, 800),
    rate_hz: float = 60.0,
) -> dict[str, pl.DataFrame]:
    """Simulate one free-use session per participant; returns ``{"samples": …, "events": …}``.

    Parameters
    ----------
    participants : pseudonymous participant ids, one session each.
    seed : int or numpy.random.Generator.
    study, session : identifiers written to every row (``trial`` is null).
    duration_s : (low, high) uniform range of the session length in seconds (idle periods included).
    screen_px : (width, height) of the screen in px; targets stay 10 px inside it.
    rate_hz : polling rate of the movement kernel (Hz).
    """
    rng = rng_from(seed)
    samples = [pl.DataFrame(schema={"t_ms": pl.Float64, "x": pl.Float64, "y": pl.Float64, "event": pl.String, "buttons": pl.UInt8})]
    events = [pl.DataFrame(schema=_EVENT_SCHEMA)]
    for participant in participants:
        s, e = _one_session(rng, duration_s=duration_s, screen_px=screen_px, rate_hz=rate_hz)
        samples.append(pl.DataFrame(s).with_columns(participant=pl.lit(participant)))
        events.append(pl.DataFrame(e, schema=_EVENT_SCHEMA).with_columns(participant=pl.lit(participant)))
    keys = [pl.lit(v, dtype=pl.String).alias(k) for k, v in (("study", study), ("session", session))]
    keys.append(pl.lit(None, dtype=pl.String).alias("trial"))
    return {
        "samples": pl.concat(samples, how="diagonal_relaxed").with_columns(keys),
        "events": pl.concat(events, how="diagonal_relaxed").with_columns(keys),
    }


_EVENT_SCHEMA = {
    "t_ms": pl.Float64, "kind": pl.String, "button": pl.String, "x": pl.Float64, "y": pl.Float64,
    "dx": pl.Float64, "dy": pl.Float64, "duration_ms": pl.Float64, "app": pl.String,
}


def _one_session(rng: np.random.Generator, *, duration_s, screen_px, rate_hz):
    width, height = screen_px
    total_ms = rng.uniform(*duration_s) * 1000.0
    speed = float(np.exp(rng.normal(0.0, 0.15)))  # this person's pace
    idle_at = sorted(rng.uniform(0.15, 0.85, size=int(rng.integers(1, 3))) * total_ms)

    def random_point(margin: float = 10.0) -> np.ndarray:
        return np.array([rng.uniform(margin, width - margin), rng.uniform(margin, height - margin)])

    pos = np.rint(random_point(40.0))
    app = str(rng.choice(APP_CATEGORIES))
    events: list[dict] = [_event(0.0, "focus", app=app)]
    extra: list[tuple[float, float, float, str, int]] = []  # (t, x, y, event, buttons) samples
    plans: list[SubmovementPlan] = []
    drag_flags: list[bool] = []
    t = _ms(rng.uniform(300.0, 1500.0))

    def move(to: np.ndarray, size: np.ndarray, onset: float, *, drag: bool) -> float:
        nonlocal pos
        plan = plan_submovements(
            pos[None, :], to[None, :], seed=rng, target_size_px=size, onset_ms=onset,
            speed=speed * float(np.exp(rng.normal(0.0, 0.1))),
        )
        plans.append(plan)
        drag_flags.append(drag)
        pos = plan.end_px[0]
        return float(plan.movement_end_ms[0])

    def click(at: float, button: str) -> float:
        xy = np.rint(pos)
        up = _ms(at + np.clip(rng.normal(100.0, 20.0), 50.0, 180.0))
        bits = _BUTTON_BITS[button]
        extra.extend([(at, xy[0], xy[1], "down", bits), (up, xy[0], xy[1], "up", 0)])
        events.extend([
            _event(at, "click_down", button=button, x=xy[0], y=xy[1]),
            _event(up, "click_up", button=button, x=xy[0], y=xy[1]),
        ])
        return up

    while t < total_ms:
        if idle_at and t >= idle_at[0]:
            idle_at.pop(0)
            gap = _ms(rng.uniform(15_000.0, 60_000.0))
            events.append(_event(t, "idle_start", duration_ms=gap))
            events.append(_event(t + gap, "idle_end", duration_ms=gap))
            t = _ms(t + gap + rng.uniform(50.0, 300.0))
            continue
        kind = rng.choice(3, p=[0.65, 0.12, 0.23])
        react = _ms(rng.uniform(150.0, 400.0))
        if kind == 0:  # point and click
            size = np.array([rng.uniform(16.0, 200.0), rng.uniform(16.0, 60.0)])
            end = move(random_point(10.0 + size.max() / 2), size, t + react, drag=False)
            button = "right" if rng.random() < 0.05 else "left"
            t = click(_ms(end + rng.uniform(40.0, 250.0)), button)
            if rng.random() < 0.15:
                app = str(rng.choice([a for a in APP_CATEGORIES if a != app]))
                xy = np.rint(pos)
                events.append(_event(t + 1.0, "focus", x=xy[0], y=xy[1], app=app))
        elif kind == 1:  # drag an item somewhere else
            end = move(random_point(40.0), np.array([48.0, 48.0]), t + react, drag=False)
            down = _ms(end + rng.uniform(60.0, 200.0))
            xy = np.rint(pos)
            extra.append((down, xy[0], xy[1], "down", 1))
            events.append(_event(down, "click_down", button="left", x=xy[0], y=xy[1]))
            end = move(random_point(40.0), np.array([80.0, 80.0]), _ms(down + rng.uniform(80.0, 200.0)), drag=True)
            up = _ms(end + rng.uniform(50.0, 150.0))
            xy = np.rint(pos)
            extra.append((up, xy[0], xy[1], "up", 0))
            events.append(_event(up, "click_up", button="left", x=xy[0], y=xy[1]))
            t = up
        else:  # scroll burst, sometimes after moving to the content area
            if rng.random() < 0.5:
                t = move(random_point(100.0), np.array([300.0, 200.0]), t + react, drag=False)
            direction = 1.0 if rng.random() < 0.8 else -1.0
            steps = int(rng.integers(3, 13))
            times = np.round(t + 100.0 + np.cumsum(rng.uniform(40.0, 150.0, size=steps)))
            xy = np.rint(pos)
            for ts in times:
                extra.append((float(ts), xy[0], xy[1], "scroll", 0))
                events.append(_event(float(ts), "scroll", x=xy[0], y=xy[1], dx=0.0, dy=direction))
            t = float(times[-1])
        t = _ms(t + rng.uniform(300.0, 2500.0))

    # Render every movement of the session on one polling clock, keep samples where the position changes.
    plan = SubmovementPlan.concat(plans)
    grid, _ = sample_times([t + 1000.0], seed=rng, rate_hz=rate_hz)
    grid = grid[0]
    lo = np.searchsorted(grid, plan.movement_onset_ms, side="left")
    hi = np.minimum(np.searchsorted(grid, plan.movement_end_ms, side="right"), grid.size - 1)  # one past the end
    width_l = int((hi - lo).max()) + 1
    idx = np.minimum(lo[:, None] + np.arange(width_l)[None, :], grid.size - 1)
    valid = np.arange(width_l)[None, :] <= (hi - lo)[:, None]
    x, y = render(plan, grid[idx], seed=rng)
    drag = np.broadcast_to(np.asarray(drag_flags)[:, None], idx.shape)
    mt, mx, my, md = grid[idx][valid], x[valid], y[valid], drag[valid]
    first = np.rint(plan.start_px[0])
    changed = (mx != np.concatenate([[first[0]], mx[:-1]])) | (my != np.concatenate([[first[1]], my[:-1]]))
    move_rows = {
        "t_ms": mt[changed],
        "x": mx[changed],
        "y": my[changed],
        "event": np.where(md[changed], "drag", "move"),
        "buttons": np.where(md[changed], 1, 0),
    }
    ex = list(zip(*extra)) if extra else [[], [], [], [], []]
    t_all = np.concatenate([move_rows["t_ms"], np.asarray(ex[0], float)])
    order = np.argsort(t_all, kind="stable")
    samples = {
        "t_ms": t_all[order],
        "x": np.concatenate([move_rows["x"], np.asarray(ex[1], float)])[order],
        "y": np.concatenate([move_rows["y"], np.asarray(ex[2], float)])[order],
        "event": np.concatenate([move_rows["event"], np.asarray(ex[3], dtype=object)])[order].astype(str),
        "buttons": np.concatenate([move_rows["buttons"], np.asarray(ex[4], int)])[order].astype(np.uint8),
    }
    if np.any(np.diff(samples["t_ms"]) <= 0):  # pragma: no cover - guarded by construction
        raise AssertionError("free-use timeline produced non-increasing timestamps")
    events.sort(key=lambda e: e["t_ms"])
    return samples, events


def _ms(value) -> float:
    """A time rounded to whole milliseconds, as desktop recorders log it."""
    return float(np.round(value))


def _event(t_ms, kind, *, button=None, x=None, y=None, dx=None, dy=None, duration_ms=None, app=None) -> dict:
    return {
        "t_ms": float(t_ms), "kind": kind, "button": button,
        "x": None if x is None else float(x), "y": None if y is None else float(y),
        "dx": dx, "dy": dy, "duration_ms": duration_ms, "app": app,
    }
