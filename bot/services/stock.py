"""Spare parts and stock: requisitions from a job, issue from a warehouse, receipt, reconciliation.

A requisition goes requested → approved → issued → received, or ends rejected or cancelled.
The approval itself belongs to the approval engine (`bot/services/approvals.py`), which calls
`mark_approved` / `mark_rejected` here; nothing else decides a requisition.

Stock never goes negative: an issue takes each line with one conditional UPDATE
(`quantity = quantity - n WHERE quantity >= n`) in the same transaction as the issue record,
and a short line rolls the whole issue back. Each change writes a ledger row. A part whose total
stock falls below its safety level alerts the warehouse role once per crossing (`Part.below_safety`
remembers the crossing; going back up re-arms it).

A requisition no single warehouse covers, but all of them together do, is issued from several
(`split_plan`, `issue_split`); one even all of them together cannot cover says what is short, and
its engineer hears once that it waits for stock (`tell_waiting_for_stock`).
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

from bot.policy import Policy
from bot.services import approvals, dialogs, jobs, notices, quotes, requests
from bot.services.errors import DomainError, InvalidValue, LimitReached, NotAllowed, NotFound, StaleAction, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.services.validation import MAX_QUANTITY, clean_text, parse_quantity
from bot.services.users import COST_READERS, ROLE_ADMIN
from storage.db import UnitOfWork
from storage.models import (
    Approval,
    Draft,
    OutboxMessage,
    Part,
    PartRequisition,
    RequisitionLine,
    ServiceRequest,
    StockMove,
    User,
    Warehouse,
)

ROLE_WAREHOUSE = "warehouse"
STOCK_VIEWERS = COST_READERS | {ROLE_WAREHOUSE, ROLE_ADMIN}
REQUESTED, APPROVED, ISSUED, RECEIVED, REJECTED, CANCELLED = "requested", "approved", "issued", "received", "rejected", "cancelled"
OPEN_REQUISITION = (REQUESTED, APPROVED)
ISSUE, RECEIPT, IMPORT, ADJUST = "issue", "receipt", "import", "adjust"  # ledger reasons
STOCK_LOW = "stock_low"  # outbox kind
WAITING_FOR_STOCK = "waiting_for_stock"  # outbox key prefix: the engineer's notice, once per requisition
PLAN_KEY_LENGTH = 10  # hex digits of a split plan's fingerprint on the confirm button
MAX_LINES = 20
STOCK_SHOWN = 40
ISSUE_LIST_SHOWN = 20
ISSUE_SCAN = 100  # the oldest approved requisitions looked at for the /issue list

REQUISITION_DIALOG = "requisition"
SEARCH_STEP, QUANTITY_STEP = "search", "quantity"
PART_MATCHES_SHOWN = 6
SEARCH_MAX = 64


class OutOfStock(DomainError):
    """The warehouse does not hold enough of `part` (someone issued it meanwhile); nothing was taken."""

    def __init__(self, part: Part, wanted: int, available: int, warehouse: Warehouse) -> None:
        super().__init__(f"{part.code}: {available} < {wanted}")
        self.part, self.wanted, self.available, self.warehouse = part, wanted, available, warehouse


class PlanChanged(DomainError):
    """The stock moved since the keeper was shown a plan for issuing from several warehouses (or
    there is no such plan now); nothing was taken. The keeper confirms the plan as it is now."""

    def __init__(self, requisition: PartRequisition) -> None:
        super().__init__(str(requisition.id))
        self.requisition = requisition


class JobNotOpen(DomainError):
    """The requisition's job has its report sent, or its request ended: nothing is issued to it."""

    def __init__(self, request: ServiceRequest) -> None:
        super().__init__(request.number)
        self.request = request


class AwaitingPayment(quotes.PaymentPending):
    """The requisition's job is paid work whose latest quote the customer has not accepted (nor a
    fee waiver covers): nothing is issued to it yet."""

    def __init__(self, request: ServiceRequest) -> None:
        super().__init__(request.number)
        self.request = request


class QuantityOverTotal(InvalidValue):
    """The part is already in the requisition: with this quantity its total would pass MAX_QUANTITY."""

    def __init__(self, already: int) -> None:
        super().__init__("quantity")
        self.already = already


class WrongState(DomainError):
    """The requisition is no longer where the action needs it (decided, issued or cancelled meanwhile)."""

    def __init__(self, requisition: PartRequisition) -> None:
        super().__init__(requisition.status)
        self.requisition = requisition


# --- pure rules ---------------------------------------------------------------------------


