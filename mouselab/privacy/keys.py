"""Secret keys kept **outside** the store: the pseudonym key chain and the audit key.

Key file format (text, mode 0600, made by ``mouselab privacy keygen --out PATH``)::

    mouselab-key v1
    # comment lines are ignored
    9f0c…(64 hex digits)          ← oldest key
    51ab…(64 hex digits)          ← newest key (added by a rotation)

A file holds a *chain* of 32-byte keys. A fresh file holds one key. ``mouselab privacy rotate-key`` appends a
fresh key to the chain and re-keys every pseudonym of the store with it: the pseudonym under the chain
``[k1, …, kn]`` is ``HMAC(kn, …HMAC(k1, raw)…)``, so a store can be re-keyed *without knowing any raw id*
(the rotation maps each stored pseudonym through ``HMAC(k_new, ·)``), and new data pseudonymised with the
rotated file lands on the same pseudonyms. Whoever holds an old key alone can no longer link raw ids to the
store's pseudonyms; the newest key is the secret that matters.

Subkeys are derived per use with HMAC-SHA256 and a label (``mouselab/consent``, ``mouselab/app``, …), so one
file serves pseudonyms of participants, sessions, application names and consent tokens.

Which file: the ``key_file`` setting (``MOUSELAB_KEY_FILE`` or ``mouselab.toml``); the audit key: the
``audit_key_file`` setting when mouselab declares it, else the environment variable
``MOUSELAB_AUDIT_KEY_FILE``. A key inside the store folder is refused: a copy of the store would carry it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

HEADER = "mouselab-key v1"
KEY_BYTES = 32


class KeyFileError(ValueError):
    """A key file is missing, unreadable, too open or malformed; the message says what to do."""


@dataclass(frozen=True)
class KeyChain:
    """An ordered chain of secret keys (oldest first). ``keys[-1]`` is the current key."""

    keys: tuple[bytes, ...]
    path: Path | None = None

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyFileError("a key chain needs at least one key")
        for k in self.keys:
            if not isinstance(k, bytes) or len(k) < 16:
                raise KeyFileError("every key must be at least 16 bytes")

    @classmethod
    def of(cls, key: "bytes | KeyChain") -> "KeyChain":
        return key if isinstance(key, KeyChain) else cls((bytes(key),))

    @property
    def key_id(self) -> str:
        """A public fingerprint of the whole chain (recorded in the store's policy; reveals nothing)."""
        mac = hmac.new(b"mouselab/key-id", digestmod=hashlib.sha256)
        for k in self.keys:
            mac.update(hashlib.sha256(b"mouselab/key-id\0" + k).digest())
        return "k-" + mac.hexdigest()[:16]

    def extended(self, new: "KeyChain") -> "KeyChain":
        """This chain followed by the keys of ``new`` that it does not already end with."""
        if new.keys[: len(self.keys)] == self.keys:
            return KeyChain(new.keys, new.path)
        return KeyChain(self.keys + new.keys, new.path)

    def subkey(self, label: str, index: int = -1) -> bytes:
        return hmac.new(self.keys[index], f"mouselab/{label}".encode(), hashlib.sha256).digest()


def fresh_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def keygen(path: str | os.PathLike[str], *, force: bool = False, store: str | os.PathLike[str] | None = None) -> KeyChain:
    """Write a new one-key file at ``path`` (mode 0600; refuses to overwrite unless ``force``)."""
    path = Path(path).expanduser()
    if store is not None:
        refuse_inside_store(path, store)
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; a key is never overwritten by accident (use --force to replace it)")
    chain = KeyChain((fresh_key(),), path)
    write_chain(path, chain)
    return chain


def write_chain(path: Path, chain: KeyChain) -> None:
    """Atomically write ``chain`` to ``path`` with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    text = (
        f"{HEADER}\n# mouselab pseudonym key chain (oldest first). Keep this file outside every store, mode 0600;\n"
        "# losing it means new data can no longer be linked to existing pseudonyms.\n"
        + "".join(k.hex() + "\n" for k in chain.keys)
    )
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_chain(path: str | os.PathLike[str]) -> KeyChain:
    """Read a key file; refuses files readable by group or others."""
    path = Path(path).expanduser()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"key file {path} does not exist; create one with: mouselab privacy keygen --out {path}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError(f"key file {path} is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    if not text.startswith(HEADER):
        if len(raw) >= 16 and not text.strip().isalnum():  # a raw binary key (e.g. an old app.key)
            return KeyChain((raw,), path)
        raise KeyFileError(f"{path}: not a mouselab key file (first line must be {HEADER!r})")
    keys = []
    for number, line in enumerate(text.splitlines()[1:], start=2):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key = bytes.fromhex(line)
        except ValueError:
            raise KeyFileError(f"{path}, line {number}: not a hexadecimal key") from None
        keys.append(key)
    if not keys:
        raise KeyFileError(f"{path}: holds no key")
    return KeyChain(tuple(keys), path)


def refuse_inside_store(key_path: str | os.PathLike[str], store: str | os.PathLike[str]) -> None:
    key = Path(key_path).expanduser().resolve()
    root = Path(store).expanduser().resolve()
    if key == root or root in key.parents:
        raise PermissionError(
            f"key file {key_path} lies inside the store {store}; keep keys outside the store (a copy of the "
            "store would carry the key and undo the pseudonymisation)"
        )


def configured_key_path() -> Path | None:
    """The pseudonym key file named by the ``key_file`` setting, or None."""
    from mouselab import config

    value = config.get("key_file")
    return Path(value).expanduser() if value else None


def configured_chain(store: str | os.PathLike[str] | None = None) -> KeyChain | None:
    """The configured pseudonym key chain (None when no key file is configured)."""
    path = configured_key_path()
    if path is None:
        return None
    if store is not None:
        refuse_inside_store(path, store)
    return load_chain(path)


def configured_audit_key_path() -> Path | None:
    """The audit key file: setting ``audit_key_file`` (env ``MOUSELAB_AUDIT_KEY_FILE`` or mouselab.toml)."""
    from mouselab import config

    value = config.get("audit_key_file")
    return Path(value).expanduser() if value else None


def audit_key(store: str | os.PathLike[str] | None = None) -> bytes | None:
    """The configured audit key (the newest key of its file) or None."""
    path = configured_audit_key_path()
    if path is None:
        return None
    if store is not None:
        refuse_inside_store(path, store)
    return load_chain(path).keys[-1]


def adopt(store_path: str | os.PathLike[str]) -> str | None:
    """Make the store pseudonymised under the configured key if it holds no participant data yet.

    Returns the store's pseudonym key id (None: plain store — no key configured, or data already stored
    under raw ids; convert it with ``mouselab privacy pseudonymise``). Never changes the key of a store.
    """
    import json

    from mouselab.privacy import governance

    chain = configured_chain(store_path)
    if chain is None:
        return governance.load_policy(store_path).get("pseudonym_key_id") if governance.is_governed(store_path) else None
    policy = governance.load_policy(store_path)
    if policy.get("pseudonym_key_id"):
        return policy["pseudonym_key_id"]
    manifest = Path(store_path) / "manifest.json"
    try:
        tables = json.loads(manifest.read_text()).get("tables", {})
    except FileNotFoundError:
        tables = {}
    has_people = any("participant=" in rel for files in tables.values() for rel in files)
    registry = governance.governance_dir(store_path) / "consent.jsonl"
    if has_people or (registry.exists() and registry.stat().st_size):
        return None
    governance.update_policy(store_path, pseudonym_key_id=chain.key_id)
    return chain.key_id
