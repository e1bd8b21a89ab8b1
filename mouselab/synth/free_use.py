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

Per-person style
----------------
Without ``styles`` every session is drawn from the one distribution above (only the overall pace differs
a little between sessions): nobody can be told apart, which is what the sample study has always done and
still does, byte for byte. Mouse dynamics is a behavioural biometric because people *do* differ
consistently — in speed, in how curved and how hesitant their movements are, in click timing, in how
much they drag and scroll and where on the screen they work (Ahmed & Traore 2007; Antal & Egyed-Zsigmond
2019 reach an AUC of 0.92 on Balabit's test sessions from sets of actions, and drag-drop actions carry the
most identity). With ``styles`` each participant moves with a :class:`PersonStyle`: a documented set of
parameters drawn once per person from a seeded :class:`StylePopulation`, then varied slightly from
session to session (:meth:`StylePopulation.for_session`). Trial-to-trial noise stays on top of the style,
so a single action says little about who made it; a few dozen say a lot. The styled sessions also clamp
the pointer to the screen as the operating system does (some movements are flung against a screen edge,
e.g. to reach a taskbar), number idle breaks in proportion to the session length, and add double clicks.

Where the magnitudes come from: Fitts' law for the mouse (MacKenzie 1992; throughputs of 3.7–4.9 bit/s
across studies, Soukoreff & MacKenzie 2004, i.e. slopes of roughly 200–270 ms/bit), an undershooting
primary submovement (Meyer et al. 1988), dragging slower than pointing (MacKenzie, Sellen & Buxton 1991).
Everything else — the size of the between-person spreads, the session-to-session drift, the click and
scroll habits and screen regions — is a *modelling choice* made to give plausible desktop behaviour; the
table :data:`STYLE_SPREADS` says which is which. Nothing was fitted to real people.

References
----------
Ahmed, A. A. E., & Traore, I. (2007). A new biometric technology based on mouse dynamics. *IEEE TDSC*, 4(3),
165–179.
Antal, M., & Egyed-Zsigmond, E. (2019). Intrusion detection using mouse dynamics. *IET Biometrics*, 8(5),
285–294.
MacKenzie, I. S. (1992). Fitts' law as a research and design tool in human-computer interaction. *HCI*, 7,
91–139.
MacKenzie, I. S., Sellen, A., & Buxton, W. (1991). A comparison of input devices in elemental pointing and
dragging tasks. *Proc. CHI '91*, 161–166.
Meyer, D. E., Abrams, R. A., Kornblum, S., Wright, C. E., & Smith, J. E. K. (1988). Optimality in human motor
performance. *Psychological Review*, 95(3), 340–370.
Soukoreff, R. W., & MacKenzie, I. S. (2004). Towards a standard for pointing device evaluation. *IJHCS*, 61(6),
751–789.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import NamedTuple

import numpy as np
import polars as pl

from mouselab.synth.kinematics import SubmovementPlan, plan_submovements, render, rng_from, sample_times

__all__ = ["APP_CATEGORIES", "STYLE_SPREADS", "PersonStyle", "Spread", "StylePopulation", "simulate_free_use"]

#: Coarse application categories written to ``events.app`` (never window titles).
APP_CATEGORIES = ("browser", "editor", "terminal", "email", "spreadsheet", "chat", "file_manager")

_BUTTON_BITS = {"left": 1, "right": 2}


