"""Strict notebook parameters: parse the cell tagged ``parameters``, reject unknown names, coerce values.

A parameters cell declares one parameter per line, as ``name: type = default  # help``::

    store: str = "../data/sample/store"  # store folder, relative to the notebook
    alpha: float = 0.05  # significance level and 1 - CI coverage

Supported types are ``str``, ``int``, ``float`` and ``bool``. papermill only *warns* about a parameter the
notebook does not declare, so a typo would silently keep the default; :func:`check_parameters` refuses it
and names the valid parameters with their help text.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import math
import os
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Parameter types a notebook may declare.
TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}
_TRUE = {"true", "yes", "on", "1", "y", "t"}
_FALSE = {"false", "no", "off", "0", "n", "f"}


class ParameterError(ValueError):
    """A parameter is unknown, has the wrong type, or the parameters cell cannot be parsed."""


@dataclass(frozen=True)
class Parameter:
    """One declared notebook parameter."""

    name: str
    type: type
    default: Any
    help: str = ""

    @property
    def type_name(self) -> str:
        return self.type.__name__

    def describe(self) -> str:
        """``alpha (float, default 0.05): significance level`` — used in error messages and --help."""
        text = f"{self.name} ({self.type_name}, default {self.default!r})"
        return f"{text}: {self.help}" if self.help else text

    def coerce(self, value: Any) -> Any:
        """Return ``value`` as this parameter's type; text (from the command line) is parsed.

        Raises :class:`ParameterError` naming the parameter, the expected type and the given value.
        """
        try:
            return _coerce(self.type, value)
        except (TypeError, ValueError):
            raise ParameterError(
                f"parameter {self.name!r} expects {self.type_name}, got {value!r}"
                + (f" ({self.help})" if self.help else "")
            ) from None


def _coerce(kind: type, value: Any) -> Any:
    if kind is str:
        if isinstance(value, str):
            return value
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        raise TypeError
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError
    if isinstance(value, bool):  # bool is an int subclass: never accept it as a number
        raise TypeError
    if kind is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            return int(value.strip().replace("_", ""))
        raise TypeError
    if kind is float:
        if isinstance(value, (int, float)):
            out = float(value)
        elif isinstance(value, str):
            out = float(value.strip())
        else:
            raise TypeError
        if math.isnan(out):
            raise ValueError
        return out
    raise TypeError  # pragma: no cover - TYPES is closed


def parse_parameters_source(source: str, *, where: str = "parameters cell") -> dict[str, Parameter]:
    """Parse the source of a parameters cell into ``{name: Parameter}`` (in declaration order).

    Each parameter is an annotated assignment ``name: type = literal`` with an optional trailing
    ``# help`` comment; a plain ``name = literal`` takes its type from the literal. Anything else
    (calls, expressions, unsupported types) is an error, because the runner could not check it.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParameterError(f"{where}: line {exc.lineno}: cannot parse ({exc.msg})") from None
    comments = _line_comments(source)
    params: dict[str, Parameter] = {}
    for node in tree.body:
        line = node.lineno
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
            type_name = ast.unparse(node.annotation)
            if type_name not in TYPES:
                raise ParameterError(
                    f"{where}: line {line}: parameter {name!r} has type {type_name!r}; "
                    f"use one of {', '.join(TYPES)}"
                )
            kind = TYPES[type_name]
            if node.value is None:
                raise ParameterError(f"{where}: line {line}: parameter {name!r} needs a default value")
            value_node = node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            value_node = node.value
            kind = None
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # a docstring-like note
        else:
            raise ParameterError(
                f"{where}: line {line}: only 'name: type = value  # help' lines are allowed, got "
                f"{ast.unparse(node)[:60]!r}"
            )
        try:
            default = ast.literal_eval(value_node)
        except ValueError:
            raise ParameterError(
                f"{where}: line {line}: the default of {name!r} must be a literal, got {ast.unparse(value_node)!r}"
            ) from None
        if kind is None:
            kind = type(default)
            if kind not in TYPES.values():
                raise ParameterError(
                    f"{where}: line {line}: parameter {name!r} has a {kind.__name__} default; "
                    f"declare it as 'name: type = value' with type one of {', '.join(TYPES)}"
                )
        if name in params:
            raise ParameterError(f"{where}: line {line}: parameter {name!r} is declared twice")
        try:
            default = _coerce(kind, default)
        except (TypeError, ValueError):
            raise ParameterError(
                f"{where}: line {line}: default {default!r} of {name!r} is not of type {kind.__name__}"
            ) from None
        params[name] = Parameter(name, kind, default, comments.get(node.end_lineno or line, ""))
    return params


def _line_comments(source: str) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):  # pragma: no cover - ast.parse already succeeded
        pass
    return out


def parameters_cell(notebook: dict) -> dict | None:
    """The first code cell tagged ``parameters`` of a notebook (as loaded JSON / nbformat), or None."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def notebook_parameters(notebook: str | os.PathLike[str] | dict) -> dict[str, Parameter]:
    """Declared parameters of a notebook file (or loaded notebook); ``{}`` when it has no parameters cell."""
    if isinstance(notebook, dict):
        data, where = notebook, "notebook"
    else:
        path = Path(notebook)
        if not path.exists():
            raise FileNotFoundError(f"notebook {path} does not exist")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ParameterError(f"{path}: not a notebook (invalid JSON at line {exc.lineno})") from None
        where = path.name
    cell = parameters_cell(data)
    if cell is None:
        return {}
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    return parse_parameters_source(source, where=f"{where}: parameters cell")


def describe_parameters(declared: dict[str, Parameter]) -> str:
    """One line listing the valid parameters with types, defaults and help."""
    if not declared:
        return "this notebook declares no parameters"
    return "; ".join(p.describe() for p in declared.values())


def check_parameters(declared: dict[str, Parameter], given: dict[str, Any], *, notebook: str = "notebook"
                     ) -> dict[str, Any]:
    """Validate ``given`` against ``declared`` and return the coerced values (only the given names).

    Raises :class:`ParameterError` (a ``ValueError``) for an unknown name — the message lists the
    valid parameters with their help — or for a value that cannot be converted to the declared type.
    """
    unknown = [name for name in given if name not in declared]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, list(declared), n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ParameterError(
            f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(hints)} for {notebook}; "
            f"valid parameters: {describe_parameters(declared)}"
        )
    return {name: declared[name].coerce(value) for name, value in given.items()}


def parse_assignments(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``["alpha=0.01", "study=cogload"]`` → ``{"alpha": "0.01", "study": "cogload"}`` (values stay text)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ParameterError(f"parameter {item!r} is not of the form name=value (e.g. -p alpha=0.01)")
        out[name] = value
    return out
