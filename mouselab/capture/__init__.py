"""Recording: the desktop capture agent (pynput, optional extra ``capture``) and the browser snippet.

* :func:`mouselab.capture.agent.run_capture` / ``mouselab capture start`` — samples the cursor at a steady
  rate, records clicks, scrolls, focus changes (keyed pseudonym or coarse category of the window class, never
  a title) and idle periods; no keystrokes, ever. Refuses to start without active consent
  (:mod:`mouselab.privacy.consent`), stops when consent is withdrawn. Writes rolling Parquet segments
  (:mod:`mouselab.capture.spool`) and commits them into the store (:mod:`mouselab.capture.commit`).
* ``mouselab/capture/web/mouselab-capture.js`` — dependency-free browser capture writing JSON lines that
  :mod:`mouselab.ingest.web` reads; ``demo.html`` is a small choice task using it.

Import-light: nothing here imports pynput, Polars or the store until a session starts.
"""

from __future__ import annotations

from pathlib import Path

WEB_DIR = Path(__file__).resolve().parent / "web"
SNIPPET = WEB_DIR / "mouselab-capture.js"
DEMO = WEB_DIR / "demo.html"

__all__ = ["DEMO", "SNIPPET", "WEB_DIR"]
