"""Request dependencies: the process's runtime, the caller's API key, the public base URL."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from openlipsync.jobs.accounts.keys import authenticate
from openlipsync.jobs.accounts.quotas import KeyLimits, check_rate
from openlipsync.jobs.runtime import Runtime
from openlipsync.store.models import ApiKey


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def current_key(runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None) -> ApiKey:
    """The key of ``Authorization: Bearer <key>``; 401 ``Unauthorized`` for anything else, 429
    (with ``Retry-After``) past the key's requests per minute."""
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise HTTPException(401, "Unauthorized")
    with runtime.db.session() as session:
        key = authenticate(session, secret.strip())
    if key is None:
        raise HTTPException(401, "Unauthorized")
    check_rate(runtime.counter, key.id, KeyLimits.of(key, runtime.settings))
    return key


KeyDep = Annotated[ApiKey, Depends(current_key)]


def base_url(request: Request, runtime: RuntimeDep) -> str:
    """Where clients reach us: the configured public URL, else the request's own scheme and host."""
    return (runtime.settings.public_base_url or str(request.base_url)).rstrip("/")


BaseUrlDep = Annotated[str, Depends(base_url)]
