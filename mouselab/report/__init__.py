"""Reports: run parametrized notebooks into offline HTML with provenance (papermill + nbconvert).

* :func:`run_notebook` — strict parameters, in-process papermill run, ``.ipynb`` + self-contained HTML.
* :func:`run_study` — every ``NN_*.ipynb`` of a folder in order, plus ``index.html``.
* :func:`notebook_parameters` / :func:`check_parameters` — the ``parameters`` cell contract.
* :func:`show` / :func:`record` / :func:`markdown` — used *inside* notebooks to display tables and
  record their numbers for the runner (see :mod:`mouselab.report.display`).
* :mod:`mouselab.report.quality` — data-quality summaries shown by ``01_data_quality``.

papermill and nbconvert are imported only when a notebook is run.
"""

from mouselab.report.display import RESULT_MIME, collect_results, markdown, record, show
from mouselab.report.params import (
    Parameter,
    ParameterError,
    check_parameters,
    describe_parameters,
    notebook_parameters,
    parse_assignments,
    parse_parameters_source,
)
from mouselab.report.runner import ReportResult, export_html, index_html, run_notebook, run_study, study_notebooks

__all__ = [
    "RESULT_MIME",
    "Parameter",
    "ParameterError",
    "ReportResult",
    "check_parameters",
    "collect_results",
    "describe_parameters",
    "export_html",
    "index_html",
    "markdown",
    "notebook_parameters",
    "parse_assignments",
    "parse_parameters_source",
    "record",
    "run_notebook",
    "run_study",
    "show",
    "study_notebooks",
]
