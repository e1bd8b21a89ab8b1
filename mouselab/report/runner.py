"""Run parametrized notebooks with papermill and write offline HTML reports with provenance.

:func:`run_notebook` checks the parameters against the notebook's ``parameters`` cell, executes the
notebook in-process with papermill (explicit kernel and working directory), stores a provenance block in
the notebook metadata and writes ``<name>.ipynb`` and a self-contained ``<name>.html`` that opens without
any network. :func:`run_study` runs every ``NN_*.ipynb`` of a folder in order and writes ``index.html``.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mouselab.report.display import collect_results
from mouselab.report.params import Parameter, ParameterError, check_parameters, notebook_parameters
from mouselab.report.provenance import finish, start_provenance, utc_now

#: Folder holding the nbconvert template shipped with the package.
TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "mouselab_offline"
#: Notebooks of a study are the files named like ``01_data_quality.ipynb``.
STUDY_NOTEBOOK = re.compile(r"^\d{2}_.+\.ipynb$")
DEFAULT_KERNEL = "python3"


@dataclass
class ReportResult:
    """Outcome of one notebook run: where the outputs are, how it went, and the numbers it recorded."""

    notebook: Path
    title: str
    status: str  # "ok" or "failed"
    ipynb: Path
    html: Path | None
    duration_s: float
    parameters: dict[str, Any]
    provenance: dict[str, Any]
    error: str | None = None
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def summary(self) -> str:
        """One line for the terminal."""
        where = self.html if self.html is not None else self.ipynb
        text = f"{self.status:<6} {self.notebook.name}  {self.duration_s:6.1f} s  → {where}"
        return text + (f"\n       {self.error}" if self.error else "")


def notebook_title(notebook: dict, fallback: str) -> str:
    """The first Markdown heading of a notebook, else ``fallback``."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for line in source.splitlines():
            match = re.match(r"^#{1,3}\s+(.+?)\s*#*\s*$", line)
            if match:
                return match.group(1)
    return fallback


