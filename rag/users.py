"""Chat logins: a users file of ``name:role:scrypt-hash`` lines.

Readers ask questions; editors may also upload, delete and re-index. The file
is written by ``rag users add`` and read by ``rag serve`` (``RAG_UI_USERS``).
Hashes are stdlib scrypt with a random salt, compared in constant time; the
password never reaches the file, a log or a report.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

ROLES = ("reader", "editor")
# Interactive-login cost (~50 ms, 16 MiB here): slow for a guesser, quick for a person.
_N, _R, _P = 2**14, 8, 1
_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash``: no ``:`` in it, so it fits a users-file line."""
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = _unb64(digest)
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected), maxmem=2**26
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


_DUMMY = hash_password(secrets.token_hex(8))  # checked for unknown names, so timing does not reveal them


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str = ""

    def __repr__(self) -> str:  # the hash stays out of logs and tracebacks
        return f"User(name={self.name!r}, role={self.role!r})"


class Users:
    """The logins the chat accepts; empty means the chat asks for none."""

    def __init__(self, users: dict[str, User]) -> None:
        self._users = users

    def __bool__(self) -> bool:
        return bool(self._users)

    def __len__(self) -> int:
        return len(self._users)

    def names(self) -> list[str]:
        return sorted(self._users)

    def role(self, name: str | None) -> str | None:
        user = self._users.get(name or "")
        return user.role if user else None

    def check(self, name: str, password: str) -> bool:
        user = self._users.get(name)
        ok = verify_password(password or "", user.password_hash if user else _DUMMY)
        return ok and user is not None

    @classmethod
    def from_settings(cls, users_file: str, single: str) -> Users:
        """The users file (``RAG_UI_USERS``) plus the one ``user:password`` of ``RAG_UI_AUTH``, an editor."""
        users = read_users(Path(users_file).expanduser()) if users_file else {}
        if single:
            name, sep, password = single.partition(":")
            if not sep or not name or not password:
                raise ValueError("RAG_UI_AUTH must look like user:password")
            users[name] = User(name, "editor", hash_password(password))
        return cls(users)


def read_users(path: Path) -> dict[str, User]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise ValueError(f"users file {path} does not exist (create it with `rag users add NAME`)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"users file {path} cannot be read: {exc}") from exc
    users: dict[str, User] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if (
            len(parts) != 3
            or not _NAME.fullmatch(parts[0])
            or parts[1] not in ROLES
            or not parts[2].startswith("scrypt$")
        ):
            raise ValueError(f"{path} line {number}: expected name:role:scrypt-hash with role reader or editor")
        users[parts[0]] = User(*parts)
    return users


def add_user(path: Path, name: str, role: str, password: str) -> bool:
    """Add or replace one login; returns True when it replaced one. The file is private (0600)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"user name {name!r}: use 1-64 letters, digits and . _ @ -")
    if role not in ROLES:
        raise ValueError(f"role {role!r}: use reader or editor")
    users = read_users(path) if path.exists() else {}
    replaced = name in users
    users[name] = User(name, role, hash_password(password))
    _write(path, users)
    return replaced


def remove_user(path: Path, name: str) -> bool:
    users = read_users(path)
    if users.pop(name, None) is None:
        return False
    _write(path, users)
    return True


def _write(path: Path, users: dict[str, User]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# briefing Q&A logins: name:role:scrypt-hash (rag users add NAME --role reader|editor)\n")
        fh.writelines(f"{u.name}:{u.role}:{u.password_hash}\n" for u in users.values())
    os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply when tmp already existed
    os.replace(tmp, path)
