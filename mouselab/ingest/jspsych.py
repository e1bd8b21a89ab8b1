"""Reader for jsPsych data recorded with the mouse-tracking extension (``@jspsych/extension-mouse-tracking``).

Accepted files:

* **JSON** as written by ``jsPsych.data.get().json()`` — an array of trial objects — or JSON Lines with one
  trial object per line;
* **CSV** as written by ``jsPsych.data.get().csv()`` — one row per trial, with ``mouse_tracking_data`` and
  ``mouse_tracking_targets`` holding JSON text.

A trial with a non-empty ``mouse_tracking_data`` list becomes a trial; its elements ``{x, y, t, event}``
(``t`` in ms since the trial start; ``event`` ``mousemove`` / ``mousedown`` / ``mouseup``) become samples
(``move`` / ``down`` / ``up``; a ``down`` holds button 1). Trials without mouse data (instructions,
fixations) are not records. The participant comes from ``participant`` (option) or a field ``subject``,
``subject_id``, ``participant``, ``participant_id``, ``PROLIFIC_PID`` or ``workerId``, else the file name;
the session from ``session`` / ``session_id`` or ``s1``; the trial id is ``<participant>-t<trial_index>``.

``mouse_tracking_targets`` (``{selector: DOMRect}``) give the trial's target geometry: the target that
contains the last sample (or the only one); all of them stay in the extra trial column
``mouse_tracking_targets``. Other scalar fields (``rt``, ``response``, ``stimulus``, ``trial_type`` …) are
trial covariates. The quarantine ``line`` is the CSV line, or the 1-based position of the trial in a JSON
array; ``column`` names the element, e.g. ``mouse_tracking_data[17].x``.

Reference: de Leeuw, J. R., Gilbert, R. A., & Luchterhandt, B. (2023). jsPsych: Enabling an open-source
collaborative ecosystem of behavioral experiments. *JOSS*, 8(85), 5351.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from mouselab.ingest.base import BatchReader, ReadBatch, ensure_reasons, parse_floats
from mouselab.ingest.errors import IngestError
from mouselab.ingest.textio import DEFAULT_CHUNK_BYTES, iter_csv, open_binary
from mouselab.ingest.trials import CollectsTrials, TrialCollector, flag_injection
from mouselab.ingest.validate import flag

EVENTS = {"mousemove": ("move", 0), "mousedown": ("down", 1), "mouseup": ("up", 0)}
PARTICIPANT_FIELDS = ("subject", "subject_id", "participant", "participant_id", "PROLIFIC_PID", "workerId")
SESSION_FIELDS = ("session", "session_id")
DATA, TARGETS = "mouse_tracking_data", "mouse_tracking_targets"
SKIP = {DATA, TARGETS, "internal_node_id"}


class JsPsychReader(CollectsTrials, BatchReader):
    name = "jspsych"
    patterns = ("*.json", "*.jsonl", "*.csv", "*.csv.gz")
    trials_complete_per_file = True

    def __init__(self, path: Path, *, study: str, participant: str | None = None, session: str | None = None,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        super().__init__(path, study=study)
        self.participant = participant
        self.session = session
        self.chunk_bytes = chunk_bytes
        self.columns = {"t_ms": f"{DATA}.t", "x": f"{DATA}.x", "y": f"{DATA}.y", "event": f"{DATA}.event"}
        self.collector: TrialCollector | None = None
        self._covariates: list[str] = []
        self._targets: list[dict] = []
        self._seen_data = False
        self._last: pl.DataFrame | None = None

    def options(self) -> dict:
        return {"participant": self.participant, "session": self.session}

    # ------------------------------------------------------------------ reading
    def batches(self) -> Iterator[ReadBatch]:
        if self.path.name.lower().endswith((".csv", ".csv.gz")):
            names, chunks = iter_csv(self.path, chunk_bytes=self.chunk_bytes, hasher=self._hasher)
            if DATA not in names:
                raise IngestError(self.path, f"no {DATA} column; was the mouse-tracking extension enabled? "
                                  f"Columns found: {', '.join(names)}")
            for chunk in chunks:
                trials = chunk.frame.to_dicts()
                batch = self._batch(trials, [t.pop("_line") for t in trials], from_csv=True)
                batch.rejected = pl.concat([batch.rejected, chunk.rejected], how="vertical_relaxed")
                batch.nbytes = len(chunk.data)
                yield batch
            self.sha256 = self._hasher.hexdigest()
        else:
            trials = self._load_json()
            yield self._batch(trials, list(range(1, len(trials) + 1)), from_csv=False)
        if not self._seen_data:
            raise IngestError(self.path, f"no trial holds {DATA}; was the mouse-tracking extension enabled?")

    def _load_json(self) -> list[dict]:
        with open_binary(self.path) as handle:
            data = handle.read()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise IngestError(self.path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        stripped = text.lstrip()
        try:
            if stripped.startswith("["):
                trials = json.loads(text)
            else:
                trials = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise IngestError(self.path, f"is not valid JSON ({exc.msg})", line=exc.lineno) from None
        if not isinstance(trials, list) or not trials:
            raise IngestError(self.path, "expected a JSON array of trial objects (jsPsych.data.get().json())")
        return [t if isinstance(t, dict) else {"__not_object__": t} for t in trials]

    def _batch(self, trials: list[dict], lines: list[int], *, from_csv: bool) -> ReadBatch:
        cols: dict[str, list] = {k: [] for k in ("_line", "_k", "participant", "session", "trial", "_x", "_y", "_t",
                                                   "_event", "_reason", "_column", "_value", "_raw", "_trial_key")}
        rejected_lines, rejected_raw = [], []
        covariate_rows: list[dict] = []
        for line, trial in zip(lines, trials):
            data = trial.get(DATA)
            if data is None or data == "" or data == "[]" or data == []:
                continue
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except json.JSONDecodeError:
                    data = None
            if not isinstance(data, list):
                rejected_lines.append(line)
                rejected_raw.append(str(trial.get(DATA))[:2000])
                continue
            self._seen_data = True
            participant = self.participant or _first(trial, PARTICIPANT_FIELDS) or _stem(self.path)
            session = self.session or _first(trial, SESSION_FIELDS) or "s1"
            index = trial.get("trial_index")
            index = index if index not in (None, "") else line
            try:
                index = int(float(index))
                trial_id = f"{participant}-t{index:03d}"
            except (TypeError, ValueError):
                trial_id = f"{participant}-t{index}"
            covariates = {k: _scalar(v) for k, v in trial.items() if k not in SKIP and k not in PARTICIPANT_FIELDS
                          and k not in SESSION_FIELDS and not k.startswith("__")}
            covariates.update({"participant": participant, "session": session, "trial": trial_id, "_line": line})
            targets = trial.get(TARGETS)
            if isinstance(targets, str):
                try:
                    targets = json.loads(targets) if targets else None
                except json.JSONDecodeError:
                    targets = None
            self._targets.append({"participant": participant, "session": session, "trial": trial_id,
                                  "targets": targets if isinstance(targets, dict) else None})
            covariate_rows.append(covariates)
            for k, sample in enumerate(data):
                cols["_line"].append(line)
                cols["_k"].append(k)
                cols["participant"].append(participant)
                cols["session"].append(session)
                cols["trial"].append(trial_id)
                cols["_trial_key"].append(trial_id)
                raw = json.dumps(sample, separators=(",", ":"), default=str)
                cols["_raw"].append(f"{DATA}[{k}]: {raw}")
                if not isinstance(sample, dict):
                    for c in ("_x", "_y", "_t", "_event"):
                        cols[c].append(None)
                    cols["_reason"].append("malformed_record")
                    cols["_column"].append(f"{DATA}[{k}]")
                    cols["_value"].append(raw)
                    continue
                cols["_x"].append(_text(sample.get("x")))
                cols["_y"].append(_text(sample.get("y")))
                cols["_t"].append(_text(sample.get("t")))
                cols["_event"].append(_text(sample.get("event", "mousemove")))
                cols["_reason"].append(None)
                cols["_column"].append(None)
                cols["_value"].append(None)
        frame = pl.DataFrame(cols, schema={k: (pl.Int64 if k in ("_line", "_k") else pl.String) for k in cols})
        if covariate_rows:
            keys = list(dict.fromkeys(k for row in covariate_rows for k in row))
            cov = pl.DataFrame({k: [row.get(k) for row in covariate_rows] for k in keys},
                               schema={k: (pl.Int64 if k == "_line" else pl.String) for k in keys})
            new = [c for c in cov.columns if c not in ("_line", "participant", "session", "trial") and c not in self._covariates]
            self._covariates += new
            frame = frame.join(cov.drop(["participant", "session", "trial"]), on="_line", how="left", maintain_order="left")
        for c in self._covariates:
            if c not in frame.columns:
                frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c))
        if self.collector is None:
            self.collector = TrialCollector([], study=self.study)
        self.collector.covariates = list(self._covariates)
        frame = flag_injection(frame, self._covariates)
        frame = parse_floats(frame, {"t_ms": "_t", "x": "_x", "y": "_y"})
        frame = frame.with_columns(pl.col("_column").replace({"_t": "t", "_x": "x", "_y": "y"}))
        frame = frame.with_columns(
            pl.when(pl.col("_column").is_in(["t", "x", "y"]))
            .then(pl.format("{}[{}].{}", pl.lit(DATA), pl.col("_k"), pl.col("_column"))).otherwise(pl.col("_column"))
            .alias("_column"))
        event = pl.col("_event").str.strip_chars()
        frame = flag(frame, ~event.is_in(list(EVENTS)), "unknown_event_code",
                     pl.format("{}[{}].event", pl.lit(DATA), pl.col("_k")), event)
        frame = frame.with_columns(
            event.replace_strict({k: v[0] for k, v in EVENTS.items()}, default="move").alias("event"),
            event.replace_strict({k: v[1] for k, v in EVENTS.items()}, default=0, return_dtype=pl.UInt8).alias("buttons"),
        )
        rejected = pl.DataFrame({"_line": rejected_lines, "_reason": ["malformed_record"] * len(rejected_lines),
                                 "_column": [DATA] * len(rejected_lines), "_value": [None] * len(rejected_lines),
                                 "_raw": rejected_raw},
                                schema={"_line": pl.Int64, "_reason": pl.String, "_column": pl.String,
                                        "_value": pl.String, "_raw": pl.String})
        keep = ["_line", "participant", "session", "trial", "t_ms", "x", "y", "event", "buttons", "_reason", "_column",
                "_value", "_raw"] + self._covariates
        return ReadBatch(ensure_reasons(frame).select(keep), rejected)

    # ------------------------------------------------------------------ trials
    def on_accepted(self, accepted: pl.DataFrame) -> dict[str, pl.DataFrame]:
        super().on_accepted(accepted)
        if self.collector is not None:
            last = accepted.group_by(["participant", "session", "trial"]).agg(
                pl.col("x").last().alias("_lx"), pl.col("y").last().alias("_ly"))
            self._last = last if self._last is None else pl.concat([self._last, last]).unique(
                ["participant", "session", "trial"], keep="last")
        return {}

    def finish(self) -> dict[str, pl.DataFrame]:
        trials = self.collected_trials()
        if trials is None:
            return {}
        geometry = []
        lasts = {(r["participant"], r["session"], r["trial"]): (r["_lx"], r["_ly"])
                 for r in (self._last.iter_rows(named=True) if self._last is not None else [])}
        for item in self._targets:
            key = (item["participant"], item["session"], item["trial"])
            rect = _pick_target(item["targets"], lasts.get(key))
            geometry.append({"participant": key[0], "session": key[1], "trial": key[2],
                             "target_x": rect[0], "target_y": rect[1], "target_w": rect[2], "target_h": rect[3],
                             TARGETS: json.dumps(item["targets"], sort_keys=True) if item["targets"] else None})
        geo = pl.DataFrame(geometry, schema={"participant": pl.String, "session": pl.String, "trial": pl.String,
                                             "target_x": pl.Float64, "target_y": pl.Float64, "target_w": pl.Float64,
                                             "target_h": pl.Float64, TARGETS: pl.String})
        trials = trials.join(geo.unique(["participant", "session", "trial"], keep="last"),
                             on=["participant", "session", "trial"], how="left", maintain_order="left")
        return self.trials_tables(trials)


def _pick_target(targets, last) -> tuple:
    if not isinstance(targets, dict) or not targets:
        return (None, None, None, None)
    rects = []
    for rect in targets.values():
        if not isinstance(rect, dict):
            continue
        try:
            left = float(rect.get("left", rect.get("x")))
            top = float(rect.get("top", rect.get("y")))
            width, height = float(rect["width"]), float(rect["height"])
        except (KeyError, TypeError, ValueError):
            continue
        rects.append((left, top, width, height))
    chosen = None
    if len(rects) == 1:
        chosen = rects[0]
    elif last is not None and last[0] is not None:
        inside = [r for r in rects if r[0] <= last[0] <= r[0] + r[2] and r[1] <= last[1] <= r[1] + r[3]]
        chosen = inside[0] if len(inside) == 1 else None
    if chosen is None:
        return (None, None, None, None)
    left, top, width, height = chosen
    return (left + width / 2, top + height / 2, width, height)


def _first(trial: dict, fields: tuple[str, ...]) -> str | None:
    for f in fields:
        value = trial.get(f)
        if value not in (None, ""):
            return str(value).strip()
    return None


def _scalar(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()  # a boolean is not a coordinate: non_numeric
    return str(value)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv", ".jsonl", ".json"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name
