"""The focused application, reduced to what a study may keep: a keyed pseudonym or a coarse category.

Only the window *class* (X11 ``WM_CLASS``, e.g. ``firefox``) is ever read, never a window title. The class is
turned into

* ``pseudonym`` (default): ``app-`` + the first 16 hex digits of an HMAC-SHA256 of the class. Stable within a
  store (same key), meaningless without the key. When a pseudonym key is configured (setting ``key_file``, see
  :mod:`mouselab.privacy.keys`) the HMAC uses a subkey of it, kept **outside** the store, and the label is
  re-keyed with the store on rotation. Without one (legacy), the key lives in ``STORE/capture/app.key``
  (mode 0600) unless another file is given; keep it out of shared copies of the data: the set of application
  names is small, so whoever holds the key can re-identify the applications.
* ``category``: one of a few coarse groups (browser, editor, terminal, office, communication, media, files,
  other).
* ``off``: nothing is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

MODES = ("pseudonym", "category", "off")

_CATEGORIES: dict[str, tuple[str, ...]] = {
    "browser": ("firefox", "chromium", "chrome", "google-chrome", "brave", "vivaldi", "opera", "microsoft-edge",
                "epiphany", "falkon", "qutebrowser", "librewolf", "navigator"),
    "editor": ("code", "vscodium", "sublime", "gedit", "kate", "emacs", "gvim", "jetbrains", "pycharm", "idea",
               "rstudio", "texstudio", "zed", "jupyter"),
    "terminal": ("terminal", "xterm", "konsole", "alacritty", "kitty", "urxvt", "tilix", "terminator", "wezterm"),
    "office": ("libreoffice", "soffice", "evince", "okular", "zathura", "acroread", "onlyoffice", "wps",
               "calc", "writer"),
    "communication": ("thunderbird", "evolution", "slack", "discord", "teams", "zoom", "signal", "telegram",
                      "element", "skype", "mattermost"),
    "media": ("vlc", "mpv", "spotify", "totem", "rhythmbox", "gimp", "inkscape", "krita", "eog", "shotwell"),
    "files": ("nautilus", "dolphin", "thunar", "pcmanfm", "nemo", "caja"),
}


def category(app_class: str) -> str:
    """Coarse category of a window class (``other`` when unknown)."""
    name = app_class.lower()
    for group, needles in _CATEGORIES.items():
        if any(n in name for n in needles):
            return group
    return "other"


def load_key(path: Path) -> bytes:
    """Read the HMAC key at ``path``, creating a random 32-byte key (mode 0600) when it does not exist."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < 16:
            raise ValueError(f"{path}: application key is shorter than 16 bytes; delete it to make a new one") from None
        return key
    key = secrets.token_bytes(32)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


class AppLabeler:
    """Maps a window class to the value stored in ``events.app`` (or None: record nothing)."""

    def __init__(self, mode: str, key: bytes | None = None, *, chain=None):
        if mode not in MODES:
            raise ValueError(f"app mode {mode!r} is not one of {', '.join(MODES)}")
        if mode == "pseudonym" and not key and chain is None:
            raise ValueError("pseudonym mode needs a key")
        self.mode = mode
        self._key = key
        self._chain = chain

    def __call__(self, app_class: str | None) -> str | None:
        if not app_class or self.mode == "off":
            return None
        if self.mode == "category":
            return category(app_class)
        if self._chain is not None:
            from mouselab.privacy.pseudonym import app

            return app(app_class, self._chain)
        digest = hmac.new(self._key, app_class.strip().lower().encode(), hashlib.sha256).hexdigest()
        return "app-" + digest[:16]
