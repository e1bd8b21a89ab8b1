"""What a notebook shows: readable tables and Markdown that also carry their numbers for the runner.

:func:`show` displays a Polars frame as a compact HTML table *and* attaches the exact values under the
MIME type :data:`RESULT_MIME`. The runner collects those values from the executed notebook
(:attr:`mouselab.report.ReportResult.results`), so tests can compare the numbers of two runs without
parsing HTML or timestamps. Outside IPython both functions print plain text.
"""

from __future__ import annotations

import html
import json
import math
from datetime import date, datetime
from typing import Any

import polars as pl

#: MIME type of the machine-readable results a notebook records (a ``+json`` key, so nbformat accepts a dict).
RESULT_MIME = "application/vnd.mouselab.result+json"

_STYLE = (
    "<style>table.ml-table{border-collapse:collapse;font-size:13px;margin:4px 0 10px 0}"
    "table.ml-table th,table.ml-table td{padding:3px 9px;border-bottom:1px solid #e3e3e3;text-align:left!important}"
    "table.ml-table th{background:#f4f4f4;font-weight:600}table.ml-table td.num{text-align:right!important;"
    "font-variant-numeric:tabular-nums}table.ml-table caption{caption-side:top;text-align:left;color:#555;"
    "padding:2px 0 4px 0;font-style:italic}.ml-note{color:#666;font-size:12px}</style>"
)


def _plain(value: Any) -> Any:
    """A JSON-safe version of one cell value (non-finite floats become None)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def frame_records(frame: pl.DataFrame) -> dict[str, Any]:
    """``{"columns": [...], "rows": [[...], ...]}`` with JSON-safe values."""
    return {"columns": frame.columns, "rows": [[_plain(v) for v in row] for row in frame.iter_rows()]}


def _format(value: Any, decimals: int) -> tuple[str, bool]:
    if value is None:
        return "–", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int):
        return f"{value:,}", True
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value), True
        if value != 0 and abs(value) < 10 ** (-decimals):
            return f"{value:.{max(decimals - 1, 1)}e}", True
        return f"{value:,.{decimals}f}", True
    return str(value), False


def html_table(frame: pl.DataFrame, *, caption: str | None = None, decimals: int = 3, max_rows: int = 60) -> str:
    """A compact, escaped HTML table of ``frame`` (floats rounded to ``decimals``; long frames cut)."""
    shown = frame.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = []
    for row in shown.iter_rows():
        cells = []
        for value in row:
            text, numeric = _format(value, decimals)
            cells.append(f'<td class="num">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    more = ""
    if frame.height > max_rows:
        more = f'<div class="ml-note">showing {max_rows} of {frame.height:,} rows</div>'
    if frame.height == 0:
        more = '<div class="ml-note">(no rows)</div>'
    return f'{_STYLE}<table class="ml-table">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{more}'


def show(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    name: str | None = None,
    caption: str | None = None,
    decimals: int = 3,
    max_rows: int = 60,
) -> None:
    """Display ``frame`` as a table; with ``name``, also record its exact values for the runner."""
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    bundle: dict[str, Any] = {
        "text/html": html_table(frame, caption=caption, decimals=decimals, max_rows=max_rows),
        "text/plain": (f"{caption}\n" if caption else "") + str(frame),
    }
    if name:
        bundle[RESULT_MIME] = {"name": name, "kind": "table", "value": frame_records(frame)}
    _display(bundle)


def record(name: str, value: Any) -> None:
    """Record a named value (numbers, text, lists, dicts) for the runner without showing anything."""
    _display({RESULT_MIME: {"name": name, "kind": "value", "value": _plain(value)}, "text/plain": ""})


def markdown(text: str) -> None:
    """Display Markdown text (e.g. a generated summary)."""
    _display({"text/markdown": text, "text/plain": text})


def _display(bundle: dict[str, Any]) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - ipykernel is a dependency
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(bundle, raw=True)
    elif bundle.get("text/plain"):
        print(bundle["text/plain"])


def collect_results(notebook: dict) -> dict[str, Any]:
    """All values recorded with :func:`show` / :func:`record` in an executed notebook, by name."""
    out: dict[str, Any] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data", {})
            if RESULT_MIME in data:
                item = data[RESULT_MIME]
                if isinstance(item, str):  # pragma: no cover - older writers stored JSON as text
                    item = json.loads(item)
                out[item["name"]] = item["value"]
    return out
