"""mouselab: research analysis of computer-mouse movement, private by design.

Import-light: nothing is read, configured or logged at import time. Start with
:class:`mouselab.store.Store`, :func:`mouselab.measures.compute_measures` and the ``mouselab`` command.
"""

__version__ = "0.1.0"