def run_notebook(
    notebook: str | os.PathLike[str],
    *,
    parameters: dict[str, Any] | None = None,
    out_dir: str | os.PathLike[str],
    kernel_name: str = DEFAULT_KERNEL,
    cwd: str | os.PathLike[str] | None = None,
    execution_timeout_s: float | None = 1800,
    html: bool = True,
) -> ReportResult:
    """Execute ``notebook`` with ``parameters`` and write ``out_dir/<name>.ipynb`` and ``<name>.html``.

    Parameters
    ----------
    notebook:
        A notebook whose first code cell is tagged ``parameters`` (``name: type = default  # help``).
    parameters:
        Values for declared parameters; text is converted to the declared type (``"0.01"`` → 0.01).
        Unknown names raise :class:`~mouselab.report.params.ParameterError` (a ``ValueError``) *before*
        anything runs, listing the valid parameters with their help.
    out_dir:
        Output folder (created when missing).
    kernel_name:
        Jupyter kernel to run the notebook with (default ``python3``).
    cwd:
        Working directory of the kernel; default the notebook's folder, so relative paths in the
        parameter defaults behave as in JupyterLab. Relative paths passed in ``parameters`` are read by
        the notebook, i.e. relative to ``cwd`` (the command line makes ``store`` absolute first).
        A ``store`` parameter must name an existing store (checked before the kernel starts).
    execution_timeout_s:
        Per-cell timeout; None for none.
    html:
        Also write the offline HTML report.

    Returns
    -------
    ReportResult
        ``status`` is ``"failed"`` (with ``error``) when a cell raised; the executed notebook and its HTML,
        showing the error, are written either way.
    """
    import nbformat
    import papermill

    nb_path = Path(notebook)
    if not nb_path.is_file():
        raise FileNotFoundError(f"notebook {nb_path} does not exist")
    declared = notebook_parameters(nb_path)
    given = check_parameters(declared, dict(parameters or {}), notebook=nb_path.name)
    effective = {name: p.default for name, p in declared.items()} | given
    work_dir = Path(cwd) if cwd is not None else nb_path.resolve().parent
    check_kernel(kernel_name)
    check_store_parameter(effective, cwd=work_dir, notebook=nb_path.name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    out_ipynb = out / nb_path.name
    out_html = out / (nb_path.stem + ".html")

    provenance = start_provenance(
        notebook=nb_path.name, parameters=effective, cwd=work_dir, kernel_name=kernel_name
    )
    began = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(
            str(nb_path),
            str(out_ipynb),
            parameters=effective,
            kernel_name=kernel_name,
            cwd=str(work_dir),
            progress_bar=False,
            log_output=False,
            execution_timeout=execution_timeout_s,
            # the kernel's own start-up chatter (e.g. ipykernel's note that a local kernel talks over TCP) is
            # not for report readers; errors in cells still land in the notebook and the result
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except papermill.PapermillExecutionError as exc:
        error = f"cell {exc.exec_count}: {exc.ename}: {' '.join(str(exc.evalue).split())}"[:500]
    except Exception as exc:  # kernel died, timeout, missing kernel …
        if not out_ipynb.exists():
            raise
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]
    status = "failed" if error else "ok"
    finish(provenance, duration_s=time.perf_counter() - began, status=status, error=error)

    executed = nbformat.read(out_ipynb, as_version=4)
    executed.metadata["mouselab"] = {"provenance": provenance}
    nbformat.write(executed, out_ipynb)
    title = notebook_title(executed, nb_path.stem)
    if html:
        out_html.write_text(export_html(executed, title=title), encoding="utf-8")
    return ReportResult(
        notebook=nb_path,
        title=title,
        status=status,
        ipynb=out_ipynb,
        html=out_html if html else None,
        duration_s=round(time.perf_counter() - began, 3),
        parameters=effective,
        provenance=provenance,
        error=error,
        results=collect_results(executed),
    )


def check_kernel(kernel_name: str) -> None:
    """Raise a one-line ``ValueError`` when no Jupyter kernel of that name is installed."""
    from jupyter_client.kernelspec import KernelSpecManager

    names = sorted(KernelSpecManager().find_kernel_specs())
    if kernel_name not in names:
        raise ValueError(
            f"no Jupyter kernel named {kernel_name!r}; installed: {', '.join(names) or 'none'} "
            "(install one with: python -m ipykernel install --sys-prefix --name NAME)"
        )


def check_store_parameter(parameters: dict[str, Any], *, cwd: Path, notebook: str) -> None:
    """A ``store`` parameter must name an existing store (checked before the kernel starts)."""
    value = parameters.get("store")
    if not value:
        return
    path = Path(value) if Path(value).is_absolute() else cwd / value
    if not (path / "manifest.json").exists():
        raise FileNotFoundError(
            f"{notebook}: store {value!r} not found (looked in {path.resolve()}); pass -p store=PATH or --store, "
            "or create the sample store with `make sample`"
        )


def export_html(notebook: Any, *, title: str | None = None) -> str:
    """Self-contained HTML of an executed notebook (no CDN scripts; code folded; provenance on top)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        extra_template_basedirs=[str(TEMPLATES)],
        template_name=TEMPLATE_NAME,
        theme="light",
        embed_images=True,
        exclude_output_prompt=True,
    )
    if title:
        notebook.metadata["title"] = title
    body, _ = exporter.from_notebook_node(notebook)
    return strip_css_comments(body)


_STYLE_BLOCK = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S | re.I)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def strip_css_comments(html_text: str) -> str:
    """Drop comments inside ``<style>`` blocks (JupyterLab's CSS credits web pages there; ~100 KB less)."""
    return _STYLE_BLOCK.sub(lambda m: m.group(1) + _CSS_COMMENT.sub("", m.group(2)) + m.group(3), html_text)


def study_notebooks(notebooks_dir: str | os.PathLike[str]) -> list[Path]:
    """The ``NN_*.ipynb`` notebooks of a folder, in name order."""
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"notebooks folder {folder} does not exist")
    return sorted(p for p in folder.iterdir() if p.is_file() and STUDY_NOTEBOOK.match(p.name))


def run_study(
    notebooks_dir: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str],
    parameters: dict[str, Any] | None = None,
    kernel_name: str = DEFAULT_KERNEL,
    progress: bool = True,
    title: str | None = None,
) -> list[ReportResult]:
    """Run every ``NN_*.ipynb`` in ``notebooks_dir`` in order and write ``out_dir/index.html``.

    Each notebook receives only the parameters it declares. A name no notebook declares is rejected
    before anything runs. A failing notebook does not stop the others; its status is in the index.
    ``title`` heads the index page (default: "Study <study>" from the ``study`` parameter).
    """
    from tqdm.auto import tqdm

    paths = study_notebooks(notebooks_dir)
    if not paths:
        raise FileNotFoundError(f"no NN_*.ipynb notebooks in {notebooks_dir}")
    given = dict(parameters or {})
    declared = {p: notebook_parameters(p) for p in paths}
    union: dict[str, Parameter] = {}
    for params in declared.values():
        for name, param in params.items():
            union.setdefault(name, param)
    check_parameters(union, given, notebook=f"the notebooks in {notebooks_dir}")
    for path, params in declared.items():  # type-check against each notebook's own declaration
        check_parameters(params, {k: v for k, v in given.items() if k in params}, notebook=path.name)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = utc_now()
    results = []
    bar = tqdm(paths, desc="study", unit="notebook", disable=not progress)
    for path in bar:
        bar.set_postfix_str(path.name)
        subset = {k: v for k, v in given.items() if k in declared[path]}
        results.append(run_notebook(path, parameters=subset, out_dir=out, kernel_name=kernel_name))
    bar.close()
    if title is None:
        study = next((r.parameters["study"] for r in results if "study" in r.parameters), None)
        title = f"Study {study}" if study else Path(notebooks_dir).resolve().name
    (out / "index.html").write_text(index_html(results, started=started, title=title), encoding="utf-8")
    return results