# ----------------------------------------------------------------------------------------------- style
@dataclass(frozen=True)
class PersonStyle:
    """How one synthetic person uses the mouse (the defaults are the population's medians).

    Movement (passed to :func:`~mouselab.synth.kinematics.plan_submovements`):

    pace : movement-time multiplier (> 1 slower); peak speed scales with ``1 / pace``.
    fitts_a_ms, fitts_b_ms : Fitts' law intercept (ms) and slope (ms/bit) of every submovement leg.
    primary_gain : mean reach of the primary submovement (< 1 undershoot, > 1 overshoot).
    endpoint_sd : endpoint noise of a submovement along its direction, as a fraction of its amplitude
        (across: half of it); larger values mean more corrective submovements.
    bow : signed lateral bow of the path, as a fraction of the amplitude (positive: to the left of the
        direction of travel in screen coordinates); ``bow_sd`` its movement-to-movement SD and ``bow_at``
        where along the path it peaks (fraction of the way).
    blend : fraction of the first leg after which the second starts (lower: smoother, more overlapped).
    hesitation_rate, hesitation_ms : probability of stopping at the bow's via point, and the median stop.
    tremor : signal-dependent noise coefficient (velocity SD per unit speed; Harris & Wolpert 1998).
    drag_slowdown : movement-time multiplier of drags relative to pointing.

    Timing and habits:

    reaction_ms : median time from the end of the previous action to the next movement onset.
    pre_click_ms : median time between arriving on a target and pressing the button.
    click_dwell_ms : mean time the button is held in a click.
    double_click_share, right_click_share : share of clicks that are double / right clicks.
    think_ms : median rest between actions (reading, typing, thinking).
    p_drag, p_scroll : share of actions that are drags / scroll bursts (the rest are point-and-click).
    scroll_steps, scroll_interval_ms, scroll_down_share : mean wheel steps per burst, median time between
        steps, share of bursts towards the end of the document.
    hotspots : preferred screen regions, centres as (x, y) fractions of the screen; ``hotspot_sd`` their
        spread (fraction of the screen size) and ``hotspot_share`` the share of targets drawn from them.
    edge, edge_share : the screen edge this person flings the pointer against (``bottom``, ``top``,
        ``left``, ``right``: a taskbar, a menu) and the share of clicks that go there.
    breaks_per_hour : idle breaks per hour of session (12–180 s without input, at most a fifth of the session).
    """

    pace: float = 1.0
    fitts_a_ms: float = 100.0
    fitts_b_ms: float = 140.0
    primary_gain: float = 0.95
    endpoint_sd: float = 0.05
    bow: float = 0.0
    bow_sd: float = 0.04
    bow_at: float = 0.5
    blend: float = 0.6
    hesitation_rate: float = 0.08
    hesitation_ms: float = 180.0
    tremor: float = 0.03
    drag_slowdown: float = 1.25
    reaction_ms: float = 250.0
    pre_click_ms: float = 120.0
    click_dwell_ms: float = 100.0
    double_click_share: float = 0.08
    right_click_share: float = 0.05
    think_ms: float = 900.0
    p_drag: float = 0.12
    p_scroll: float = 0.23
    scroll_steps: float = 6.0
    scroll_interval_ms: float = 90.0
    scroll_down_share: float = 0.8
    hotspots: tuple[tuple[float, float], ...] = ()
    hotspot_sd: float = 0.08
    hotspot_share: float = 0.0
    edge: str = "bottom"
    edge_share: float = 0.03
    breaks_per_hour: float = 12.0

    def __post_init__(self) -> None:
        if self.edge not in _EDGES:
            raise ValueError(f"edge must be one of {', '.join(_EDGES)}, got {self.edge!r}")
        if self.p_drag + self.p_scroll > 0.9 or min(self.p_drag, self.p_scroll) < 0:
            raise ValueError("p_drag and p_scroll must be >= 0 and leave at least 10 % point-and-click actions")
        if self.pace <= 0 or self.fitts_b_ms <= 0:
            raise ValueError("pace and fitts_b_ms must be > 0")

    def replace(self, **changes) -> "PersonStyle":
        return replace(self, **changes)


_EDGES = ("bottom", "top", "left", "right")


class Spread(NamedTuple):
    """Population law of one :class:`PersonStyle` field.

    ``law``: ``"log"`` (median × exp(sd·z)), ``"normal"`` (median + sd·z) or ``"logit"`` (on the log-odds
    scale, for shares); clipped to ``[lo, hi]``. ``source`` says where the magnitude comes from.
    """

    law: str
    median: float
    sd: float
    lo: float
    hi: float
    source: str


