"""Typed readers for settings that come from the environment.

Each helper fails loudly on a value it cannot parse: a typo in DEBUG or PORT
should stop the process at start-up, not surface as odd behaviour later.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum of {maximum}.")
    return value


def env_optional_str(name: str) -> str | None:
    """The value, or None when the variable is unset or empty."""
    return os.environ.get(name) or None


# A request header's name as a proxy sends it, and the value that means "the client used HTTPS".
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
_HEADER_VALUE = re.compile(r"[A-Za-z0-9._-]+")


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """Django's SECURE_PROXY_SSL_HEADER from ``X-Forwarded-Proto`` (meaning ``https``) or ``X-Forwarded-Ssl: on``.

    None when unset: the request's own scheme is trusted (uvicorn already takes it from a proxy on 127.0.0.1).
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    header, _, value = (part.strip() for part in raw.partition(":"))
    value = value or "https"
    if not _HEADER_NAME.fullmatch(header) or not _HEADER_VALUE.fullmatch(value):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a header name with an optional value; "
                                   "use e.g. 'X-Forwarded-Proto' or 'X-Forwarded-Proto: https'.")
    return f"HTTP_{header.upper().replace('-', '_')}", value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


def secret_key(var_dir: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/."""
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # O_EXCL: when two processes start together, the first writer wins and the
    # second reads what it wrote.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (0700); an older install's 0755 is tightened too."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path)
    return path


def private_file(path: Path) -> None:
    """Make ``path`` (created empty when missing) readable by its owner only (0600).

    Used for the SQLite database before SQLite opens it: SQLite gives its -wal and -shm files the database's
    mode, so they start private too.
    """
    if not path.parent.is_dir():
        return  # the database's own error says more than ours would
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for each in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        if each.exists():
            _tighten(each)


def write_private_text(path: Path, text: str) -> Path:
    """Write ``text`` (and a newline) to ``path``, readable by its owner only (0600), an existing file too."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    _tighten(path)
    return path


def _tighten(path: Path) -> None:
    """Take the group's and others' bits off ``path``; say clearly when this user may not."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return
    try:
        os.chmod(path, mode & 0o700)
    except PermissionError:
        raise ImproperlyConfigured(
            f"{path} is mode {mode:04o} and this user may not make it private ({mode & 0o700:04o}): "
            "run the portal as the user that owns it, or change its mode yourself."
        ) from None
