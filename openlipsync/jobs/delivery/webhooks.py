"""Webhooks: events recorded with the state change that causes them, delivered by a background loop.

An event is a row written in the same transaction as the project's new state (an outbox), so
no event is lost when the process dies between the two. The dispatcher POSTs it, signed as
Magic Hour signs (CONTRACT.md section 7), and retries non-2xx answers with exponential backoff.
Endpoints are registered by the operator, so they may be on private networks: no SSRF guard.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time

import httpx
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from openlipsync.core.config import Settings
from openlipsync.core.metrics import WEBHOOK_ATTEMPTS
from openlipsync.jobs.delivery.links import Links
from openlipsync.jobs.delivery.views import project_payload
from openlipsync.jobs.errors import InvalidRequest, NotFound
from openlipsync.jobs.loops import repeat
from openlipsync.store.db import Database
from openlipsync.store.models import Project, Webhook, WebhookDelivery, now

STARTED, COMPLETED, ERRORED = "video.started", "video.completed", "video.errored"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``magic-hour-event-signature``: hex HMAC-SHA256 of ``"{timestamp}.{raw body}"``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def add_webhook(db: Database, url: str, key_id: str | None = None) -> Webhook:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidRequest(f"webhook URL must be http(s): {url!r}")
    hook = Webhook(url=url, secret="whsec_" + secrets.token_hex(24), key_id=key_id)
    with db.session() as session:
        session.add(hook)
    return hook


def list_webhooks(db: Database) -> list[Webhook]:
    with db.session() as session:
        return list(session.scalars(select(Webhook).order_by(Webhook.created_at)))


def remove_webhook(db: Database, webhook_id: str) -> tuple[str, int]:
    """Delete the endpoint and its delivery records (pending ones are never sent);
    returns its URL and how many records went with it."""
    with db.session() as session:
        hook = session.get(Webhook, webhook_id)
        if hook is None:
            raise NotFound(f"no webhook with id {webhook_id!r}")
        url = hook.url
        records = delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
        dropped = session.execute(records).rowcount
        session.delete(hook)
    return url, dropped


def list_deliveries(db: Database, limit: int = 50) -> list[WebhookDelivery]:
    with db.session() as session:
        query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
        return list(session.scalars(query))


def record_event(session: Session, project: Project, event: str, links: Links, settings: Settings) -> None:
    """Queue ``event`` for every endpoint that listens to the project's key (same transaction)."""
    listens = or_(Webhook.key_id.is_(None), Webhook.key_id == project.key_id)
    hooks = session.scalars(select(Webhook).where(Webhook.enabled, listens)).all()
    if not hooks:
        return
    payload = project_payload(project, links, settings.download_url_ttl_s)
    body = json.dumps({"type": event, "payload": payload}, separators=(",", ":"))
    for hook in hooks:
        session.add(WebhookDelivery(webhook_id=hook.id, project_id=project.id, event=event, body=body))


class WebhookDispatcher:
    """Delivers due events; safe to run in several processes (each delivery is claimed first)."""

    POLL_S = 0.25

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._client = httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False)

    def _claim_due(self) -> list[tuple[WebhookDelivery, Webhook]]:
        """Due deliveries, each pushed into the future so no other dispatcher takes it meanwhile."""
        moment = now()
        hold = moment + 2 * self._settings.webhook_timeout_s
        claimed = []
        with self._db.session() as session:
            due = session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.status == "pending",
                                              WebhookDelivery.next_attempt_at <= moment).limit(20)
            ).all()
            for delivery in due:
                won = session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == "pending",
                           WebhookDelivery.next_attempt_at == delivery.next_attempt_at)
                    .values(next_attempt_at=hold)
                ).rowcount
                if won:
                    claimed.append((delivery, session.get(Webhook, delivery.webhook_id)))
        return claimed

    def _send(self, delivery: WebhookDelivery, hook: Webhook) -> tuple[int | None, str | None]:
        body = delivery.body.encode()
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "magic-hour-event-timestamp": timestamp,
            "magic-hour-event-signature": signature(hook.secret, timestamp, body),
        }
        try:
            response = self._client.post(hook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None if response.is_success else f"HTTP {response.status_code}"

    def _record(self, delivery: WebhookDelivery, status_code: int | None, error: str | None,
                final: bool = False) -> None:
        attempts = delivery.attempts + 1
        values: dict = {"attempts": attempts, "last_status_code": status_code, "last_error": error}
        if error is None:
            values.update(status="delivered", delivered_at=now())
        else:
            retry_at = now() + self._settings.webhook_backoff_base_s * 2 ** (attempts - 1)
            if final or retry_at - delivery.created_at > self._settings.webhook_max_age_s:
                values.update(status="failed")
            else:
                values.update(next_attempt_at=retry_at)
        WEBHOOK_ATTEMPTS.labels(values.get("status", "retrying")).inc()
        with self._db.session() as session:
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(**values))

    def run_once(self) -> int:
        """Deliver what is due; returns how many were attempted."""
        claimed = self._claim_due()
        for delivery, hook in claimed:
            if not hook.enabled:
                self._record(delivery, None, "webhook removed", final=True)
                continue
            self._record(delivery, *self._send(delivery, hook))
        return len(claimed)

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; a database outage is logged once and waited out."""
        try:
            repeat(stop, lambda: self.run_once() > 0, self.POLL_S, "webhook delivery")
        finally:
            self._client.close()
