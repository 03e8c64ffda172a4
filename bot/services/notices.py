"""Notifications: messages to people other than the one acting (pushes to customers, jobs to
engineers, cards to approvers, reminders).

Each is an outbox row written in the transaction of the change that causes it, so a rolled-back
change tells nobody and a committed one cannot lose its message. The sender in handlers/outbox.py
delivers them after commit under Telegram's flood limits, in order per person.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.services import requests
from bot.services.users import ROLE_ADMIN, is_staff
from storage.db import UnitOfWork
from storage.models import Customer, OutboxMessage, ServiceRequest, User

VIEW = "view"  # rendered when caused: {"text": html, "markup": inline keyboard dict | None, "photos": [...], "voices": [...]}
APPROVAL = "approval"  # an approval step's card: {"approval_id", "step"}, rendered when sent (it may be decided by then)
UNREACHABLE = "unreachable"  # somebody blocked the bot: {"person_id"}, rendered for each reader when sent
ASSIGNED_ROLES = frozenset({"engineer", "technical_expert"})  # work reaches them from the dispatchers


async def queue(uow: UnitOfWork, user: User, kind: str, payload: dict[str, Any], key: str, now: datetime,
                *, not_before: datetime | None = None) -> bool:
    """Record a notification for `user`, due now (or at `not_before`); False (nothing recorded)
    when they cannot be reached (`may_reach`)."""
    if not await may_reach(uow, user):
        return False
    return await uow.outbox.add_once(OutboxMessage(
        key=key, user_id=user.id, kind=kind, payload=payload, not_before=not_before or now, created_at=now,
    ))


async def may_reach(uow: UnitOfWork, user: User) -> bool:
    """Whether `user` may be messaged: not blocked, and active staff or a customer.

    `is_active` is a staff flag: someone deactivated is a customer again (users.is_staff), so they
    still hear about their own requests; one who never was a customer hears nothing. Staff news
    never reaches them, because it is addressed by role (role holders are read among active staff)
    or to a named staff member whom the caller checks (`is_active`: the request's engineer, the
    quoter, the requester…); the sender also drops staff kinds queued before they left."""
    if not user.is_reachable:
        return False
    return user.is_active or await uow.customers.by_user_id(user.id) is not None


async def blocked(uow: UnitOfWork, telegram_id: int, now: datetime) -> User | None:
    """Telegram answered 403 for this person: mark them unreachable and, the first time only,
    tell the staff who must now reach them another way (dispatchers for a customer, admins for
    a staff member, and the dispatchers too for an engineer or expert). Returns the person when
    this call marked them."""
    person = await uow.users.mark_unreachable(telegram_id)

    if person is None:
        return None  # unknown, or already known to be unreachable: the staff were told then
    if not is_staff(person):
        readers = await requests.dispatchers(uow)
    else:  # engineers' and experts' work is given by the dispatchers, who must know too
        readers = await uow.users.active_with_role(ROLE_ADMIN)
        if person.role_names & ASSIGNED_ROLES:
            readers += [d for d in await requests.dispatchers(uow) if d.id not in {r.id for r in readers}]
    for reader in readers:
        if reader.id != person.id:
            key = f"{UNREACHABLE}:{person.id}:{reader.id}:{now.isoformat()}"
            await queue(uow, reader, UNREACHABLE, {"person_id": person.id}, key, now)
    return person


@dataclass(frozen=True)
class Unreachable:
    """Who blocked the bot, as the alert shows it (rendered in each reader's language)."""

    person: User
    customer: Customer | None
    open_requests: list[ServiceRequest]


async def unreachable(uow: UnitOfWork, person_id: int) -> Unreachable | None:
    """None when the person has written to us again since (they unblocked the bot)."""
    person = await uow.users.get(person_id)
    if person is None or person.is_reachable:
        return None
    customer = None if is_staff(person) else await uow.customers.by_user_id(person.id)
    open_requests = []
    if customer is not None:
        recent = await uow.requests.page_of_customer(customer.id, 0, 20)
        open_requests = [request for request in recent if request.status in requests.OPEN_STATUSES]
    elif "engineer" in person.role_names:  # their jobs must be followed up or reassigned
        open_requests = await uow.dispatch.jobs_of(person.id, (requests.ASSIGNED, requests.IN_PROGRESS))
    return Unreachable(person, customer, open_requests)
