"""Preprocessing of trajectories: pure functions, frames in, frames out (no I/O), vectorised over trials.

* :func:`time_normalize` -- resample each trial at equally spaced times (mousetrap ``mt_time_normalize``).
* :func:`resample` -- resample at a fixed step in ms (mousetrap ``mt_resample``).
* :func:`length_normalize` -- n points equidistant along the path (mousetrap ``mt_length_normalize``).
* :func:`remap_symmetric` -- mirror trials to one side / quadrant (mousetrap ``mt_remap_symmetric``).
* :func:`align_start` -- translate trials to a common start point (mousetrap ``mt_align_start``).
* :func:`align_start_end` -- rescale trials to a common start and end point (mousetrap ``mt_align_start_end``).
* :func:`to_task_coordinates` -- screen-independent coordinates relative to the start/target geometry.
* :func:`exclude_initiation`, :func:`exclude_finish` -- drop still phases (mousetrap ``mt_exclude_*``).
* :func:`interpolate_gaps` -- fill recording gaps with interpolated samples.
* :func:`smooth` -- Savitzky-Golay or moving-average smoothing with windows in ms.
* :func:`remove_duplicate_timestamps` -- mousetrap's import rule ``duplicates = "remove_first"``.
"""

from mouselab.preprocess._frames import TRIAL_KEY
from mouselab.preprocess.clean import (
    exclude_finish,
    exclude_initiation,
    interpolate_gaps,
    remove_duplicate_timestamps,
)
from mouselab.preprocess.normalize import length_normalize, resample, time_normalize
from mouselab.preprocess.remap import align_start, align_start_end, remap_symmetric, to_task_coordinates
from mouselab.preprocess.smooth import smooth

__all__ = [
    "TRIAL_KEY",
    "align_start",
    "align_start_end",
    "exclude_finish",
    "exclude_initiation",
    "interpolate_gaps",
    "length_normalize",
    "remap_symmetric",
    "remove_duplicate_timestamps",
    "resample",
    "smooth",
    "time_normalize",
    "to_task_coordinates",
]
