"""Every mouselab setting, declared once: name, type, default and meaning.

Resolution order (first wins): environment variable ``MOUSELAB_<NAME>`` (upper case) → the ``[mouselab]``
table of ``mouselab.toml`` in the working directory (or the file named by ``MOUSELAB_CONFIG``) → default.
Nothing is read at import time; call :func:`get` or :func:`settings` when a value is needed.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One declared setting."""

    name: str
    type: type
    default: Any
    doc: str

    @property
    def env_var(self) -> str:
        return f"MOUSELAB_{self.name.upper()}"


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("store", str, "data/sample/store", "default store folder for commands that take --store"),
        Setting("kernel", str, "python3", "Jupyter kernel used to execute notebooks"),
        Setting("debug", bool, False, "show tracebacks instead of one-line errors"),
        Setting("key_file", str, "", "file holding the HMAC key for pseudonyms (kept outside the store)"),
        Setting("audit_key_file", str, "", "file holding the audit-log HMAC key (kept outside the store)"),
        Setting("operator", str, "", "who is running the analysis (recorded in audit entries)"),
        Setting("purpose", str, "research", "declared purpose of data access (checked against consent)"),
    )
}


def _coerce(setting: Setting, raw: Any, source: str) -> Any:
    if setting.type is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{source}: {setting.name} must be true or false, not {raw!r}")
    try:
        return setting.type(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: {setting.name} must be a {setting.type.__name__}, not {raw!r}") from None


def _file_values(path: Path | None = None) -> tuple[dict[str, Any], str]:
    path = path or Path(os.environ.get("MOUSELAB_CONFIG", "mouselab.toml"))
    if not path.exists():
        return {}, str(path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    values = data.get("mouselab", {})
    unknown = sorted(set(values) - set(SETTINGS))
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    return values, str(path)


def get(name: str, *, config_file: Path | None = None) -> Any:
    """The value of setting ``name`` (environment → mouselab.toml → default)."""
    try:
        setting = SETTINGS[name]
    except KeyError:
        raise ValueError(f"unknown setting {name!r}; known: {', '.join(SETTINGS)}") from None
    if setting.env_var in os.environ:
        return _coerce(setting, os.environ[setting.env_var], setting.env_var)
    values, source = _file_values(config_file)
    if name in values:
        return _coerce(setting, values[name], source)
    return setting.default


def settings(*, config_file: Path | None = None) -> dict[str, Any]:
    """Every setting's current value."""
    return {name: get(name, config_file=config_file) for name in SETTINGS}
