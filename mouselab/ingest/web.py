"""Reader for the JSON lines written by the browser snippet ``mouselab/capture/web/mouselab-capture.js``.

One JSON object per line, numbered by ``n`` (the order in which the page recorded them; lines may arrive out
of order or twice when they were POSTed, so the reader sorts by ``n`` and drops exact repeats):

``session`` (n = 0)
    ``format: "mouselab-web"``, ``version: 1``, ``study``, ``participant``, ``session``, ``dpr``, ``viewport``.
``sample``
    ``t`` (ms since capture start, page clock), ``x``, ``y`` (viewport CSS px, origin top-left, y down),
    ``event`` (move / drag / down / up / scroll), ``buttons`` (bitmask), ``trial`` (id or null).
``event``
    ``t``, ``kind`` (click_down / click_up / scroll / focus / idle_start / idle_end / marker), ``trial`` and,
    depending on the kind, ``button``, ``x``, ``y``, ``dx``, ``dy``, ``delta_mode``, ``duration_ms``, ``app``.
``trial_start`` / ``trial_end``
    ``trial``, ``index``, ``t``, ``condition``, ``stimulus``, ``targets`` (name → {x, y, width, height} of the
    elements marked ``data-mouselab-target``); ``response``, ``correct``.

Mapping to the contract: ``t_ms`` is time since the trial start for rows inside a trial, else since the
capture start. Coordinates stay in CSS px of the viewport (multiply by ``dpr`` for device px). Wheel deltas
become wheel steps: 100 px (``delta_mode`` 0), 3 lines (1) or 1 page (2) per step — browsers differ in px per
notch, so treat them as approximate. The trials table gets ``start_x/y`` from the target named ``start`` and
``target_*`` from the target named by the response; every declared target's centre and size are kept as
extra columns ``box_<name>_x``, ``box_<name>_y``, ``box_<name>_w``, ``box_<name>_h``.

Rows get the ``study`` option (``mouselab ingest --study``), as with every format; the session record's own
``study`` is informational. Participant and session come from the session record.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import polars as pl

from mouselab.ingest.errors import IngestError
from mouselab.schema import EVENT_KINDS, SAMPLE_EVENTS

FORMAT = "mouselab-web"
VERSION = 1
#: CSS px per wheel step for WheelEvent.deltaMode 0, lines per step for deltaMode 1, pages for 2.
STEP_DIVISOR = {0: 100.0, 1: 3.0, 2: 1.0}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TYPES = ("session", "sample", "event", "trial_start", "trial_end")


def read_web_jsonl(path: Path, *, study: str = "study", duplicates: str = "error") -> dict[str, pl.DataFrame]:
    """Read one browser session (``.jsonl``) into ``samples``, ``events``, ``trials`` and ``participants``.

    Raises :class:`~mouselab.ingest.errors.IngestError` naming file, line and field on invalid JSON, a missing
    or wrong session record, unknown record types or kinds, non-finite numbers, samples whose time does not
    increase within a trial (``duplicates="remove_first"`` keeps the last of equal times) and trials that
    are referenced before they start.
    """
    path = Path(path)
    records = _load(path)
    line0, header = records[0]
    if header.get("type") != "session":
        raise IngestError(path, "the first record (n = 0) must be the session record {\"type\": \"session\", …}",
                          line=line0, column="type")
    if header.get("format") != FORMAT:
        raise IngestError(path, f"format is {header.get('format')!r}; expected {FORMAT!r}", line=line0, column="format")
    if header.get("version") != VERSION:
        raise IngestError(path, f"version {header.get('version')!r} is not supported (this reader reads {VERSION})",
                          line=line0, column="version")
    study_id = study
    participant = _id(path, line0, "participant", header.get("participant"))
    session = _id(path, line0, "session", header.get("session"))

    trials: dict[str, dict] = {}
    samples: list[tuple] = []  # (line, trial, t_ms, x, y, event, buttons)
    events: list[dict] = []
    for line, rec in records[1:]:
        kind = rec.get("type")
        if kind == "session":
            raise IngestError(path, "a second session record; one file holds one session (split the file)",
                              line=line, column="type")
        if kind == "trial_start":
            trial = _text(path, line, rec, "trial")
            if trial in trials:
                raise IngestError(path, f"trial {trial!r} starts twice", line=line, column="trial")
            trials[trial] = {
                "line": line, "t": _num(path, line, rec, "t"), "index": _int(path, line, rec, "index"),
                "condition": _opt_text(path, line, rec, "condition"), "stimulus": _opt_text(path, line, rec, "stimulus"),
                "targets": _targets(path, line, rec.get("targets")), "response": None, "correct": None,
            }
        elif kind == "trial_end":
            trial = _text(path, line, rec, "trial")
            if trial not in trials:
                raise IngestError(path, f"trial {trial!r} ends but never started", line=line, column="trial")
            trials[trial]["response"] = _opt_text(path, line, rec, "response")
            correct = rec.get("correct")
            if correct is not None and not isinstance(correct, bool):
                raise IngestError(path, f"has {correct!r}; expected true, false or null", line=line, column="correct")
            trials[trial]["correct"] = correct
        elif kind == "sample":
            trial = _trial_of(path, line, rec, trials)
            event = rec.get("event")
            if event not in SAMPLE_EVENTS:
                raise IngestError(path, f"has {event!r}; expected one of {', '.join(SAMPLE_EVENTS)}", line=line, column="event")
            buttons = rec.get("buttons", 0)
            if not isinstance(buttons, int) or isinstance(buttons, bool) or not 0 <= buttons <= 255:
                raise IngestError(path, f"has {buttons!r}; expected a button bitmask 0..255", line=line, column="buttons")
            t = _num(path, line, rec, "t") - (trials[trial]["t"] if trial is not None else 0.0)
            samples.append((line, trial, t, _num(path, line, rec, "x"), _num(path, line, rec, "y"), event, buttons))
        elif kind == "event":
            events.append(_event(path, line, rec, trials))
        else:
            raise IngestError(path, f"unknown record type {kind!r}; expected one of {', '.join(_TYPES)}",
                              line=line, column="type")

    samples = _check_order(path, samples, duplicates)
    keys = {"study": study_id, "participant": participant, "session": session}
    sample_frame = pl.DataFrame(
        {
            "trial": [s[1] for s in samples], "t_ms": [s[2] for s in samples], "x": [s[3] for s in samples],
            "y": [s[4] for s in samples], "event": [s[5] for s in samples], "buttons": [s[6] for s in samples],
        },
        schema={"trial": pl.String, "t_ms": pl.Float64, "x": pl.Float64, "y": pl.Float64, "event": pl.String, "buttons": pl.UInt8},
    ).with_columns(*(pl.lit(v).alias(k) for k, v in keys.items()))
    event_schema = {
        "trial": pl.String, "t_ms": pl.Float64, "kind": pl.String, "button": pl.String, "x": pl.Float64,
        "y": pl.Float64, "dx": pl.Float64, "dy": pl.Float64, "duration_ms": pl.Float64, "app": pl.String,
    }
    event_frame = (
        pl.DataFrame({k: [e[k] for e in events] for k in event_schema}, schema=event_schema)
        .with_columns(*(pl.lit(v).alias(k) for k, v in keys.items()))
        .sort("t_ms", maintain_order=True)
    )
    out = {
        "samples": sample_frame,
        "events": event_frame,
        "participants": pl.DataFrame({"study": [study_id], "participant": [participant]}),
    }
    if trials:
        out["trials"] = _trial_frame(trials, keys)
    return out


# ------------------------------------------------------------------------------------------------ helpers
def _load(path: Path) -> list[tuple[int, dict]]:
    if not path.exists():
        raise IngestError(path, "file not found")
    if path.stat().st_size == 0:
        raise IngestError(path, "file is empty; expected JSON lines starting with the session record")
    by_n: dict[int, tuple[int, dict, bytes]] = {}
    with open(path, "rb") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise IngestError(path, f"not valid JSON ({exc.msg} at character {exc.colno})", line=line) from None
            except UnicodeDecodeError:
                raise IngestError(path, "not UTF-8 text", line=line) from None
            if not isinstance(rec, dict):
                raise IngestError(path, "expected a JSON object per line", line=line)
            n = rec.get("n")
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise IngestError(path, f"has {n!r}; expected the record number (integer >= 0)", line=line, column="n")
            canonical = json.dumps(rec, sort_keys=True).encode()
            if n in by_n:
                first_line, _, first = by_n[n]
                if first != canonical:
                    raise IngestError(path, f"record n = {n} appears again with different content (first at line "
                                      f"{first_line})", line=line, column="n")
                continue  # delivered twice (a retried POST): identical, keep one
            by_n[n] = (line, rec, canonical)
    if not by_n:
        raise IngestError(path, "no records; expected JSON lines starting with the session record")
    if 0 not in by_n:
        raise IngestError(path, "the session record (n = 0) is missing; was the first chunk lost?")
    return [(line, rec) for _, (line, rec, _) in sorted(by_n.items())]


def _id(path: Path, line: int, field: str, value) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise IngestError(path, f"has {value!r}; expected an id of letters, digits, '.', '_' or '-'", line=line, column=field)
    return value


def _num(path: Path, line: int, rec: dict, field: str) -> float:
    value = rec.get(field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        what = "is missing" if value is None else f"has {value!r}"
        raise IngestError(path, f"{what}; expected a finite number", line=line, column=field)
    return float(value)


def _opt_num(path: Path, line: int, rec: dict, field: str) -> float | None:
    return None if rec.get(field) is None else _num(path, line, rec, field)


def _int(path: Path, line: int, rec: dict, field: str) -> int:
    value = rec.get(field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise IngestError(path, f"has {value!r}; expected an integer", line=line, column=field)
    return value


def _text(path: Path, line: int, rec: dict, field: str) -> str:
    value = rec.get(field)
    if not isinstance(value, str) or not value:
        raise IngestError(path, f"has {value!r}; expected text", line=line, column=field)
    return value


def _opt_text(path: Path, line: int, rec: dict, field: str) -> str | None:
    return None if rec.get(field) is None else _text(path, line, rec, field)


def _trial_of(path: Path, line: int, rec: dict, trials: dict) -> str | None:
    trial = rec.get("trial")
    if trial is None:
        return None
    if not isinstance(trial, str) or trial not in trials:
        raise IngestError(path, f"trial {trial!r} has no trial_start record before this line", line=line, column="trial")
    return trial


def _targets(path: Path, line: int, value) -> dict[str, tuple[float, float, float, float]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise IngestError(path, "expected an object of name → {x, y, width, height}", line=line, column="targets")
    out = {}
    for name, box in value.items():
        if not isinstance(box, dict):
            raise IngestError(path, f"target {name!r} is not an object", line=line, column="targets")
        out[name] = tuple(_num(path, line, box, k) for k in ("x", "y", "width", "height"))
    return out


def _event(path: Path, line: int, rec: dict, trials: dict) -> dict:
    kind = rec.get("kind")
    if kind not in EVENT_KINDS:
        raise IngestError(path, f"has {kind!r}; expected one of {', '.join(EVENT_KINDS)}", line=line, column="kind")
    trial = _trial_of(path, line, rec, trials)
    t = _num(path, line, rec, "t") - (trials[trial]["t"] if trial is not None else 0.0)
    dx, dy = _opt_num(path, line, rec, "dx"), _opt_num(path, line, rec, "dy")
    if kind == "scroll":
        mode = rec.get("delta_mode", 0)
        if mode not in STEP_DIVISOR:
            raise IngestError(path, f"has {mode!r}; expected 0 (px), 1 (lines) or 2 (pages)", line=line, column="delta_mode")
        dx = None if dx is None else dx / STEP_DIVISOR[mode]
        dy = None if dy is None else dy / STEP_DIVISOR[mode]
    button = rec.get("button")
    if button is not None and not isinstance(button, str):
        raise IngestError(path, f"has {button!r}; expected text", line=line, column="button")
    return {
        "trial": trial, "t_ms": t, "kind": kind, "button": button,
        "x": _opt_num(path, line, rec, "x"), "y": _opt_num(path, line, rec, "y"), "dx": dx, "dy": dy,
        "duration_ms": _opt_num(path, line, rec, "duration_ms"), "app": _opt_text(path, line, rec, "app"),
    }


def _check_order(path: Path, samples: list[tuple], duplicates: str) -> list[tuple]:
    last: dict[str | None, tuple] = {}
    keep: list[tuple] = []
    for s in samples:
        prev = last.get(s[1])
        if prev is not None and s[2] <= prev[2]:
            if s[2] < prev[2]:
                raise IngestError(path, f"time {s[2]:g} ms is earlier than the previous sample of the same trial "
                                  f"(line {prev[0]})", line=s[0], column="t")
            if duplicates == "error":
                raise IngestError(path, f"duplicate time {s[2]:g} ms within a trial (line {prev[0]}); use "
                                  "--duplicates remove_first to keep the last of equal times", line=s[0], column="t")
            keep.remove(prev)
        keep.append(s)
        last[s[1]] = s
    return keep


def _trial_frame(trials: dict[str, dict], keys: dict) -> pl.DataFrame:
    rows = []
    for trial, info in trials.items():
        boxes = info["targets"]
        row = {
            "session": keys["session"], "trial": trial, "trial_index": info["index"],
            "condition": info["condition"], "stimulus": info["stimulus"],
            "response": info["response"], "correct": info["correct"],
        }
        start = boxes.get("start")
        if start:
            row["start_x"], row["start_y"] = start[0] + start[2] / 2, start[1] + start[3] / 2
        chosen = boxes.get(info["response"]) if info["response"] else None
        if chosen:
            row["target_x"], row["target_y"] = chosen[0] + chosen[2] / 2, chosen[1] + chosen[3] / 2
            row["target_w"], row["target_h"] = chosen[2], chosen[3]
        for name, (x, y, w, h) in boxes.items():
            slug = re.sub(r"[^a-z0-9_]", "_", name.lower())
            row.update({f"box_{slug}_x": x + w / 2, f"box_{slug}_y": y + h / 2, f"box_{slug}_w": w, f"box_{slug}_h": h})
        rows.append(row)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    extras = [c for c in frame.columns if c.startswith("box_")]
    return frame.with_columns(
        pl.lit(keys["study"]).alias("study"), pl.lit(keys["participant"]).alias("participant"),
        *(pl.col(c).cast(pl.Float64) for c in extras),
    )


#: files picked up when ``mouselab ingest web`` is given a folder
read_web_jsonl.patterns = ("*.jsonl",)
