"""An Altair renderer whose charts draw with no network: in JupyterLab and in exported HTML reports.

Altair's default renderer loads Vega from a CDN, and the inline ``html`` renderer repeats the ~900 KB
bundle per chart and breaks on the second chart. This renderer emits the Vega / Vega-Lite / vega-embed
bundle (``vl_convert.javascript_bundle()``) **once per kernel**, in the output of the first chart, as a
module script that sets ``window.vegaEmbed``. Every chart is then a ``<div>`` plus a small module script
calling ``vegaEmbed`` with the chart's JSON spec (waiting until the bundle has run). Module scripts run in
document order, so the exported HTML draws every chart offline.

Call :func:`enable_offline_charts` once at the top of a notebook. ``mode="svg"`` switches to static SVG
rendered by vl-convert in the kernel (no JavaScript at all) should the interactive mode ever fail.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Any, Literal

import altair as alt

RENDERER_NAME = "mouselab_offline"
#: Options passed to vegaEmbed: keep the export menu, drop links that would leave the page.
EMBED_OPTIONS = {"actions": {"export": True, "source": False, "compiled": False, "editor": False}, "renderer": "svg"}

_state = {"bundle_emitted": False, "counter": 0}


def vega_lite_version() -> str:
    """The Vega-Lite version (``major.minor``) bundled by vl-convert that matches Altair's schema."""
    import vl_convert

    wanted = alt.SCHEMA_VERSION.lstrip("v")
    major_minor = ".".join(wanted.split(".")[:2])
    available = list(vl_convert.get_vegalite_versions())
    if major_minor in available:
        return major_minor
    same_major = [v for v in available if v.split(".")[0] == major_minor.split(".")[0]]
    return same_major[-1] if same_major else available[-1]


@lru_cache(maxsize=2)
def javascript_bundle(vl_version: str | None = None) -> str:
    """Vega + Vega-Lite + vega-embed as one script that assigns ``window.vegaEmbed`` (cached per process)."""
    import vl_convert

    return vl_convert.javascript_bundle(vl_version=vl_version or vega_lite_version())


def _script_safe(code: str) -> str:
    """JavaScript source that cannot end its ``<script>`` element early.

    Only ``</script`` and ``<!--`` matter inside a script element; they are escaped where they occur
    (the vl-convert bundle contains neither, so it is embedded byte for byte).
    """
    code = re.sub(r"(?i)</(script)", r"<\\/\1", code)
    return code.replace("<!--", "<\\!--")


def _json_for_script(value: Any) -> str:
    """JSON text safe inside a ``<script>`` element: every ``<`` is written as ``\\u003c``."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def chart_html(spec: dict[str, Any], *, element_id: str, include_bundle: bool) -> str:
    """HTML for one chart: optional bundle script, a target ``<div>`` and the ``vegaEmbed`` call."""
    parts = []
    if include_bundle:
        parts.append(f'<script type="module">{_script_safe(javascript_bundle())}</script>')
    spec_json = _json_for_script(spec)
    options = json.dumps(EMBED_OPTIONS)
    parts.append(f'<div id="{element_id}" class="mouselab-chart"></div>')
    parts.append(
        '<script type="module">\n'
        f'(function draw(tries) {{\n'
        f'  const el = document.getElementById("{element_id}");\n'
        '  if (!el) return;\n'
        '  if (window.vegaEmbed) {\n'
        f'    window.vegaEmbed(el, {spec_json}, {options})\n'
        '      .catch(err => { el.textContent = "chart could not be drawn: " + err; });\n'
        '  } else if (tries < 400) {\n'
        '    setTimeout(() => draw(tries + 1), 25);\n'
        '  } else {\n'
        '    el.textContent = "chart library missing: re-run the notebook from the top (mouselab.plot.enable_offline_charts)";\n'
        '  }\n'
        '})(0);\n'
        '</script>'
    )
    return "\n".join(parts)


def offline_renderer(spec: dict[str, Any], **metadata: Any) -> dict[str, str]:
    """Altair renderer: a MIME bundle with the chart as self-contained HTML (bundle on first use)."""
    include = not _state["bundle_emitted"]
    _state["bundle_emitted"] = True
    _state["counter"] += 1
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
    element_id = f"mouselab-chart-{_state['counter']}-{digest}"
    title = spec.get("title")
    title_text = title.get("text") if isinstance(title, dict) else title
    return {
        "text/html": chart_html(spec, element_id=element_id, include_bundle=include),
        "text/plain": f"<chart{': ' + str(title_text) if title_text else ''}>",
    }


def enable_offline_charts(mode: Literal["interactive", "svg"] = "interactive") -> None:
    """Make Altair charts render without network in this kernel (call once at the top of a notebook).

    ``interactive``: Vega bundle emitted once, each chart drawn by ``vegaEmbed`` (hover, export menu).
    ``svg``: static SVG rendered in the kernel by vl-convert.
    Re-running resets the once-per-kernel bundle, so "run all" after a restart always works.
    """
    if mode == "interactive":
        if RENDERER_NAME not in alt.renderers.names():
            alt.renderers.register(RENDERER_NAME, offline_renderer)
        _state["bundle_emitted"] = False
        _state["counter"] = 0
        alt.renderers.enable(RENDERER_NAME)
    elif mode == "svg":
        alt.renderers.enable("svg")
    else:
        raise ValueError(f"mode must be 'interactive' or 'svg', got {mode!r}")
