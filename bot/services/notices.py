"""Notifications: messages to people other than the one acting (pushes to customers, jobs to
engineers, cards to approvers, reminders).

Each is an outbox row written in the transaction of the change that causes it, so a rolled-back
change tells nobody and a committed one cannot lose its message. The sender in handlers/outbox.py
delivers them after commit under Telegram's flood limits, in order per person.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.services import complaints, requests
from bot.services.users import ROLE_ADMIN, ROLE_DISPATCHER, is_staff
from storage.db import UnitOfWork
from storage.models import Complaint, Customer, OutboxMessage, ServiceRequest, User

VIEW = "view"  # rendered when caused: {"text": html, "markup": inline keyboard dict | None, "photos": [...], "voices": [...]}
APPROVAL = "approval"  # an approval step's card: {"approval_id", "step"}, rendered when sent (it may be decided by then)
UNREACHABLE = "unreachable"  # somebody blocked the bot: {"person_id"}, rendered for each reader when sent
ANSWER_UNDELIVERED = "answer_undelivered"  # a complaint's held written answer met a 403: {"complaint_id"}, to whoever sent it
ASSIGNED_ROLES = frozenset({"engineer", "technical_expert"})  # work reaches them from the dispatchers
# payload: the role a notification reaches its reader by (a dispatcher's new-request notice, an
# approver's card): not queued, nor sent later, to someone who no longer holds it (`still_for`)
FOR_ROLE = "for_role"


async def queue(uow: UnitOfWork, user: User, kind: str, payload: dict[str, Any], key: str, now: datetime,
                *, not_before: datetime | None = None, for_role: str | None = None) -> bool:
    """Record a notification for `user`, due now (or at `not_before`); False (nothing recorded)
    when they cannot be reached (`may_reach`). `for_role`: the role it is addressed to them by;
    the sender drops it when they no longer hold that role by the time it goes out."""
    if not await may_reach(uow, user):
        return False
    if for_role is not None:
        if not (user.is_active and for_role in user.role_names):
            return False
        payload = payload | {FOR_ROLE: for_role}
    return await uow.outbox.add_once(OutboxMessage(
        key=key, user_id=user.id, kind=kind, payload=payload, not_before=not_before or now, created_at=now,
    ))


def still_for(user: User, message: OutboxMessage) -> bool:
    """Whether a queued message still goes to `user`: one addressed to them by a role (`FOR_ROLE`)
    only while they are active staff holding it (the role withdrawn meanwhile: its news and the
    data in it are no longer theirs)."""
    role = (message.payload or {}).get(FOR_ROLE)
    return role is None or (user.is_active and role in user.role_names)


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
    tell the staff who must now reach them another way (dispatchers and the engineers of their
    open jobs for a customer, admins for a staff member, and the dispatchers too for an engineer
    or expert). Returns the person when this call marked them."""
    person = await uow.users.mark_unreachable(telegram_id)

    if person is None:
        return None  # unknown, or already known to be unreachable: the staff were told then
    if not is_staff(person):
        # the engineers of their open jobs too: they phone the customer to agree the visit
        readers = await requests.dispatchers(uow) + await _engineers_of(uow, person)
    else:  # engineers' and experts' work is given by the dispatchers, who must know too
        readers = await uow.users.active_with_role(ROLE_ADMIN)
        if person.role_names & ASSIGNED_ROLES:
            readers += [d for d in await requests.dispatchers(uow) if d.id not in {r.id for r in readers}]
    told = {person.id}
    for reader in readers:
        if reader.id not in told:  # an engineer who is also a dispatcher is told once
            told.add(reader.id)
            key = f"{UNREACHABLE}:{person.id}:{reader.id}:{now.isoformat()}"
            await queue(uow, reader, UNREACHABLE, {"person_id": person.id}, key, now)
    return person


async def _engineers_of(uow: UnitOfWork, person: User) -> list[User]:
    """The active engineers of this customer's open jobs (each once)."""
    customer = await uow.customers.by_user_id(person.id)
    if customer is None:
        return []
    engineers: dict[int, User] = {}
    for request in await _open_requests_of(uow, customer):
        engineer_id = request.assigned_engineer_id
        if engineer_id is not None and engineer_id not in engineers:
            engineer = await uow.users.get(engineer_id)
            if engineer is not None and engineer.is_active:  # one who left hears no staff news
                engineers[engineer_id] = engineer
    return list(engineers.values())


