"""Segmentation of long sessions: pure functions and one splitter class per rule (frames in, frames out).

* :class:`IdleSplitter` — idle periods (gaps ≥ ``idle_threshold_ms``) and activity bouts.
* :class:`ActionSplitter` — mouse-dynamics actions MM / PC / DD from button states
  (Ahmed & Traore 2007; Antal & Egyed-Zsigmond 2019).
* :class:`FocusSplitter` — window-focus segments from ``focus`` events.
* :class:`MarkerSplitter` — task / trial segments from ``marker`` events.
* :func:`action_features` / :func:`action_table` — per-action kinematics (the ``actions`` table),
  vectorised over all actions.
* :mod:`mouselab.segmentation.workday` — session summaries for the workday notebook.

Nothing here opens files or the store; ``mouselab segment`` (``mouselab.cli.segment``) does.
"""

from mouselab.segmentation.features import action_features, action_table
from mouselab.segmentation.splitters import ActionSplitter, FocusSplitter, IdleSplitter, MarkerSplitter

__all__ = ["ActionSplitter", "FocusSplitter", "IdleSplitter", "MarkerSplitter", "action_features", "action_table"]
