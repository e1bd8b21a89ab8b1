"""Preprocessing of trajectories: frames in, frames out (no I/O).

* :func:`time_normalize` -- resample each trial at equally spaced times (mousetrap ``mt_time_normalize``).
* :func:`remap_symmetric` -- mirror trials to one side / quadrant (mousetrap ``mt_remap_symmetric``).
* :func:`align_start` -- translate trials to a common start point (mousetrap ``mt_align_start``).
"""

from mouselab.preprocess._frames import TRIAL_KEY
from mouselab.preprocess.normalize import time_normalize
from mouselab.preprocess.remap import align_start, remap_symmetric

__all__ = ["TRIAL_KEY", "align_start", "remap_symmetric", "time_normalize"]
