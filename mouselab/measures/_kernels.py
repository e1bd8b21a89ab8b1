"""Access to the optional compiled kernels (numba, extra ``fast``).

``kernels()`` imports :mod:`mouselab.measures._numba_kernels` on first use and returns it, or ``None`` when
numba is not installed. Nothing is imported or compiled when :mod:`mouselab.measures` is imported; compiled
machine code is cached on disk by numba (``cache=True``), so only the first call on a machine compiles.
"""

from __future__ import annotations

from types import ModuleType

_STATE: dict[str, ModuleType | None] = {}

#: Engines accepted by :func:`mouselab.measures.compute_measures`.
ENGINES = ("auto", "numba", "numpy")


def kernels() -> ModuleType | None:
    """The compiled kernel module, or ``None`` when numba is unavailable."""
    if "mod" not in _STATE:
        try:
            from mouselab.measures import _numba_kernels as mod
        except ImportError:
            mod = None
        _STATE["mod"] = mod
    return _STATE["mod"]


def resolve_engine(engine: str) -> str:
    """``"numba"`` or ``"numpy"`` for an ``engine`` argument (``"auto"``: numba when installed)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "numpy":
        return "numpy"
    if kernels() is None:
        if engine == "numba":
            raise ImportError("engine='numba' needs numba: pip install 'mouselab[fast]'")
        return "numpy"
    return "numba"


def warm_up(*, entropy: bool = True) -> None:
    """Load (or compile) the kernels for the array types the engine passes (read-only float64 samples, as
    Polars hands them out). Loading cached machine code takes a few hundred ms; :func:`warm_up_async` lets
    it overlap with reading the first data."""
    mod = kernels()
    if mod is None:
        return
    import numpy as np

    t = np.arange(4, dtype=np.float64)
    t.setflags(write=False)
    starts = np.zeros(1, dtype=np.int64)
    lengths = np.full(1, 4, dtype=np.int64)
    mod.mousetrap_block(t, t, t, starts, lengths, 0.0, np.empty((1, len(mod.MOUSETRAP_COLUMNS))))
    if entropy:
        diffs = np.empty((1, 5))
        mod.time_normalized_diffs(t, t, starts, lengths, 6, diffs, np.empty((1, 2)))
        mod.sample_entropy_rows(diffs, 3, 0.1, np.empty(1))


def warm_up_async(*, entropy: bool = True):
    """Start :func:`warm_up` on a daemon thread and return the thread (join it before timing-sensitive work)."""
    import threading

    thread = threading.Thread(target=warm_up, kwargs={"entropy": entropy}, daemon=True, name="mouselab-warm-up")
    thread.start()
    return thread
