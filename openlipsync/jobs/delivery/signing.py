"""Signed, expiring links: upload PUTs and output downloads need no Authorization header.

A link carries ``expires`` (Unix seconds) and ``signature`` = HMAC-SHA256 over the method, the
path and the expiry, so a signature for one file, one verb or one deadline fits no other.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from openlipsync.core.config import MIN_SECRET_CHARS, Settings


def load_secret(settings: Settings) -> bytes:
    """The signing key: the configured one, else a random key kept in the data folder.

    Every process of one installation must share it; a cluster sets ``OPENLIPSYNC_SECRET_KEY``.
    The file appears with its content or not at all (written aside, then hard-linked into place),
    so a process starting while another creates it never reads an empty key.
    """
    if settings.secret_key:
        return settings.secret_key.encode()
    path = Path(settings.data_dir) / "secret.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
                out.flush()
                os.fsync(out.fileno())
            os.chmod(draft, 0o600)
            with contextlib.suppress(FileExistsError):  # another process won: use its key
                os.link(draft, path)
        finally:
            os.unlink(draft)
    secret = path.read_text().strip()
    if len(secret) < MIN_SECRET_CHARS:
        raise RuntimeError(f"{path} holds a signing key shorter than {MIN_SECRET_CHARS} characters; "
                           "delete it to have a new one made (links handed out so far stop working)")
    return secret.encode()


class SignatureError(Exception):
    """A link whose signature is wrong, or whose time is up."""


class Signer:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, method: str, path: str, expires: int) -> str:
        message = f"{method.upper()}\n{path}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, method: str, path: str, ttl_s: int) -> tuple[str, int]:
        """The query string for ``path`` and the expiry it carries."""
        expires = int(time.time()) + ttl_s
        query = urlencode({"expires": expires, "signature": self._mac(method, path, expires)})
        return query, expires

    def verify(self, method: str, path: str, expires: str | None, signature: str | None) -> None:
        """Raise SignatureError unless the link is genuine and still valid."""
        if not expires or not signature or not expires.isdigit():
            raise SignatureError("missing or malformed signature")
        if not hmac.compare_digest(self._mac(method, path, int(expires)), signature):
            raise SignatureError("invalid signature")
        if int(expires) < time.time():
            raise SignatureError("link expired")
