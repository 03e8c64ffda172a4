"""Ending a request before its work is done: the customer's cancel and the dispatcher's close.

What hangs on the request ends with it: its open approvals are withdrawn (nobody is asked, or
chased, to decide about a request that is over), spare parts not issued yet are no longer
requested (nothing goes out to a job that is over), an expert's unanswered question ends (the
expert is told no answer is needed), and a return whose product is still with the
customer is cancelled, so that product may be returned later. Once the warehouse has the product
the customer can no longer cancel: the return is finished there (refund, exchange or repair).
"""
from __future__ import annotations

from datetime import datetime

from bot.services import approvals, dispatch, escalation, requests, returns, stock
from bot.services.errors import NotAllowed
from storage.db import UnitOfWork
from storage.models import Approval, ServiceRequest, User

ALREADY_CANCELLED, WORK_STARTED, PRODUCT_WITH_US, CLOSED = "already_cancelled", "work_started", "product_with_us", "closed"


async def why_not_cancellable(uow: UnitOfWork, request: ServiceRequest) -> str | None:
    """Why the customer may not cancel this request now, or None if they may."""
    if request.status == requests.CANCELLED:
        return ALREADY_CANCELLED
    if request.status not in requests.OPEN_STATUSES:
        return CLOSED  # finished, or closed by the service department
    if not requests.can_cancel(request):
        return WORK_STARTED
    case = await uow.returns.of_request(request.id)
    if case is not None and case.state not in (*returns.NOT_WITH_US, returns.CANCELLED):
        return PRODUCT_WITH_US
    return None


class NotCancellable(NotAllowed):
    """The customer may not cancel now; `why` is one of the reasons above."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


async def cancel_by_customer(uow: UnitOfWork, user: User, request: ServiceRequest, now: datetime) -> list[Approval]:
    """Cancel the customer's own request; returns the approvals withdrawn with it. The request is
    locked and checked again first: an engineer's accept or a close committed meanwhile refuses it."""
    await uow.requests.lock(request.id)  # refreshes `request`, the session's copy
    why = await why_not_cancellable(uow, request)
    if why is not None:
        raise NotCancellable(why)
    await requests.cancel(uow, user, request, now)
    return await end_what_hangs_on(uow, request, user, now)


class ProductAtWarehouse(NotAllowed):
    """A return whose product is with us finishes on its tracking card (refunded, exchanged,
    repaired or sent back): closing the request around it would leave the product nowhere."""


async def check_closable(uow: UnitOfWork, request_id: int) -> None:
    case = await uow.returns.of_request(request_id)
    if case is not None and case.state in returns.AT_WAREHOUSE:
        raise ProductAtWarehouse()


async def close_by_dispatcher(uow: UnitOfWork, actor: User, request_id: int, note: str, now: datetime) -> tuple[ServiceRequest, list[Approval]]:
    await dispatch.open_request(uow, actor, request_id)  # locked first: what hangs on it is checked as of now
    await check_closable(uow, request_id)
    request = await dispatch.close_request(uow, actor, request_id, note, now)
    return request, await end_what_hangs_on(uow, request, actor, now)


async def end_what_hangs_on(uow: UnitOfWork, request: ServiceRequest, actor: User | None, now: datetime, *,
                            experts_from: datetime | None = None) -> list[Approval]:
    """Whatever closes or cancels a request calls this in its transaction (see the module
    docstring); returns the approvals withdrawn, for the caller to tell who asked and to redraw the
    approvers' cards. `actor` None: nobody acted (the confirmation timeout's sweep), so each
    withdrawal is recorded in the name of whoever asked for it; `experts_from`: when an expert may
    hear that their question ended (staff hours)."""
    withdrawn = await returns.end_with_request(uow, request, actor, now)
    withdrawn += await _cancel_unissued(uow, request, actor, now)
    await escalation.end_with_request(uow, request, now, not_before=experts_from)
    return withdrawn + await _withdraw_open(uow, request, actor, now)


async def _cancel_unissued(uow: UnitOfWork, request: ServiceRequest, actor: User | None, now: datetime) -> list[Approval]:
    if actor is not None:
        return await stock.cancel_unissued(uow, request.id, actor, approvals.REQUEST_ENDED, now)
    withdrawn: list[Approval] = []
    for requisition in await uow.stock.requisitions_of_request(request.id):
        engineer = await uow.users.get(requisition.engineer_id) if requisition.status in stock.OPEN_REQUISITION else None
        if engineer is not None:
            withdrawn += await stock.cancel_unissued(uow, request.id, engineer, approvals.REQUEST_ENDED, now, engineer_id=engineer.id)
    return withdrawn


async def _withdraw_open(uow: UnitOfWork, request: ServiceRequest, actor: User | None, now: datetime) -> list[Approval]:
    if actor is not None:
        return await approvals.withdraw_open(uow, request.id, actor, approvals.REQUEST_ENDED, now)
    withdrawn = []
    for approval in await uow.approvals.of_request(request.id):
        requester = await uow.users.get(approval.requested_by_id) if approval.status in approvals.OPEN else None
        if requester is not None and await approvals.withdraw(uow, approval, requester, approvals.REQUEST_ENDED, now):
            withdrawn.append(approval)
    return withdrawn