def merge_lines(lines: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """(part id, quantity) pairs with repeats of a part added up, in first-seen order; checked against the limits."""
    merged: dict[int, int] = {}
    for part_id, quantity in lines:
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidValue("quantity")
        merged[part_id] = merged.get(part_id, 0) + quantity
    if not merged:
        raise InvalidValue("no_lines")
    if len(merged) > MAX_LINES:
        raise LimitReached(MAX_LINES)
    if any(quantity > MAX_QUANTITY for quantity in merged.values()):
        raise InvalidValue("quantity")
    return list(merged.items())


def is_below(total: int, safety_level: int | None) -> bool:
    """Below the safety level means strictly fewer than it; no level (or 0) never alerts."""
    return bool(safety_level) and total < safety_level


def safety_crossing(was_below: bool, total: int, safety_level: int | None) -> str | None:
    """"down" when stock has just fallen below the level (alert), "up" when it is back (re-arm), else None."""
    below = is_below(total, safety_level)
    if below and not was_below:
        return "down"
    if was_below and not below:
        return "up"
    return None


def enough_in(lines: Iterable[tuple[int, int]], stock: dict[int, int]) -> bool:
    """Whether one warehouse's stock (part id → quantity) covers every line."""
    return all(stock.get(part_id, 0) >= quantity for part_id, quantity in lines)


W = TypeVar("W", bound=Hashable)


@dataclass(frozen=True)
class Pick(Generic[W]):
    """One step of an issue: `quantity` of `part_id` from `warehouse`."""

    warehouse: W
    part_id: int
    quantity: int


@dataclass(frozen=True)
class Shortage:
    """A line that all warehouses together cannot cover: `available` of `wanted` in stock."""

    part_id: int
    wanted: int
    available: int

    @property
    def missing(self) -> int:
        return self.wanted - self.available


def shortages(lines: Iterable[tuple[int, int]], stock: Mapping[Any, Mapping[int, int]]) -> list[Shortage]:
    """The lines that the stock of all warehouses together (warehouse → part id → quantity) does not cover."""
    held: dict[int, int] = {}
    for by_part in stock.values():
        for part_id, quantity in by_part.items():
            held[part_id] = held.get(part_id, 0) + quantity
    return [Shortage(part_id, quantity, held.get(part_id, 0)) for part_id, quantity in lines if held.get(part_id, 0) < quantity]


def split_plan(lines: Iterable[tuple[int, int]], stock: Mapping[W, Mapping[int, int]]) -> list[Pick[W]] | None:
    """Where to take each line from when no single warehouse covers them all; None when even all
    warehouses together cannot (see `shortages`).

    Greedy, one warehouse at a time: next comes the one that covers the most of the lines still
    missing in full, then the one that holds the most units of them, then the first in `stock`'s
    order (the warehouses by code); from it every missing line it holds whole, and what it has of
    a line that no warehouse still to come holds whole. The keeper walks
    to as few warehouses as this simple rule finds, a line is cut across warehouses only when no
    one warehouse left holds all of it, and the same stock always gives the same plan, so the plan
    the keeper is shown is the one issued. Picks come in that order, each warehouse's in line order.
    """
    lines = list(lines)
    if shortages(lines, stock):
        return None
    missing = dict(lines)
    left = {warehouse: dict(by_part) for warehouse, by_part in stock.items()}

    def covers(warehouse: W) -> tuple[int, int]:
        held = left[warehouse]
        whole = sum(1 for part_id, quantity in missing.items() if quantity and held.get(part_id, 0) >= quantity)
        return whole, sum(min(quantity, held.get(part_id, 0)) for part_id, quantity in missing.items())

    picks: list[Pick[W]] = []
    while any(missing.values()) and left:
        warehouse = max(left, key=covers)  # the first of equals: `stock`'s order breaks ties
        held = left.pop(warehouse)
        for part_id, _ in lines:
            wanted, here = missing[part_id], held.get(part_id, 0)
            if not wanted or not here:
                continue
            if here < wanted and any(later.get(part_id, 0) >= wanted for later in left.values()):
                continue  # a warehouse still to come holds the whole line: it is not cut
            taken = min(wanted, here)
            picks.append(Pick(warehouse, part_id, taken))
            missing[part_id] -= taken
    return picks if not any(missing.values()) else None


@dataclass(frozen=True)
class Difference:
    """A part whose issued and used quantities on a job differ; `part_id` None for a part written as free text."""

    part_id: int | None
    name: str
    issued: int
    used: int


def compare_usage(issued: dict[int, int], used: dict[int, int], names: dict[int, str], free_text: Iterable[tuple[str, int]] = ()) -> list[Difference]:
    """Issued against used per part (catalog parts by id), plus free-text parts nobody could have issued."""
    differences = [
        Difference(part_id, names.get(part_id, str(part_id)), issued.get(part_id, 0), used.get(part_id, 0))
        for part_id in sorted(set(issued) | set(used))
        if issued.get(part_id, 0) != used.get(part_id, 0)
    ]
    differences += [Difference(None, name, 0, quantity) for name, quantity in free_text]
    return differences


# --- who may do what ----------------------------------------------------------------------


def is_warehouse(user: User) -> bool:
    return user.is_active and ROLE_WAREHOUSE in user.role_names


def may_see_stock(user: User) -> bool:
    return user.is_active and bool(user.role_names & STOCK_VIEWERS)


def _require_warehouse(user: User) -> None:
    if not is_warehouse(user):
        raise NotAllowed()


# --- requisitions -------------------------------------------------------------------------


async def _record(uow: UnitOfWork, requisition: PartRequisition, actor: User | None, action: str, now: datetime, **details: object) -> None:
    request = await uow.requests.get(requisition.request_id)
    await jobs.record(uow, request, actor, action, now, internal=True, requisition_id=requisition.id, **details)


async def request_parts(uow: UnitOfWork, engineer: User, request_id: int, lines: Iterable[tuple[int, int]], now: datetime) -> PartRequisition:
    """The assigned engineer of a job in progress asks for parts; it waits for approval. Paid
    work gets parts only once the customer accepted its quote or a fee waiver was approved."""
    request = await jobs.own_job(uow, engineer, request_id)
    await quotes.require_cleared(uow, request)
    merged = merge_lines(lines)
    parts = await uow.stock.lock_parts([part_id for part_id, _ in merged])  # they exist, and stay while we write
    if len(parts) != len(merged):
        raise NotFound()
    requisition = await uow.stock.add_requisition(PartRequisition(
        request_id=request.id, engineer_id=engineer.id, status=REQUESTED, created_at=now,
        lines=[RequisitionLine(part_id=part_id, quantity=quantity) for part_id, quantity in merged],
    ))
    await _record(uow, requisition, engineer, "parts_requested", now,
                  lines=[{"part_id": part_id, "code": parts[part_id].code, "quantity": quantity} for part_id, quantity in merged])
    return requisition


async def _decide(uow: UnitOfWork, requisition_id: int, status: str, now: datetime, actor: User | None, note: str | None) -> PartRequisition:
    requisition = await uow.stock.requisition(requisition_id)
    if requisition is None:
        raise NotFound()
    if not await uow.stock.move_requisition(requisition.id, (REQUESTED,), status, decided_at=now, note=note):
        raise WrongState(await uow.stock.requisition(requisition.id))
    requisition = await uow.stock.requisition(requisition.id)
    await _record(uow, requisition, actor, f"parts_{status}", now, **({"note": note} if note else {}))
    return requisition


async def mark_approved(uow: UnitOfWork, requisition_id: int, now: datetime, *, actor: User | None = None) -> PartRequisition:
    """The approval engine's verdict: the warehouse may issue it now. Once only (`WrongState` after)."""
    return await _decide(uow, requisition_id, APPROVED, now, actor, None)


async def mark_rejected(uow: UnitOfWork, requisition_id: int, now: datetime, *, actor: User | None = None, note: str | None = None) -> PartRequisition:
    """The approval engine's verdict: no parts for this requisition. Once only (`WrongState` after)."""
    return await _decide(uow, requisition_id, REJECTED, now, actor, note)


@dataclass(frozen=True)
class Cancelled:
    requisition: PartRequisition
    approvals: list[Approval]  # its approval, when still open: withdrawn with it


async def cancel(uow: UnitOfWork, engineer: User, requisition_id: int, now: datetime) -> Cancelled:
    """The engineer withdraws a requisition that has not been issued yet; an approval still open
    for it is withdrawn too, so nobody is asked (or chased) to decide it."""
    requisition = await _own_requisition(uow, engineer, requisition_id)
    await uow.requests.lock(requisition.request_id)  # the request before the requisition, as everywhere
    return await _cancel(uow, requisition, engineer, approvals.SUBJECT_WITHDRAWN, now)


async def _cancel(uow: UnitOfWork, requisition: PartRequisition, actor: User, why: str, now: datetime) -> Cancelled:
    if not await uow.stock.move_requisition(requisition.id, OPEN_REQUISITION, CANCELLED, cancelled_at=now):
        raise WrongState(requisition)
    requisition = await uow.stock.requisition(requisition.id)
    await _record(uow, requisition, actor, "parts_cancelled", now)
    withdrawn = await approvals.withdraw_open(uow, requisition.request_id, actor, why, now, kind="requisition", subject_id=requisition.id)
    return Cancelled(requisition, withdrawn)


async def cancel_for_job_left(uow: UnitOfWork, request_id: int, engineer_id: int, actor: User, now: datetime) -> list[Approval]:
    """The job left `engineer_id` (reassigned, or they are no longer an engineer): their
    requisitions not issued yet are cancelled, so no part goes to someone no longer on the job;
    the next engineer asks for what they need. Parts already issued stay with the record."""
    return await cancel_unissued(uow, request_id, actor, approvals.JOB_LEFT_ENGINEER, now, engineer_id=engineer_id)


async def cancel_unissued(uow: UnitOfWork, request_id: int, actor: User, why: str, now: datetime, *, engineer_id: int | None = None) -> list[Approval]:
    """Cancel the request's requisitions not issued yet (of one engineer, or all), with their open
    approvals; returns those approvals. Used when the job leaves its engineer, when its report
    is sent (parts not issued by then were not used: a repeat repair asks anew) and when the
    request ends."""
    # a requisition still being picked for the job, kept aside, is outdated the same way
    request = await uow.requests.get(request_id)
    picker = engineer_id if engineer_id is not None else request.assigned_engineer_id if request else None
    if picker is not None:
        await dialogs.drop_parked(uow, picker, REQUISITION_DIALOG, _of_job(request_id))
    withdrawn: list[Approval] = []
    for requisition in await uow.stock.requisitions_of_request(request_id):
        if requisition.status in OPEN_REQUISITION and engineer_id in (None, requisition.engineer_id):
            try:
                withdrawn += (await _cancel(uow, requisition, actor, why, now)).approvals
            except WrongState:
                continue  # issued or decided this very moment
    return withdrawn


async def _own_requisition(uow: UnitOfWork, engineer: User, requisition_id: int) -> PartRequisition:
    requisition = await uow.stock.requisition(requisition_id)
    if requisition is None or requisition.engineer_id != engineer.id or not engineer.is_active:
        raise NotFound()  # someone else's requisition is simply not found
    return requisition


@dataclass(frozen=True)
class Issued:
    requisition: PartRequisition
    request: ServiceRequest
    picks: list[Pick[Warehouse]]  # what came from where, in the order the keeper was shown
    moves: list[StockMove]
    alerts: int  # warehouse people told of a part that fell below its safety level

    @property
    def warehouses(self) -> list[Warehouse]:
        return list(dict.fromkeys(pick.warehouse for pick in self.picks))


async def issue(uow: UnitOfWork, warehouse_user: User, requisition_id: int, warehouse_id: int, now: datetime,
                *, alert_at: datetime | None = None) -> Issued:
    """Issue an approved requisition from one warehouse: all lines or nothing.

    The status change, the stock decrements and the ledger rows are one savepoint inside the
    caller's transaction, so a short line undoes them all while the caller can still answer.
    `alert_at` is when low-stock alerts may go out (the staff's reachable hours); now by default.
    Paid work whose latest quote the customer has not accepted gets nothing (AwaitingPayment):
    the quote may have come after the requisition was approved.
    """
    _require_warehouse(warehouse_user)
    warehouse = await uow.stock.warehouse(warehouse_id)
    if warehouse is None:
        raise NotFound()

    async def all_from_it(requisition: PartRequisition) -> list[Pick[Warehouse]]:
        return [Pick(warehouse, line.part_id, line.quantity) for line in requisition.lines]

    return await _issue(uow, warehouse_user, requisition_id, warehouse, all_from_it, now, alert_at or now)


async def issue_split(uow: UnitOfWork, warehouse_user: User, requisition_id: int, plan: str, now: datetime,
                      *, alert_at: datetime | None = None) -> Issued:
    """Issue an approved requisition that no single warehouse covers from several, exactly as the
    plan the keeper was shown (`plan` is its `plan_key`): otherwise the keeper would collect parts
    from shelves they were not sent to. The plan is worked out again from the stock under the part
    locks; if it is not the one shown (the stock moved, or all together no longer cover it),
    nothing is taken (PlanChanged) and the keeper is shown the plan as it is now. Everything else
    is the single-warehouse issue: one savepoint, the same checks, ledger and alerts."""
    _require_warehouse(warehouse_user)

    async def as_shown(requisition: PartRequisition) -> list[Pick[Warehouse]]:
        picks = await _split_of(uow, requisition, await uow.stock.warehouses())
        if picks is None or plan_key(picks) != plan:
            raise PlanChanged(requisition)
        return picks

    return await _issue(uow, warehouse_user, requisition_id, None, as_shown, now, alert_at or now)


def plan_key(picks: Iterable[Pick[Warehouse]]) -> str:
    """A short fingerprint of a split plan, for its confirm button (a reference, checked again on the server)."""
    text = ";".join(f"{pick.warehouse.id}:{pick.part_id}:{pick.quantity}" for pick in picks)
    return hashlib.blake2s(text.encode(), digest_size=PLAN_KEY_LENGTH // 2).hexdigest()


async def _split_of(uow: UnitOfWork, requisition: PartRequisition, warehouses: list[Warehouse]) -> list[Pick[Warehouse]] | None:
    return split_plan([(line.part_id, line.quantity) for line in requisition.lines], await _stock_by_warehouse(uow, requisition, warehouses))


async def _stock_by_warehouse(uow: UnitOfWork, requisition: PartRequisition, warehouses: list[Warehouse]) -> dict[Warehouse, dict[int, int]]:
    """The stock of the requisition's parts, per warehouse in code order (which breaks a plan's ties)."""
    per_warehouse: dict[int, dict[int, int]] = {}
    for row in await uow.stock.stock_of([line.part_id for line in requisition.lines]):
        per_warehouse.setdefault(row.warehouse_id, {})[row.part_id] = row.quantity
    return {w: per_warehouse.get(w.id, {}) for w in warehouses}


async def _issue(uow: UnitOfWork, keeper: User, requisition_id: int, warehouse: Warehouse | None,
                 picks_for: Callable[[PartRequisition], Awaitable[list[Pick[Warehouse]]]], now: datetime, alert_at: datetime) -> Issued:
    """The one way parts leave the warehouses. `warehouse` is recorded on the requisition when it
    is the only one (None when several: the ledger rows say which part came from where);
    `picks_for` says what to take from where, asked once the requisition and its parts are locked."""
    requisition = await uow.stock.requisition(requisition_id)
    if requisition is None:
        raise NotFound()
    # the request first (a report or a close of the job waits, or is seen), then the requisition
    request = await uow.requests.lock(requisition.request_id)
    if request.status not in requests.OPEN_STATUSES:
        raise JobNotOpen(request)  # reported or ended: its open requisitions are being cancelled
    if await quotes.payment_pending(uow, request):
        raise AwaitingPayment(request)
    async with uow.session.begin_nested():
        if not await uow.stock.move_requisition(
            requisition.id, (APPROVED,), ISSUED, warehouse_id=warehouse.id if warehouse else None,
            issued_by_user_id=keeper.id, issued_at=now,
        ):
            raise WrongState(await uow.stock.requisition(requisition.id))  # issued by someone else, or not approved
        parts = await uow.stock.lock_parts([line.part_id for line in requisition.lines])
        picks = await picks_for(requisition)
        moves = []
        for pick in sorted(picks, key=lambda p: (p.part_id, p.warehouse.id)):  # one order for every issue's row locks
            left = await uow.stock.take(pick.part_id, pick.warehouse.id, pick.quantity)
            if left is None:
                available = sum(s.quantity for s in await uow.stock.stock_of([pick.part_id]) if s.warehouse_id == pick.warehouse.id)
                raise OutOfStock(parts[pick.part_id], pick.quantity, available, pick.warehouse)
            moves.append(await uow.stock.add_move(StockMove(
                part_id=pick.part_id, warehouse_id=pick.warehouse.id, user_id=keeper.id, change=-pick.quantity,
                quantity_after=left, reason=ISSUE, request_id=requisition.request_id, requisition_id=requisition.id, created_at=now,
            )))
    requisition = await uow.stock.requisition(requisition.id)
    codes = list(dict.fromkeys(pick.warehouse.code for pick in picks))
    await _record(uow, requisition, keeper, "parts_issued", now, **({"warehouse": codes[0]} if len(codes) == 1 else {"warehouses": codes}))
    alerts = 0
    for part_id in sorted({move.part_id for move in moves}):  # a part taken from two warehouses is checked once
        alerts += await check_safety(uow, parts[part_id], now, alert_at)
    return Issued(requisition, await uow.requests.get(requisition.request_id), picks, moves, alerts)


@dataclass(frozen=True)
class Received:
    requisition: PartRequisition
    request: ServiceRequest
    wait_over: bool  # the job waited for parts and has them all now: work continues (the customer is told)


async def confirm_receipt(uow: UnitOfWork, engineer: User, requisition_id: int, now: datetime) -> Received:
    """The engineer has the issued parts in hand. Once only (`WrongState` on a second press).
    With the last of the job's requisitions in hand, a wait for parts is over: it ends as
    "▶️ Resume work" ends it, so the clocks paused for the parts run again."""
    requisition = await _own_requisition(uow, engineer, requisition_id)
    request = await uow.requests.lock(requisition.request_id)  # the request before the requisition, as everywhere
    if not await uow.stock.move_requisition(requisition.id, (ISSUED,), RECEIVED, received_at=now):
        raise WrongState(requisition)
    requisition = await uow.stock.requisition(requisition.id)
    await _record(uow, requisition, engineer, "parts_received", now)
    # only the job's own engineer's parts: one it had before, still issued to them, is not awaited
    mine = [r for r in await uow.stock.requisitions_of_request(request.id) if r.engineer_id == engineer.id]
    wait_over = (
        request.assigned_engineer_id == engineer.id and request.status == requests.IN_PROGRESS
        and request.waiting_for == jobs.WAITING_PARTS and not any(r.status in (*OPEN_REQUISITION, ISSUED) for r in mine)
        and requisition.issued_at >= await _waiting_for_parts_since(uow, request.id)  # issued before, it was not what he waited for
    )
    if wait_over:
        await jobs.resume(uow, engineer, request.id, now)
    return Received(requisition, request, wait_over)


async def _waiting_for_parts_since(uow: UnitOfWork, request_id: int) -> datetime:
    """When the request's current wait for parts began (its latest "📦 Waiting for parts")."""
    began = [e.created_at for e in await uow.requests.events(request_id, include_internal=True)
             if e.action == jobs.WAIT_EVENTS[jobs.WAITING_PARTS]]
    return max(began, default=datetime.min.replace(tzinfo=timezone.utc))


async def requisitions_of(uow: UnitOfWork, request_id: int) -> list[PartRequisition]:
    return await uow.stock.requisitions_of_request(request_id)


async def parts_by_id(uow: UnitOfWork, part_ids: Iterable[int]) -> dict[int, Part]:
    ids = sorted(set(part_ids))
    return {part_id: part for part_id in ids if (part := await uow.jobs.part(part_id)) is not None}


# --- the safety level ---------------------------------------------------------------------


async def check_safety(uow: UnitOfWork, part: Part, now: datetime, alert_at: datetime) -> int:
    """After a stock (or safety level) change: alert the warehouse role when the part has just fallen
    below its safety level, re-arm when it is back at or above it. Returns how many people were alerted.

    The caller holds the part's row lock (`lock_parts`), so concurrent changes take turns here, and
    the flip of `below_safety` is a conditional UPDATE in the same transaction as the outbox rows:
    that makes the alert once per crossing. The outbox key only names this crossing.
    """
    total = await uow.stock.total(part.id)
    crossing = safety_crossing(part.below_safety, total, part.safety_level)
    people = await uow.users.active_with_role(ROLE_WAREHOUSE) if crossing == "down" else []
    if crossing == "down" and not people:
        return 0  # nobody to tell yet (stock imported before staff): the next change tells whoever is there
    if crossing is None or not await uow.stock.set_below_safety(part.id, crossing == "down"):
        return 0
    if crossing == "up":
        return 0
    told, crossing_id = 0, uuid.uuid4().hex
    for person in people:
        told += await uow.outbox.add_once(OutboxMessage(
            key=f"{STOCK_LOW}:{part.id}:{crossing_id}:{person.id}", user_id=person.id, kind=STOCK_LOW,
            payload={"part_id": part.id, "code": part.code, "name": part.name, "total": total, "safety_level": part.safety_level},
            not_before=alert_at, created_at=now,
        ))
    return told


async def set_stock(uow: UnitOfWork, actor: User, part: Part, warehouse: Warehouse, quantity: int, reason: str, now: datetime) -> StockMove | None:
    """Set a part's quantity in a warehouse (an import or a stock count); a ledger row for the difference.
    The caller locks the part first and checks the safety level after. None when nothing changed."""
    if quantity < 0:
        raise InvalidValue("quantity")
    before = await uow.stock.put(part.id, warehouse.id, quantity)
    if before == quantity:
        return None
    return await uow.stock.add_move(StockMove(
        part_id=part.id, warehouse_id=warehouse.id, user_id=actor.id, change=quantity - before,
        quantity_after=quantity, reason=reason, created_at=now,
    ))


async def still_low(uow: UnitOfWork, part_id: int) -> bool:
    """Whether a low-stock alert is still worth sending (nobody restocked the part meanwhile)."""
    part = await uow.jobs.part(part_id)
    return part is not None and part.below_safety


# --- what the warehouse and the managers see ----------------------------------------------


@dataclass(frozen=True)
class StockLine:
    part: Part
    by_warehouse: dict[int, int]  # warehouse id → quantity
    total: int
    below: bool


@dataclass(frozen=True)
class StockOverview:
    warehouses: list[Warehouse]
    lines: list[StockLine]
    total_parts: int  # matching parts, of which `lines` shows the first STOCK_SHOWN
    query: str | None


async def overview(uow: UnitOfWork, viewer: User, query: str | None = None) -> StockOverview:
    """/stock: parts with stock per warehouse, those below their safety level first."""
    if not may_see_stock(viewer):
        raise NotAllowed()
    query = (query or "").strip()[:64] or None
    parts, total_parts = await uow.stock.catalog_page(query, STOCK_SHOWN)
    stock: dict[int, dict[int, int]] = {}
    for row in await uow.stock.stock_of([p.id for p in parts]):
        stock.setdefault(row.part_id, {})[row.warehouse_id] = row.quantity
    lines = []
    for part in parts:
        by_warehouse = stock.get(part.id, {})
        total = sum(by_warehouse.values())
        lines.append(StockLine(part, by_warehouse, total, is_below(total, part.safety_level)))
    lines.sort(key=lambda line: (not line.below, line.part.code.casefold()))
    return StockOverview(await uow.stock.warehouses(), lines, total_parts, query)


@dataclass(frozen=True)
class IssueItem:
    requisition: PartRequisition
    request: ServiceRequest
    engineer: User
    parts: dict[int, Part]
    warehouses: list[Warehouse]  # those holding enough of every line
    split: list[Pick[Warehouse]] | None  # when none does but all together do: the plan for several
    short: list[Shortage]  # when even all together do not: what is missing

    @property
    def issuable(self) -> bool:
        return bool(self.warehouses) or self.split is not None


@dataclass(frozen=True)
class IssueQueue:
    items: list[IssueItem]  # what the warehouses can cover first, each group oldest approval first
    total: int  # approved requisitions of open jobs, shown or not


async def issue_queue(uow: UnitOfWork, warehouse_user: User) -> IssueQueue:
    """/issue: approved requisitions of jobs still open, each with the warehouses that can cover
    it (or the plan for several). Those the warehouses can cover come first, so a few that nobody
    can cover yet (999 bearings) do not hide the ones that could go out now."""
    _require_warehouse(warehouse_user)
    warehouses = await uow.stock.warehouses()
    items = [await _issue_item(uow, requisition, warehouses)
             for requisition in await uow.stock.requisitions_with_status(APPROVED, ISSUE_SCAN, request_statuses=requests.OPEN_STATUSES)]
    items.sort(key=lambda item: not item.issuable)  # stable: the order by approval holds within each group
    return IssueQueue(items[:ISSUE_LIST_SHOWN], await uow.stock.count_with_status(APPROVED, request_statuses=requests.OPEN_STATUSES))


async def issue_item(uow: UnitOfWork, warehouse_user: User, requisition_id: int) -> IssueItem | None:
    """One requisition's issue card as of now; None when it is no longer waiting to be issued."""
    _require_warehouse(warehouse_user)
    return await waiting_item(uow, requisition_id)


async def waiting_item(uow: UnitOfWork, requisition_id: int) -> IssueItem | None:
    """`issue_item` for the bot itself (telling the warehouse and the engineer of an approval):
    no reader to check."""
    requisition = await uow.stock.requisition(requisition_id)
    if requisition is None or requisition.status != APPROVED:
        return None
    item = await _issue_item(uow, requisition, await uow.stock.warehouses())
    return item if item.request.status in requests.OPEN_STATUSES else None


async def _issue_item(uow: UnitOfWork, requisition: PartRequisition, warehouses: list[Warehouse]) -> IssueItem:
    lines = [(line.part_id, line.quantity) for line in requisition.lines]
    stock = await _stock_by_warehouse(uow, requisition, warehouses)
    whole = [w for w in warehouses if enough_in(lines, stock[w])]
    return IssueItem(
        requisition=requisition, request=await uow.requests.get(requisition.request_id),
        engineer=await uow.users.get(requisition.engineer_id), parts=await parts_by_id(uow, [p for p, _ in lines]),
        warehouses=whole, split=None if whole else split_plan(lines, stock), short=shortages(lines, stock),
    )


async def tell_waiting_for_stock(uow: UnitOfWork, item: IssueItem, notice: dict[str, Any], now: datetime) -> bool:
    """The engineer of an approved requisition that all warehouses together cannot cover hears
    that it waits for stock and what is short (`notice`: the rendered view's payload). Once per
    requisition, however often its card is looked at (the outbox key); the issue notice tells
    them when it goes out. True when this call queued it."""
    if not item.short or item.engineer is None:
        return False
    return await notices.queue(uow, item.engineer, notices.VIEW, notice, f"{WAITING_FOR_STOCK}:{item.requisition.id}", now)


async def reconcile(uow: UnitOfWork, request_id: int) -> list[Difference]:
    """Parts used in the job's reports (each attempt lists its own, a disputed one too) against parts
    issued to it (issued or received)."""
    issued: dict[int, int] = {}
    for requisition in await uow.stock.requisitions_of_request(request_id):
        if requisition.status in (ISSUED, RECEIVED):
            for line in requisition.lines:
                issued[line.part_id] = issued.get(line.part_id, 0) + line.quantity
    used: dict[int, int] = {}
    free_text: list[tuple[str, int]] = []
    for part in (p for report in await uow.jobs.reports_of(request_id) for p in report.parts):
        if part.part_id is None:
            free_text.append((part.name, part.quantity))
        else:
            used[part.part_id] = used.get(part.part_id, 0) + part.quantity
    names = {part_id: part.name for part_id, part in (await parts_by_id(uow, set(issued) | set(used))).items()}
    return compare_usage(issued, used, names, free_text)


# --- the engineer's requisition dialog (a Draft row: a restart loses nothing) --------------


async def start_requisition(uow: UnitOfWork, engineer: User, request_id: int, now: datetime) -> tuple[Draft, ServiceRequest]:
    """“🔩 Request parts”: the job's requisition where it stopped (kept aside when another step
    interrupted it, `dialogs.KEPT_ASIDE`), else an empty one."""
    request = await jobs.own_job(uow, engineer, request_id)
    await quotes.require_cleared(uow, request)  # told now, not after the parts are picked (checked again at sending)
    draft = await dialogs.reopen(uow, engineer.id, REQUISITION_DIALOG, now, _of_job(request.id))
    if draft is None:
        draft = await dialogs.begin(uow, engineer.id, REQUISITION_DIALOG, SEARCH_STEP, {"request_id": request.id, "lines": []}, now)
    return draft, request


def _of_job(request_id: int) -> Callable[[dict[str, Any]], bool]:
    return lambda data: data.get("request_id") == request_id


def _pick(draft: Draft, part: Part, now: datetime) -> None:
    dialogs.move(draft, QUANTITY_STEP, now, pending={"part_id": part.id, "code": part.code, "name": part.name})


async def requisition_input(uow: UnitOfWork, draft: Draft, message: UserInput, now: datetime) -> list[Part]:
    """A search text (an exact code goes straight to its quantity) or a quantity; returns catalog matches."""
    if not isinstance(message, TextInput):
        raise WrongInput(f"requisition_{draft.step}")
    if draft.step == QUANTITY_STEP:
        quantity = parse_quantity(message.text)
        pending = draft.data.get("pending")
        if not pending:
            raise StaleAction()
        lines = [dict(line) for line in draft.data.get("lines", [])]
        same = next((line for line in lines if line["part_id"] == pending["part_id"]), None)
        if same is not None:
            if same["quantity"] + quantity > MAX_QUANTITY:
                raise QuantityOverTotal(same["quantity"])
            same["quantity"] += quantity
        else:
            lines.append({**pending, "quantity": quantity})
        dialogs.move(draft, SEARCH_STEP, now, lines=lines, pending=None, query=None)
        return []
    query = clean_text(message.text, limit=SEARCH_MAX, expected="requisition_search")
    if len(draft.data.get("lines", [])) >= MAX_LINES:
        raise LimitReached(MAX_LINES)
    matches = await uow.parts.search(query, PART_MATCHES_SHOWN)
    exact = [p for p in matches if p.code.upper() == query.upper()]
    if len(exact) == 1:
        _pick(draft, exact[0], now)
        return []
    dialogs.move(draft, SEARCH_STEP, now, query=query)
    return matches


async def requisition_button(uow: UnitOfWork, draft: Draft, action: str, value: str, now: datetime) -> None:
    """Choose a found part, go back from the quantity, or remove the last part."""
    if draft.step == SEARCH_STEP and action == "part" and value.isdigit():
        part = await uow.jobs.part(int(value))
        if part is None:
            raise StaleAction()
        if len(draft.data.get("lines", [])) >= MAX_LINES:
            raise LimitReached(MAX_LINES)
        _pick(draft, part, now)
    elif draft.step == QUANTITY_STEP and action == "back":
        dialogs.move(draft, SEARCH_STEP, now, pending=None)
    elif draft.step == SEARCH_STEP and action == "undo" and draft.data.get("lines"):
        dialogs.move(draft, SEARCH_STEP, now, lines=draft.data["lines"][:-1])
    else:
        raise StaleAction()


async def send_requisition(uow: UnitOfWork, policy: Policy, engineer: User, draft: Draft, now: datetime) -> tuple[PartRequisition, Approval]:
    """“Send”: the dialog's lines become a requisition waiting for its approval chain; the dialog ends."""
    if draft.step != SEARCH_STEP or not draft.data.get("lines"):
        raise StaleAction()
    requisition = await request_parts(uow, engineer, draft.data["request_id"], [(l["part_id"], l["quantity"]) for l in draft.data["lines"]], now)
    request = await uow.requests.get(requisition.request_id)
    summary = ", ".join(f"{line['code']} × {line['quantity']}" for line in draft.data["lines"])
    approval = await approvals.request_approval(uow, policy, engineer, request, "requisition", now, reason=summary, subject_id=requisition.id)
    await dialogs.end(uow, draft)
    return requisition, approval


async def _finish_approval(uow: UnitOfWork, approval: Approval, now: datetime) -> None:
    """The approval engine decided a requisition: the warehouse may issue it, or not. A requisition
    the engineer cancelled meanwhile stays cancelled."""
    decider = await uow.users.get(approval.decided_by_id) if approval.decided_by_id else None
    try:
        if approval.status == approvals.APPROVED:
            await mark_approved(uow, approval.subject_id, now, actor=decider)
        else:
            rejection = next((a.comment for a in reversed(await uow.approvals.actions(approval.id)) if a.action == approvals.REJECT), None)
            await mark_rejected(uow, approval.subject_id, now, actor=decider, note=rejection)
    except WrongState:
        pass


approvals.FINISHERS["requisition"] = _finish_approval
