"""``GET /v1/account``: the key's balance, shaped as the SDK's account model."""

from __future__ import annotations

from fastapi import APIRouter

from openlipsync.api.deps import KeyDep, RuntimeDep
from openlipsync.api.schemas import Account
from openlipsync.jobs.accounts.keys import balance

router = APIRouter()


@router.get("/v1/account", response_model=Account, tags=["account"])
def read_account(key: KeyDep, runtime: RuntimeDep) -> dict:
    credits = balance(runtime.db, key.id)
    # No plans here: every feature is open, which in Magic Hour's terms is the top tier.
    return {"id": key.id, "email": None, "credits": credits, "tier": "business", "subscription": None}