#: Between-person laws of the numeric style fields. ``sd`` is the between-person spread; a person's
#: sessions vary around their own value with ``StylePopulation.session_drift × sd`` on the same scale.
#: ``source`` says where the median comes from; the spreads are modelling choices throughout.
STYLE_SPREADS: dict[str, Spread] = {
    "pace": Spread("log", 1.0, 0.22, 0.55, 1.9, "modelling choice: ±22 % movement time between people"),
    "fitts_a_ms": Spread("log", 100.0, 0.25, 40.0, 250.0,
                         "modelling choice: per-leg intercept (Fitts intercepts vary widely across studies, "
                         "MacKenzie 1992)"),
    "fitts_b_ms": Spread("log", 140.0, 0.18, 80.0, 260.0,
                         "per leg; whole movements of the median person follow ~210–255 ms/bit (measured on this "
                         "generator for 20–80 px targets), the 200–270 ms/bit that mouse throughputs of 3.7–4.9 "
                         "bit/s imply (Soukoreff & MacKenzie 2004); the spread is a modelling choice"),
    "primary_gain": Spread("normal", 0.95, 0.03, 0.85, 1.06, "Meyer et al. 1988 (the primary submovement "
                           "undershoots); some people overshoot"),
    "endpoint_sd": Spread("log", 0.05, 0.3, 0.02, 0.12, "modelling choice (Meyer et al. 1988: noise ∝ amplitude)"),
    "bow": Spread("normal", 0.0, 0.07, -0.2, 0.2, "modelling choice: consistent curvature per person"),
    "bow_sd": Spread("log", 0.04, 0.3, 0.01, 0.1, "modelling choice"),
    "bow_at": Spread("normal", 0.5, 0.07, 0.3, 0.7, "modelling choice"),
    "blend": Spread("normal", 0.6, 0.08, 0.4, 0.85, "modelling choice"),
    "hesitation_rate": Spread("logit", 0.08, 0.6, 0.01, 0.35, "modelling choice"),
    "hesitation_ms": Spread("log", 180.0, 0.3, 100.0, 600.0, "modelling choice"),
    "tremor": Spread("log", 0.03, 0.35, 0.01, 0.09, "modelling choice (Harris & Wolpert 1998 noise model)"),
    "drag_slowdown": Spread("log", 1.25, 0.12, 1.0, 1.8, "MacKenzie, Sellen & Buxton 1991 (dragging is slower)"),
    "reaction_ms": Spread("log", 250.0, 0.25, 120.0, 600.0, "modelling choice"),
    "pre_click_ms": Spread("log", 120.0, 0.35, 40.0, 400.0, "modelling choice"),
    "click_dwell_ms": Spread("log", 100.0, 0.2, 55.0, 220.0, "modelling choice"),
    "double_click_share": Spread("logit", 0.08, 0.6, 0.0, 0.35, "modelling choice"),
    "right_click_share": Spread("logit", 0.05, 0.5, 0.0, 0.2, "modelling choice"),
    "think_ms": Spread("log", 900.0, 0.4, 300.0, 4000.0, "modelling choice"),
    "p_drag": Spread("logit", 0.12, 0.5, 0.02, 0.35, "modelling choice (Antal & Egyed-Zsigmond 2019: DD is the "
                     "rarest action type and the most telling)"),
    "p_scroll": Spread("logit", 0.23, 0.5, 0.03, 0.45, "modelling choice"),
    "scroll_steps": Spread("log", 6.0, 0.35, 2.0, 20.0, "modelling choice"),
    "scroll_interval_ms": Spread("log", 90.0, 0.3, 40.0, 250.0, "modelling choice"),
    "scroll_down_share": Spread("logit", 0.8, 0.5, 0.5, 0.97, "modelling choice"),
    "hotspot_sd": Spread("log", 0.08, 0.25, 0.04, 0.15, "modelling choice"),
    "hotspot_share": Spread("logit", 0.5, 0.7, 0.1, 0.85, "modelling choice"),
    "edge_share": Spread("logit", 0.03, 0.6, 0.0, 0.12, "modelling choice"),
    "breaks_per_hour": Spread("log", 12.0, 0.4, 3.0, 40.0, "modelling choice"),
}


def _spread_draw(spread: Spread, centre: float, scale: float, z: float) -> float:
    sd = spread.sd * scale
    if spread.law == "log":
        value = centre * np.exp(sd * z)
    elif spread.law == "logit":
        c = min(max(centre, 1e-6), 1 - 1e-6)
        value = 1.0 / (1.0 + np.exp(-(np.log(c / (1 - c)) + sd * z)))
    else:
        value = centre + sd * z
    return float(np.clip(value, spread.lo, spread.hi))