def index_html(results: list[ReportResult], *, started: str, title: str = "study") -> str:
    """A self-contained index page linking each report with its title, status, duration and provenance."""
    esc = html.escape
    rows = []
    for r in results:
        p = r.provenance
        link = f'<a href="{esc(r.html.name)}">{esc(r.title)}</a>' if r.html else esc(r.title)
        status = (
            '<span class="ok">ok</span>'
            if r.ok
            else f'<span class="failed" title="{esc(r.error or "")}">failed</span>'
        )
        params = ", ".join(f"{esc(k)}={esc(json.dumps(v))}" for k, v in r.parameters.items())
        rows.append(
            "<tr>"
            f"<td>{link}<div class='file'>{esc(r.notebook.name)}</div></td>"
            f"<td>{status}</td><td class='num'>{r.duration_s:.1f} s</td>"
            f"<td><code>{esc(str(p['input']['content_sha256'])[:16])}</code></td>"
            f"<td class='num'>{esc(str(p.get('seed')))}</td>"
            f"<td class='params'>{params}</td>"
            "</tr>"
        )
        if r.error:
            rows.append(f"<tr class='err'><td colspan='6'>{esc(r.error)}</td></tr>")
        summary = r.results.get("summary")
        if isinstance(summary, list) and summary:
            items = "".join(f"<li>{esc(str(s))}</li>" for s in summary)
            rows.append(f"<tr class='sum'><td colspan='6'><ul>{items}</ul></td></tr>")
    first = results[0].provenance
    versions = ", ".join(f"{esc(k)} {esc(v)}" for k, v in first["versions"].items())
    n_ok = sum(r.ok for r in results)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}: mouselab reports</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:24px auto;padding:0 20px;color:#1f2328}}
h1{{font-size:22px;margin-bottom:4px}} .sub{{color:#555;margin-bottom:18px}}
table{{border-collapse:collapse;width:100%;font-size:14px}} th,td{{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e3e3;vertical-align:top}}
th{{background:#f4f4f4}} td.num{{text-align:right;white-space:nowrap}} .file{{color:#777;font-size:12px}}
.params{{font-family:ui-monospace,monospace;font-size:12px;color:#444}} .ok{{color:#1a7f37;font-weight:600}}
.failed{{color:#b00020;font-weight:600}} tr.err td{{color:#b00020;font-size:12px;border-bottom:1px solid #e3e3e3}}
.prov{{margin-top:20px;font-size:13px;color:#444;background:#f6f8fa;border:1px solid #d8dee4;border-radius:6px;padding:8px 12px}}
code{{font-size:12px}} tr.sum td{{font-size:13px;color:#333}} tr.sum ul{{margin:2px 0 4px 0;padding-left:20px}}
</style></head><body>
<h1>{esc(title)}: reports</h1>
<div class="sub">{n_ok} of {len(results)} notebooks ran successfully · started {esc(started)}</div>
<table><thead><tr><th>report</th><th>status</th><th>duration</th><th>input sha256</th><th>seed</th><th>parameters</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<div class="prov"><b>Provenance</b> · mouselab {esc(first['mouselab_version'])} · git commit
<code>{esc(first['git_commit'])}</code> · input store <code>{esc(str(first['input']['store']))}</code>
(sha256 <code>{esc(str(first['input']['content_sha256']))}</code>)<br>{versions}</div>
</body></html>
"""


__all__ = [
    "ParameterError",
    "ReportResult",
    "export_html",
    "index_html",
    "notebook_title",
    "run_notebook",
    "run_study",
    "study_notebooks",
]