async def _open_requests_of(uow: UnitOfWork, customer: Customer) -> list[ServiceRequest]:
    """All the customer's open requests, newest first (however many closed ones came since)."""
    everything = await uow.archive.requests_of(customer_id=customer.id)
    return [request for request in reversed(everything) if request.status in requests.OPEN_STATUSES]


async def answers_undelivered(uow: UnitOfWork, person_id: int, now: datetime, only: Collection[int] | None = None) -> None:
    """This person blocked the bot while a complaint's written answer waited in the outbox for
    their quiet hours to end (call it before their rows are closed): the supervisor who sent it
    was told it would be delivered, so they are told it was not, to give it by phone or in
    writing (the complaint's supervisors when the sender has left). Told once per complaint and
    reader, whichever sender met the block. `only`: of these rows (those given up on now)."""
    for row in await uow.outbox.of_user(person_id):
        if row.sent_at is not None or row.kind != complaints.OUTBOX_KIND or (only is not None and row.id not in only):
            continue
        found = await complaints.for_delivery(uow, row.payload.get("complaint_id", 0))
        if found is None:
            continue
        complaint, request = found
        answered = [e for e in await uow.requests.events(request.id, include_internal=True) if e.action == "complaint_answered"]
        sender = await uow.users.get(answered[-1].actor_user_id) if answered and answered[-1].actor_user_id else None
        readers = [sender] if sender is not None and sender.is_active else await complaints.supervisors(uow, complaint)
        for reader in readers:
            if reader.id != person_id:
                key = f"{ANSWER_UNDELIVERED}:{complaint.id}:{reader.id}"
                await queue(uow, reader, ANSWER_UNDELIVERED, {"complaint_id": complaint.id}, key, now)


async def undelivered_answer(uow: UnitOfWork, complaint_id: int) -> tuple[Complaint, ServiceRequest, Customer] | None:
    """The answer that could not be delivered, its request and customer, as the alert shows them."""
    found = await complaints.for_delivery(uow, complaint_id)
    if found is None:
        return None
    complaint, request = found
    customer = await uow.customers.get(request.customer_id)
    return (complaint, request, customer) if customer is not None else None


@dataclass(frozen=True)
class Unreachable:
    """Who blocked the bot, as the alert shows it (rendered in each reader's language)."""

    person: User
    customer: Customer | None
    open_requests: list[ServiceRequest]


async def unreachable(uow: UnitOfWork, person_id: int, reader: User | None = None) -> Unreachable | None:
    """None when the person has written to us again since (they unblocked the bot), or when
    `reader` is no longer among those told of it (`blocked`): a dispatcher whose role was
    withdrawn meanwhile, an engineer taken off the customer's jobs, an admin no more."""
    person = await uow.users.get(person_id)
    if person is None or person.is_reachable:
        return None
    customer = None if is_staff(person) else await uow.customers.by_user_id(person.id)
    open_requests = []
    if customer is not None:
        open_requests = await _open_requests_of(uow, customer)
    elif "engineer" in person.role_names:  # their jobs must be followed up or reassigned
        open_requests = await uow.dispatch.jobs_of(person.id, (requests.ASSIGNED, requests.IN_PROGRESS))
    if reader is not None and not _told_of_block(reader, person, customer, open_requests):
        return None
    return Unreachable(person, customer, open_requests)


def _told_of_block(reader: User, person: User, customer: Customer | None, open_requests: list[ServiceRequest]) -> bool:
    """Whether `reader` still is one of those `blocked` tells about `person`, as of now."""
    if not reader.is_active:
        return False
    if ROLE_DISPATCHER in reader.role_names and (not is_staff(person) or person.role_names & ASSIGNED_ROLES):
        return True
    if is_staff(person) or customer is None:
        return ROLE_ADMIN in reader.role_names
    return any(request.assigned_engineer_id == reader.id for request in open_requests)