@dataclass(frozen=True)
class StylePopulation:
    """A seeded population of :class:`PersonStyle`\\ s.

    spreads : between-person law of each numeric field (default :data:`STYLE_SPREADS`).
    session_drift : within-person session-to-session SD as a fraction of the between-person SD (0.3: a
        person's sessions differ about a third as much as people do — a modelling choice; test–retest
        reliabilities of pointing performance are high, which needs a ratio well below 1).
    hotspots : (low, high) number of preferred screen regions per person, inclusive.
    edge_weights : probabilities of the preferred edge (bottom, top, left, right).
    """

    spreads: Mapping[str, Spread] | None = None
    session_drift: float = 0.25
    hotspots: tuple[int, int] = (2, 4)
    edge_weights: tuple[float, float, float, float] = (0.55, 0.3, 0.075, 0.075)

    def _spreads(self) -> Mapping[str, Spread]:
        spreads = STYLE_SPREADS if self.spreads is None else self.spreads
        known = {f.name for f in fields(PersonStyle)}
        unknown = sorted(set(spreads) - known)
        if unknown:
            raise ValueError(f"spreads for unknown style field(s) {', '.join(unknown)}; fields: {', '.join(sorted(known))}")
        return spreads

    def draw(self, participants: Sequence[str], *, seed: int | np.random.Generator) -> dict[str, PersonStyle]:
        """One style per participant, in order (the same seed and ids give the same styles)."""
        rng = rng_from(seed)
        spreads = self._spreads()
        out = {}
        for participant in participants:
            values = {name: _spread_draw(s, s.median, 1.0, rng.standard_normal()) for name, s in spreads.items()}
            if values.get("p_drag", 0.0) + values.get("p_scroll", 0.0) > 0.8:
                scale = 0.8 / (values["p_drag"] + values["p_scroll"])
                values["p_drag"] *= scale
                values["p_scroll"] *= scale
            k = int(rng.integers(self.hotspots[0], self.hotspots[1] + 1))
            spots = tuple((float(x), float(y)) for x, y in rng.uniform(0.1, 0.9, size=(k, 2)))
            edge = _EDGES[int(rng.choice(len(_EDGES), p=np.asarray(self.edge_weights) / sum(self.edge_weights)))]
            out[participant] = PersonStyle(**values, hotspots=spots, edge=edge)
        return out

    def for_session(self, style: PersonStyle, *, seed: int | np.random.Generator) -> PersonStyle:
        """``style`` as it shows in one session: each numeric field drifts by ``session_drift`` × its
        between-person SD; hotspots move by a few % of the screen; the preferred edge stays."""
        rng = rng_from(seed)
        changes = {}
        for name, s in self._spreads().items():
            changes[name] = _spread_draw(s, getattr(style, name), self.session_drift, rng.standard_normal())
        if changes.get("p_drag", 0.0) + changes.get("p_scroll", 0.0) > 0.8:
            scale = 0.8 / (changes["p_drag"] + changes["p_scroll"])
            changes["p_drag"] *= scale
            changes["p_scroll"] *= scale
        spots = np.asarray(style.hotspots, dtype=float).reshape(-1, 2)
        spots = np.clip(spots + rng.normal(0.0, 0.1 * self.session_drift, spots.shape), 0.05, 0.95)
        changes["hotspots"] = tuple((float(x), float(y)) for x, y in spots)
        return replace(style, **changes)


