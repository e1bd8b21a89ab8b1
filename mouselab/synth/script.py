"""Interaction scripts: a UI layout and an ordered task in, a whole synthetic session out (pure, seeded).

A **layout** is a list of named target rectangles (:class:`Target`, px, origin top-left, y down). A
**task** is an ordered list of steps:

* :class:`Click` — point at a target and click it (``double=True``: two clicks);
* :class:`Drag` — point at a source target, press, move to a destination target with the button held,
  release;
* :class:`Scroll` — point at a target (e.g. a content area) and turn the wheel ``steps`` times;
* :class:`Idle` — no input for a while (``idle_start`` / ``idle_end`` events, no samples);
* :class:`Move` — point at a target without clicking (hovering).

Every movement is drawn from a movement population — a :class:`~mouselab.synth.movement.MovementParams`
or a :class:`~mouselab.synth.calibrate.Calibration` fitted to real data — for its own start, target
centre and target size, so movement times obey Fitts' law as calibrated, paths carry the calibrated
curvature, hesitations and noise, and every movement ends inside its target (the final position lies
within ``endpoint_margin`` of the target's half-size and is clamped inside after pixel rounding).
:func:`simulate_session` returns ``samples`` and ``events`` frames in the store schema (``trial`` null,
as for free-use sessions) and a ``script`` frame listing each step with its timing and Fitts geometry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from mouselab.schema import conform
from mouselab.synth.kinematics import rng_from
from mouselab.synth.movement import MovementParams, MovementSpec, fitts_id, generate_movements

__all__ = [
    "Click", "Drag", "Idle", "Move", "Scroll", "Target", "pointing_task", "session_movements", "simulate_session",
    "targets_from_rects",
]


@dataclass(frozen=True)
class Target:
    """A named screen rectangle: ``left``, ``top``, ``width``, ``height`` in px (origin top-left, y down)."""

    name: str
    left: float
    top: float
    width: float
    height: float

    @property
    def centre(self) -> np.ndarray:
        return np.array([self.left + self.width / 2.0, self.top + self.height / 2.0])

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x <= self.left + self.width and self.top <= y <= self.top + self.height


def targets_from_rects(rects: dict[str, tuple[float, float, float, float]]) -> list[Target]:
    """``{"ok": (left, top, width, height), …}`` → a layout (list of :class:`Target`)."""
    return [Target(name, *map(float, r)) for name, r in rects.items()]


@dataclass(frozen=True)
class Click:
    target: str
    button: str = "left"
    double: bool = False


@dataclass(frozen=True)
class Move:
    target: str


@dataclass(frozen=True)
class Drag:
    source: str
    target: str


@dataclass(frozen=True)
class Scroll:
    target: str
    steps: int = 5
    direction: int = 1  # +1: towards the end of the document (DOM WheelEvent deltaY > 0)


@dataclass(frozen=True)
class Idle:
    duration_ms: float


_BITS = {"left": 1, "right": 2, "middle": 4}


def _specs(source, start: np.ndarray, target: Target, rng: np.random.Generator, *, reaction_ms: float,
           endpoint_margin: float) -> tuple[pl.DataFrame, MovementSpec]:
    geometry = pl.DataFrame({"start_x": [float(start[0])], "start_y": [float(start[1])],
                             "aim_x": [float(target.centre[0])], "aim_y": [float(target.centre[1])],
                             "target_w": [target.width], "target_h": [target.height]})
    if isinstance(source, MovementParams):
        spec = source.specs(geometry, seed=rng)
    else:  # a Calibration: parametric draw from its fitted population
        spec = source.params.specs(geometry, seed=rng)
    lim = 1.0 - endpoint_margin
    spec = MovementSpec(**{
        **{k: np.asarray(v) for k, v in spec.__dict__.items()},
        "latency_ms": np.array([reaction_ms]),
        "dwell_ms": np.array([0.0]),
        "end_dx": np.clip(np.nan_to_num(spec.end_dx), -lim, lim),
        "end_dy": np.clip(np.nan_to_num(spec.end_dy), -lim, lim),
    })
    return geometry, spec


def simulate_session(
    layout: Sequence[Target],
    task: Sequence[Click | Move | Drag | Scroll | Idle],
    *,
    seed: int | np.random.Generator,
    movements=None,
    kernel: str = "lognormal",
    start_px: tuple[float, float] | None = None,
    reaction_ms: tuple[float, float] = (150.0, 400.0),
    dwell_ms: tuple[float, float] = (40.0, 250.0),
    click_ms: tuple[float, float] = (100.0, 20.0),
    endpoint_margin: float = 0.1,
    study: str = "synthetic",
    participant: str = "S01",
    session: str = "script1",
) -> dict[str, pl.DataFrame]:
    """Play ``task`` on ``layout`` and return ``{"samples", "events", "script"}`` (see the module docstring).

    Parameters
    ----------
    layout : the targets (names must be unique).
    task : ordered steps referring to targets by name.
    seed : int or numpy Generator.
    movements : :class:`~mouselab.synth.movement.MovementParams` (default: its defaults) or a
        :class:`~mouselab.synth.calibrate.Calibration`; its recording settings (rate, noise) are used too.
    kernel : ``"lognormal"`` or ``"minjerk"``.
    start_px : where the cursor rests at the start (default: the centre of the first target).
    reaction_ms, dwell_ms : uniform ranges of the pause before each movement and of the rest before a click.
    click_ms : mean and SD of a button press (clipped to 50–200 ms).
    endpoint_margin : final positions stay within ``1 − margin`` of each target's half-size.
    study, participant, session : identifiers written to every row.
    """
    rng = rng_from(seed)
    targets = {t.name: t for t in layout}
    if len(targets) != len(layout):
        raise ValueError("layout: target names must be unique")
    for step in task:
        for name in (getattr(step, "target", None), getattr(step, "source", None)):
            if name is not None and name not in targets:
                raise ValueError(f"task step {step!r} refers to unknown target {name!r}; layout has {', '.join(targets)}")
    source = movements if movements is not None else MovementParams()
    recording = source.recording
    period = 1000.0 / recording.rate_hz
    pos = np.asarray(start_px if start_px is not None else layout[0].centre, dtype=float)
    pos = np.rint(pos)
    t = 0.0
    samples: list[pl.DataFrame] = [pl.DataFrame({"t_ms": [0.0], "x": [pos[0]], "y": [pos[1]], "event": ["move"],
                                                 "buttons": pl.Series([0], dtype=pl.UInt8)})]
    events: list[dict] = []
    script: list[dict] = []

    def ms(v: float) -> float:
        return float(np.round(v))

    def move_to(target: Target, *, buttons: int, kind: str) -> tuple[float, float, float]:
        nonlocal pos, t
        reaction = float(rng.uniform(*reaction_ms))
        geometry, spec = _specs(source, pos, target, rng, reaction_ms=reaction, endpoint_margin=endpoint_margin)
        one = generate_movements(geometry, spec, seed=rng, kernel=kernel, recording=recording)
        tt = one["t_ms"].to_numpy() + t + period
        xs, ys = one["x"].to_numpy(), one["y"].to_numpy()
        # clamp the final resting position inside the target (pixel rounding may push it out by one pixel)
        lo = np.array([target.left, target.top]) + 1.0
        hi = np.array([target.left + target.width, target.top + target.height]) - 1.0
        end = np.clip(np.array([xs[-1], ys[-1]]), lo, np.maximum(lo, hi))
        settle = (np.abs(xs - xs[-1]) <= 0) & (np.abs(ys - ys[-1]) <= 0)
        xs = np.where(settle, end[0], xs)
        ys = np.where(settle, end[1], ys)
        samples.append(pl.DataFrame({"t_ms": np.round(tt), "x": xs, "y": ys, "event": kind,
                                     "buttons": pl.Series(np.full(tt.size, buttons), dtype=pl.UInt8)}))
        amp = float(np.hypot(*(target.centre - pos)))
        width = min(target.width, target.height)
        start_t = t
        pos = np.array([xs[-1], ys[-1]])
        t = float(np.round(tt[-1]))
        return start_t + period + reaction, amp, width

    def press(button: str) -> None:
        nonlocal t
        bits = _BITS[button]
        down = ms(t + rng.uniform(*dwell_ms))
        up = ms(down + np.clip(rng.normal(*click_ms), 50.0, 200.0))
        samples.append(pl.DataFrame({"t_ms": [down, up], "x": [pos[0]] * 2, "y": [pos[1]] * 2, "event": ["down", "up"],
                                     "buttons": pl.Series([bits, 0], dtype=pl.UInt8)}))
        events.extend([
            {"t_ms": down, "kind": "click_down", "button": button, "x": pos[0], "y": pos[1]},
            {"t_ms": up, "kind": "click_up", "button": button, "x": pos[0], "y": pos[1]},
        ])
        t = up

    for i, step in enumerate(task, start=1):
        t0 = t
        row = {"step": i, "kind": type(step).__name__.lower(), "target": getattr(step, "target", None),
               "t_start_ms": t0, "amplitude_px": None, "width_px": None, "id_bits": None, "movement_onset_ms": None,
               "end_x": None, "end_y": None, "inside": None, "t_move_end_ms": None, "target_x": None,
               "target_y": None, "target_w": None, "target_h": None}
        if isinstance(step, Idle):
            gap = ms(step.duration_ms)
            events.append({"t_ms": ms(t + 1), "kind": "idle_start", "duration_ms": gap})
            events.append({"t_ms": ms(t + 1 + gap), "kind": "idle_end", "duration_ms": gap})
            t = ms(t + 1 + gap)
        else:
            target = targets[step.source] if isinstance(step, Drag) else targets[step.target]
            onset, amp, width = move_to(target, buttons=0, kind="move")
            row.update(amplitude_px=amp, width_px=width, id_bits=float(fitts_id(amp, width)), movement_onset_ms=onset,
                       t_move_end_ms=t, target_x=float(target.centre[0]), target_y=float(target.centre[1]),
                       target_w=target.width, target_h=target.height)
            if isinstance(step, Click):
                press(step.button)
                if step.double:
                    press(step.button)
            elif isinstance(step, Drag):
                bits = _BITS["left"]
                down = ms(t + rng.uniform(*dwell_ms))
                samples.append(pl.DataFrame({"t_ms": [down], "x": [pos[0]], "y": [pos[1]], "event": ["down"],
                                             "buttons": pl.Series([bits], dtype=pl.UInt8)}))
                events.append({"t_ms": down, "kind": "click_down", "button": "left", "x": pos[0], "y": pos[1]})
                t = down
                dest = targets[step.target]
                move_to(dest, buttons=bits, kind="drag")
                up = ms(t + rng.uniform(*dwell_ms))
                samples.append(pl.DataFrame({"t_ms": [up], "x": [pos[0]], "y": [pos[1]], "event": ["up"],
                                             "buttons": pl.Series([0], dtype=pl.UInt8)}))
                events.append({"t_ms": up, "kind": "click_up", "button": "left", "x": pos[0], "y": pos[1]})
                t = up
                target = dest
            elif isinstance(step, Scroll):
                times = np.round(t + 100.0 + np.cumsum(rng.uniform(40.0, 150.0, size=max(int(step.steps), 1))))
                samples.append(pl.DataFrame({"t_ms": times, "x": pos[0], "y": pos[1], "event": "scroll",
                                             "buttons": pl.Series(np.zeros(times.size, dtype=np.uint8))}))
                events.extend({"t_ms": float(ts), "kind": "scroll", "x": pos[0], "y": pos[1], "dx": 0.0,
                               "dy": float(np.sign(step.direction) or 1.0)} for ts in times)
                t = float(times[-1])
            row.update(end_x=float(pos[0]), end_y=float(pos[1]), inside=targets[target.name].contains(*pos))
        row["t_end_ms"] = t
        script.append(row)
        t = ms(t + period)

    frame = pl.concat(samples, how="vertical_relaxed").sort("t_ms", maintain_order=True)
    frame = frame.unique(subset="t_ms", keep="last", maintain_order=True)  # one sample per timestamp
    keys = {"study": study, "participant": participant, "session": session}
    frame = frame.with_columns([pl.lit(v, dtype=pl.String).alias(k) for k, v in keys.items()],
                               trial=pl.lit(None, dtype=pl.String))
    ev = pl.DataFrame(events, schema={"t_ms": pl.Float64, "kind": pl.String, "button": pl.String, "x": pl.Float64,
                                      "y": pl.Float64, "dx": pl.Float64, "dy": pl.Float64, "duration_ms": pl.Float64})
    ev = ev.sort("t_ms", maintain_order=True).with_columns(
        [pl.lit(v, dtype=pl.String).alias(k) for k, v in keys.items()], trial=pl.lit(None, dtype=pl.String))
    return {
        "samples": conform(frame, "samples"),
        "events": conform(ev, "events"),
        "script": pl.DataFrame(script, schema_overrides={
            "amplitude_px": pl.Float64, "width_px": pl.Float64, "id_bits": pl.Float64, "movement_onset_ms": pl.Float64,
            "end_x": pl.Float64, "end_y": pl.Float64, "inside": pl.Boolean, "target": pl.String,
            "t_move_end_ms": pl.Float64, "target_x": pl.Float64, "target_y": pl.Float64, "target_w": pl.Float64,
            "target_h": pl.Float64}),
    }


def session_movements(session: dict[str, pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The pointing movements of a :func:`simulate_session` result as trials: ``(samples, trials)``.

    Each step that moves to a target becomes trial ``step001`` … (its samples from the step start to the
    end of its movement, times from 0); ``trials`` holds the target geometry, so
    :func:`~mouselab.synth.describe.describe_movements` and Fitts' law fits apply directly.
    """
    script = session["script"].filter(pl.col("t_move_end_ms").is_not_null())
    samples = session["samples"]
    parts, rows = [], []
    for r in script.iter_rows(named=True):
        seg = samples.filter((pl.col("t_ms") >= r["t_start_ms"]) & (pl.col("t_ms") <= r["t_move_end_ms"]))
        if seg.height < 2:
            continue
        trial = f"step{r['step']:03d}"
        parts.append(seg.with_columns(trial=pl.lit(trial), t_ms=pl.col("t_ms") - pl.col("t_ms").first()))
        rows.append({"study": seg["study"][0], "participant": seg["participant"][0], "session": seg["session"][0],
                     "trial": trial, "trial_index": r["step"], "target_x": r["target_x"], "target_y": r["target_y"],
                     "target_w": r["target_w"], "target_h": r["target_h"]})
    trials = pl.DataFrame(rows, schema_overrides={"trial_index": pl.Int32}) if rows else pl.DataFrame()
    return (pl.concat(parts) if parts else samples.clear()), trials


def pointing_task(*, seed: int | np.random.Generator, n_targets: int = 16, n_clicks: int = 200,
                  sizes_px: tuple[float, ...] = (16.0, 32.0, 64.0, 128.0), screen_px: tuple[int, int] = (1280, 800)
                  ) -> tuple[list[Target], list[Click]]:
    """A random pointing task: ``n_targets`` square targets of the given sizes on the screen and
    ``n_clicks`` clicks on randomly chosen targets (never the same one twice in a row)."""
    rng = rng_from(seed)
    layout = []
    for i in range(n_targets):
        w = float(rng.choice(sizes_px))
        layout.append(Target(f"t{i + 1:02d}", float(rng.uniform(10, screen_px[0] - w - 10)),
                             float(rng.uniform(10, screen_px[1] - w - 10)), w, w))
    order = [int(rng.integers(n_targets))]
    while len(order) < n_clicks:
        j = int(rng.integers(n_targets - 1))
        order.append(j if j < order[-1] else j + 1)
    return layout, [Click(layout[j].name) for j in order]
