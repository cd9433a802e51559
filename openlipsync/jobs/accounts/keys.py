"""API keys: each key is an account with a credit balance. Secrets are stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlipsync.jobs.accounts import credits
from openlipsync.jobs.errors import InsufficientCredits, NotFound
from openlipsync.store.db import FIRST_KEY_LOCK, Database
from openlipsync.store.models import ApiKey, now

SECRET_PREFIX = "olk_"


def hash_secret(secret: str) -> str:
    # Keys are long random strings, so a plain SHA-256 is enough (no password stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_key(name: str, initial_credits: int) -> tuple[ApiKey, str]:
    """An unsaved key row and its secret."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, key_hash=hash_secret(secret), prefix=secret[:12], credits=initial_credits)
    return key, secret


def create_key(db: Database, name: str, initial_credits: int) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret cannot be recovered later."""
    key, secret = _new_key(name, initial_credits)
    with db.session() as session:
        session.add(key)
    return key, secret


def ensure_first_key(db: Database, initial_credits: int) -> str | None:
    """On a fresh installation, create the first key and return its secret (else None).

    The check and the insert are one serialized transaction: API processes of a cluster that
    start together on an empty database make one key between them, not one each.
    """
    with db.session() as session:
        db.serialize(session, FIRST_KEY_LOCK)
        if session.scalar(select(func.count()).select_from(ApiKey)):
            return None
        key, secret = _new_key("admin", initial_credits)
        session.add(key)
    return secret


def authenticate(session: Session, secret: str) -> ApiKey | None:
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(secret)))
    return key if key is not None and key.revoked_at is None else None


def balance(db: Database, key_id: str) -> int:
    """The key's credits now, read fresh (the key row authenticated for this request may be stale)."""
    with db.session() as session:
        return _get(session, key_id).credits


def list_keys(db: Database) -> list[ApiKey]:
    with db.session() as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def _get(session: Session, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no key with id {key_id!r}")
    return key


def revoke_key(db: Database, key_id: str) -> ApiKey:
    """Refuse the key from now on; returns it (its projects and balance stay for the books)."""
    with db.session() as session:
        key = _get(session, key_id)
        key.revoked_at = now()
        return key


def add_credits(db: Database, key_id: str, amount: int) -> int:
    """Top up (or, with a negative amount, take back) credits; returns the new balance."""
    with db.session() as session:
        _get(session, key_id)
        if amount >= 0:
            credits.give(session, key_id, amount)
        elif not credits.charge(session, key_id, -amount):
            raise InsufficientCredits(f"the balance of {key_id} is less than {-amount}")
        return session.get(ApiKey, key_id, populate_existing=True).credits