def simulate_free_use(
    participants: Sequence[str],
    *,
    seed: int | np.random.Generator,
    study: str = "cogload",
    session: str = "free1",
    duration_s: tuple[float, float] = (180.0, 300.0),
    screen_px: tuple[int, int] = (1280, 800),
    rate_hz: float = 60.0,
    styles: Mapping[str, PersonStyle] | None = None,
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
    styles : participant id → :class:`PersonStyle` (e.g. from :meth:`StylePopulation.draw`, drifted per
        session with :meth:`StylePopulation.for_session`). ``None`` (default): every session is drawn from
        the one style-free distribution of the module docstring, exactly as before styles existed.
    """
    rng = rng_from(seed)
    if styles is not None:
        missing = [p for p in participants if p not in styles]
        if missing:
            raise ValueError(f"styles has no PersonStyle for participant(s) {', '.join(map(str, missing[:5]))}")
    samples = [pl.DataFrame(schema={"t_ms": pl.Float64, "x": pl.Float64, "y": pl.Float64, "event": pl.String, "buttons": pl.UInt8})]
    events = [pl.DataFrame(schema=_EVENT_SCHEMA)]
    for participant in participants:
        if styles is None:
            s, e = _one_session(rng, duration_s=duration_s, screen_px=screen_px, rate_hz=rate_hz)
        else:
            s, e = _styled_session(rng, styles[participant], duration_s=duration_s, screen_px=screen_px,
                                   rate_hz=rate_hz)
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
            _left_button(extra, events, down, pos, pressed=True)
            end = move(random_point(40.0), np.array([80.0, 80.0]), _ms(down + rng.uniform(80.0, 200.0)), drag=True)
            up = _ms(end + rng.uniform(50.0, 150.0))
            _left_button(extra, events, up, pos, pressed=False)
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

    samples = _timeline(rng, plans, drag_flags, extra, end_ms=t + 1000.0, rate_hz=rate_hz)
    events.sort(key=lambda e: e["t_ms"])
    return samples, events


def _styled_session(rng: np.random.Generator, style: PersonStyle, *, duration_s, screen_px, rate_hz):
    """One session of a person with ``style`` (see :class:`PersonStyle`); same output as :func:`_one_session`."""
    width, height = screen_px
    size_px = np.array([width, height], dtype=float)
    limit = size_px - 1.0
    period = 1000.0 / rate_hz
    min_gap = max(40.0, 1.5 * period)  # keeps presses, releases and wheel steps off the movement samples
    total_ms = rng.uniform(*duration_s) * 1000.0
    n_idle = int(rng.poisson(style.breaks_per_hour * total_ms / 3_600_000.0))
    idle_at = sorted(rng.uniform(0.1, 0.9, size=n_idle) * total_ms)
    spots = np.asarray(style.hotspots, dtype=float).reshape(-1, 2)

    def lognormal(median: float, sd_log: float, lo: float, hi: float) -> float:
        return float(np.clip(median * np.exp(rng.normal(0.0, sd_log)), lo, hi))

    def target(margin: float) -> np.ndarray:
        if spots.shape[0] and rng.random() < style.hotspot_share:
            centre = spots[rng.integers(spots.shape[0])] * size_px
            point = centre + rng.normal(0.0, style.hotspot_sd, 2) * size_px
        else:
            point = rng.uniform(0.0, 1.0, 2) * size_px
        return np.clip(point, margin, size_px - margin)

    def edge_target() -> tuple[np.ndarray, np.ndarray]:
        """A point beyond the preferred edge: the pointer stops at the edge (a taskbar, a menu bar)."""
        beyond = rng.uniform(20.0, 120.0)
        along = rng.uniform(0.05, 0.95)
        point = {"bottom": (along * width, limit[1] + beyond), "top": (along * width, -beyond),
                 "left": (-beyond, along * height), "right": (limit[0] + beyond, along * height)}[style.edge]
        return np.array(point), np.array([200.0, 200.0])

    pos = np.rint(target(40.0))
    app = str(rng.choice(APP_CATEGORIES))
    events: list[dict] = [_event(0.0, "focus", app=app)]
    extra: list[tuple[float, float, float, str, int]] = []
    plans: list[SubmovementPlan] = []
    drag_flags: list[bool] = []
    t = _ms(rng.uniform(300.0, 1500.0))

    def move(to: np.ndarray, size: np.ndarray, onset: float, *, drag: bool) -> float:
        nonlocal pos
        chord = to - pos
        amp = float(np.hypot(*chord))
        via = np.full((1, 1, 2), np.nan)
        pause = np.zeros((1, 1))
        bow = style.bow + style.bow_sd * rng.standard_normal()
        stop = rng.random() < style.hesitation_rate
        pause_ms = lognormal(style.hesitation_ms, 0.35, 60.0, 1500.0)
        if amp > 30.0:
            normal = np.array([chord[1], -chord[0]]) / amp  # to the left of travel, y down
            via[0, 0] = pos + style.bow_at * chord + bow * amp * normal
            pause[0, 0] = pause_ms if stop else 0.0
        pace = style.pace * float(np.exp(rng.normal(0.0, 0.12))) * (style.drag_slowdown if drag else 1.0)
        plan = plan_submovements(
            pos[None, :], to[None, :], seed=rng, target_size_px=size, onset_ms=onset, via_px=via, pause_ms=pause,
            blend=style.blend, speed=pace, fitts_a_ms=style.fitts_a_ms, fitts_b_ms=style.fitts_b_ms,
            primary_gain=style.primary_gain, endpoint_sd_along=style.endpoint_sd,
            endpoint_sd_across=style.endpoint_sd / 2.0,
        )
        plans.append(plan)
        drag_flags.append(drag)
        pos = np.clip(plan.end_px[0], 0.0, limit)
        return float(plan.movement_end_ms[0])

    def click(at: float, button: str) -> float:
        xy = np.rint(pos)
        bits = _BUTTON_BITS[button]
        presses = 2 if button == "left" and rng.random() < style.double_click_share else 1
        for k in range(presses):
            dwell = float(np.clip(rng.normal(style.click_dwell_ms, 0.15 * style.click_dwell_ms), min_gap, 400.0))
            up = _ms(at + dwell)
            extra.extend([(at, xy[0], xy[1], "down", bits), (up, xy[0], xy[1], "up", 0)])
            events.extend([
                _event(at, "click_down", button=button, x=xy[0], y=xy[1]),
                _event(up, "click_up", button=button, x=xy[0], y=xy[1]),
            ])
            if k + 1 < presses:
                at = _ms(up + lognormal(110.0, 0.25, min_gap, 300.0))
        return up

    p_kind = np.array([1.0 - style.p_drag - style.p_scroll, style.p_drag, style.p_scroll])
    while t < total_ms:
        if idle_at and t >= idle_at[0]:
            idle_at.pop(0)
            gap = _ms(lognormal(30_000.0, 0.5, 12_000.0, max(12_000.0, min(180_000.0, 0.2 * total_ms))))
            events.append(_event(t, "idle_start", duration_ms=gap))
            events.append(_event(t + gap, "idle_end", duration_ms=gap))
            t = _ms(t + gap + rng.uniform(50.0, 300.0))
            continue
        kind = rng.choice(3, p=p_kind)
        react = _ms(lognormal(style.reaction_ms, 0.3, 80.0, 1500.0))
        if kind == 0:  # point and click
            if rng.random() < style.edge_share:
                to, size = edge_target()
            else:
                size = np.array([rng.uniform(16.0, 200.0), rng.uniform(16.0, 60.0)])
                to = target(10.0 + size.max() / 2)
            end = move(to, size, t + react, drag=False)
            button = "right" if rng.random() < style.right_click_share else "left"
            t = click(_ms(end + lognormal(style.pre_click_ms, 0.35, min_gap, 1000.0)), button)
            if rng.random() < 0.15:
                app = str(rng.choice([a for a in APP_CATEGORIES if a != app]))
                xy = np.rint(pos)
                events.append(_event(t + 1.0, "focus", x=xy[0], y=xy[1], app=app))
        elif kind == 1:  # drag an item somewhere else
            end = move(target(40.0), np.array([48.0, 48.0]), t + react, drag=False)
            down = _ms(end + lognormal(style.pre_click_ms, 0.35, min_gap, 1000.0))
            _left_button(extra, events, down, pos, pressed=True)
            end = move(target(40.0), np.array([80.0, 80.0]), _ms(down + lognormal(130.0, 0.3, 2 * min_gap, 600.0)),
                       drag=True)
            up = _ms(end + lognormal(90.0, 0.3, min_gap, 400.0))
            _left_button(extra, events, up, pos, pressed=False)
            t = up
        else:  # scroll burst, sometimes after moving to the content area
            if rng.random() < 0.5:
                t = move(target(100.0), np.array([300.0, 200.0]), t + react, drag=False)
            direction = 1.0 if rng.random() < style.scroll_down_share else -1.0
            steps = 1 + int(rng.poisson(max(style.scroll_steps - 1.0, 0.0)))
            gaps = np.clip(style.scroll_interval_ms * np.exp(rng.normal(0.0, 0.3, size=steps)), 20.0, 1000.0)
            gaps[0] = max(gaps[0], min_gap)
            times = np.round(t + 60.0 + np.cumsum(gaps))
            xy = np.rint(pos)
            for ts in times:
                extra.append((float(ts), xy[0], xy[1], "scroll", 0))
                events.append(_event(float(ts), "scroll", x=xy[0], y=xy[1], dx=0.0, dy=direction))
            t = float(times[-1])
        t = _ms(t + lognormal(style.think_ms, 0.6, 150.0, 15_000.0))

    samples = _timeline(rng, plans, drag_flags, extra, end_ms=t + 1000.0, rate_hz=rate_hz,
                        noise={"sdn_coef": style.tremor}, clamp_px=(width, height))
    events.sort(key=lambda e: e["t_ms"])
    return samples, events


def _timeline(rng: np.random.Generator, plans: list[SubmovementPlan], drag_flags: list[bool], extra: list[tuple],
              *, end_ms: float, rate_hz: float, noise: dict | None = None,
              clamp_px: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """Render every movement of a session on one polling clock and keep samples where the position changes.

    ``extra`` holds ``(t, x, y, event, buttons)`` samples (presses, releases, wheel steps) merged in by time.
    ``noise`` is passed to :func:`~mouselab.synth.kinematics.render`; ``clamp_px`` (width, height) clamps
    positions to the screen as the operating system does (the pointer stops at the edge).
    """
    move_rows = {"t_ms": np.empty(0), "x": np.empty(0), "y": np.empty(0), "event": np.empty(0, dtype=object),
                 "buttons": np.empty(0, dtype=int)}
    grid, _ = sample_times([end_ms], seed=rng, rate_hz=rate_hz)
    if plans:
        plan = SubmovementPlan.concat(plans)
        grid = grid[0]
        lo = np.searchsorted(grid, plan.movement_onset_ms, side="left")
        hi = np.minimum(np.searchsorted(grid, plan.movement_end_ms, side="right"), grid.size - 1)  # one past the end
        width_l = int((hi - lo).max()) + 1
        idx = np.minimum(lo[:, None] + np.arange(width_l)[None, :], grid.size - 1)
        valid = np.arange(width_l)[None, :] <= (hi - lo)[:, None]
        x, y = render(plan, grid[idx], seed=rng, **(noise or {}))
        first = np.rint(plan.start_px[0])
        if clamp_px is not None:
            x, y = np.clip(x, 0, clamp_px[0] - 1), np.clip(y, 0, clamp_px[1] - 1)
            first = np.clip(first, 0, np.asarray(clamp_px) - 1)
        drag = np.broadcast_to(np.asarray(drag_flags)[:, None], idx.shape)
        mt, mx, my, md = grid[idx][valid], x[valid], y[valid], drag[valid]
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
    return samples


def _left_button(extra: list[tuple], events: list[dict], t_ms: float, pos: np.ndarray, *, pressed: bool) -> None:
    """Record a left-button press or release at ``t_ms`` where the pointer is: a sample row and an event."""
    xy = np.rint(pos)
    extra.append((t_ms, xy[0], xy[1], "down" if pressed else "up", 1 if pressed else 0))
    events.append(_event(t_ms, "click_down" if pressed else "click_up", button="left", x=xy[0], y=xy[1]))


def _ms(value) -> float:
    """A time rounded to whole milliseconds, as desktop recorders log it."""
    return float(np.round(value))


def _event(t_ms, kind, *, button=None, x=None, y=None, dx=None, dy=None, duration_ms=None, app=None) -> dict:
    return {
        "t_ms": float(t_ms), "kind": kind, "button": button,
        "x": None if x is None else float(x), "y": None if y is None else float(y),
        "dx": dx, "dy": dy, "duration_ms": duration_ms, "app": app,
    }
