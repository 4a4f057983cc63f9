"""Audit log lines for account changes made by an admin (logger ``paissive_income.audit``)."""

from __future__ import annotations

import logging

log = logging.getLogger("paissive_income.audit")


def audit(action: str, *, actor_id: int, user_id: int | None = None, **details: object) -> None:
    """Log one admin action: who did what to whom (ids only, never a password or a link)."""
    log.info(
        "audit %s by user %s on user %s",
        action,
        actor_id,
        user_id,
        extra={"audit_action": action, "actor_id": actor_id, "target_user_id": user_id, **details},
    )
