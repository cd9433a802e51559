"""Credit arithmetic as single conditional UPDATEs, so concurrent jobs can never overdraw.

The balance lives in one row; every change is ``UPDATE ... WHERE credits >= amount`` (or an
increment), which the database applies atomically: no read-modify-write in Python.
"""

from __future__ import annotations

import math

from sqlalchemy import update
from sqlalchemy.orm import Session

from openlipsync.core.metrics import CREDITS_CHARGED, CREDITS_REFUNDED
from openlipsync.store.models import ApiKey

#: Credits per rendered frame, by generation mode.
RATES = {"lite": 1, "standard": 1, "pro": 2}
#: The frame rate of the estimate charged at queue time (Magic Hour's rule).
ESTIMATE_FPS = 30


def estimate_frames(start: float, end: float) -> int:
    # round() first so 1.0 s x 30 stays 30 frames instead of ceil(30.000000000000004) = 31.
    return max(math.ceil(round((end - start) * ESTIMATE_FPS, 6)), 1)


def frame_cost(frames: int, mode: str) -> int:
    return frames * RATES[mode]


def charge(session: Session, key_id: str, amount: int) -> bool:
    """Take ``amount`` if the balance covers it; False (and nothing taken) otherwise."""
    result = session.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.credits >= amount)
        .values(credits=ApiKey.credits - amount)
    )
    return result.rowcount == 1


def give(session: Session, key_id: str, amount: int) -> None:
    """Refunds and operator top-ups."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(credits=ApiKey.credits + amount))


def refund(session: Session, key_id: str, amount: int) -> None:
    """Give back credits a job was charged (counted, unlike an operator's top-up)."""
    give(session, key_id, amount)
    CREDITS_REFUNDED.inc(amount)


def settle(session: Session, key_id: str, charged: int, actual: int) -> int:
    """Turn the estimate ``charged`` into ``actual``; returns what the job costs in the end.

    Above the estimate (input over 30 fps) the extra is taken only as far as the balance
    goes: the balance never turns negative, and the job costs at most estimate + balance.
    """
    if actual <= charged:
        refund(session, key_id, charged - actual)
        return actual
    extra = actual - charged
    while True:
        balance = session.get(ApiKey, key_id, populate_existing=True).credits
        taken = min(extra, balance)
        if charge(session, key_id, taken):
            CREDITS_CHARGED.inc(taken)
            return charged + taken
