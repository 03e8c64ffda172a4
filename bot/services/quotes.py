"""Quotes for paid work (out of warranty, or made paid by the dispatcher), and the rule that such
work starts only after the customer accepts a quote or a fee waiver is approved.

The dispatcher or the job's engineer builds a quote in a dialog (catalog parts at their catalog
prices, labour, travel); the customer accepts or declines it with buttons. Only the answer is a
conditional update, so a double press or a press on a superseded quote changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.services import approvals, dialogs, dispatch, requests, sales
from bot.services.errors import DomainError, InvalidValue, LimitReached, NotAllowed, NotFound, StaleAction, WrongInput
from bot.services.validation import clean_text, parse_quantity
from storage.db import UnitOfWork
from storage.models import Approval, Draft, Part, Quote, QuoteLine, RequestEvent, ServiceRequest, User

QUOTE_DIALOG = "quote"
PARTS, PART_QTY, LABOUR, TRAVEL, REVIEW = "parts", "part_qty", "labour", "travel", "review"
STEPS = (PARTS, LABOUR, TRAVEL, REVIEW)
MAX_LINES = 20
MATCHES_SHOWN = 8
SENT, ACCEPTED, DECLINED, SUPERSEDED = "sent", "accepted", "declined", "superseded"
PAID_WARRANTIES = ("expired", "paid")  # dispatcher's decisions that make the customer pay


class RequestEnded(StaleAction):
    """The quote's request was cancelled or closed meanwhile: there is no work left to accept."""


class NotPaidWork(NotAllowed):
    """A quote is for paid work: the dispatcher has not decided "expired" or "paid" (or overruled it)."""


class PaymentPending(DomainError):
    """Paid work has no accepted quote and no approved waiver yet."""


class Waived(StaleAction):
    """An approved fee waiver covers the quote: the company carries its cost, so the customer has
    nothing to accept (nor to decline)."""


class CoveredByWaiver(DomainError):
    """A new quote within an approved fee waiver's amount: the customer pays nothing, so there is
    nothing to put to them."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(approval.amount_minor)
        self.approval = approval


@dataclass(frozen=True)
class Totals:
    parts: int
    labour: int
    travel: int

    @property
    def total(self) -> int:
        return self.parts + self.labour + self.travel


def totals(data: dict) -> Totals:
    parts = sum(line["quantity"] * line["unit_minor"] for line in data.get("lines", []))
    return Totals(parts, data.get("labour_minor", 0), data.get("travel_minor", 0))


async def _may_quote(uow: UnitOfWork, actor: User, request_id: int, *, lock: bool = False) -> ServiceRequest:
    """Dispatchers, and the engineer of the job, on an open request (`lock`: to send the quote,
    checked after `uow.requests.lock`)."""
    request = await (uow.requests.lock(request_id) if lock else uow.requests.get(request_id))
    if request is None:
        raise NotFound()
    if not (dispatch.is_dispatcher(actor) or (actor.is_active and request.assigned_engineer_id == actor.id)):
        raise NotFound()
    if request.status not in requests.OPEN_STATUSES:
        raise NotAllowed()
    if request.warranty not in PAID_WARRANTIES:
        raise NotPaidWork()  # the registry's guess is not a decision to charge the customer
    return request


async def start(uow: UnitOfWork, actor: User, request_id: int, now: datetime) -> Draft:
    request = await _may_quote(uow, actor, request_id)
    return await dialogs.begin(uow, actor.id, QUOTE_DIALOG, PARTS, {"request_id": request.id, "lines": []}, now)


async def type_text(uow: UnitOfWork, draft: Draft, text: str | None, now: datetime) -> list[Part]:
    """Apply a typed answer; returns catalog matches when a part search needs a choice."""
    if draft.step == PARTS:
        if len(draft.data["lines"]) >= MAX_LINES:
            raise LimitReached(MAX_LINES)
        query = clean_text(text, limit=60, expected="part")
        matches = [part for part in await uow.parts.search(query, MATCHES_SHOWN) if part.price is not None]
        exact = [part for part in matches if part.code.upper() == query.upper()]
        if len(exact) == 1:
            _pick(draft, exact[0], now)
            return []
        if not matches:
            raise InvalidValue("part")
        return matches
    if draft.step == PART_QTY:
        quantity = parse_quantity(clean_text(text, limit=10, expected="quantity"))
        pending = draft.data.get("pending")
        if not pending:
            raise StaleAction()
        dialogs.move(draft, PARTS, now, lines=[*draft.data["lines"], {**pending, "quantity": quantity}], pending=None)
        return []
    if draft.step in (LABOUR, TRAVEL):
        amount = approvals.parse_amount(clean_text(text, limit=40, expected="amount"), allow_zero=True)
        key = "labour_minor" if draft.step == LABOUR else "travel_minor"
        dialogs.move(draft, TRAVEL if draft.step == LABOUR else REVIEW, now, **{key: amount})
        return []
    raise WrongInput("buttons")


def _pick(draft: Draft, part: Part, now: datetime) -> None:
    dialogs.move(draft, PART_QTY, now, pending={"part_id": part.id, "code": part.code, "name": part.name, "unit_minor": part.price})


async def pick_part(uow: UnitOfWork, draft: Draft, part_id: int, now: datetime) -> None:
    part = await uow.jobs.part(part_id) if draft.step == PARTS else None
    if part is None or part.price is None:
        raise StaleAction()
    _pick(draft, part, now)


def parts_done(draft: Draft, now: datetime) -> None:
    if draft.step != PARTS:
        raise StaleAction()
    dialogs.move(draft, LABOUR, now)


def back(draft: Draft, now: datetime) -> None:
    step = PARTS if draft.step == PART_QTY else draft.step
    index = STEPS.index(step)
    if draft.step != PART_QTY and index == 0:
        raise StaleAction()
    dialogs.move(draft, STEPS[max(index - 1, 0)] if draft.step != PART_QTY else PARTS, now, pending=None)


@dataclass(frozen=True)
class Sent:
    quote: Quote
    withdrawn: list[Approval]  # fee waivers asked against the quote this one replaces


async def send(uow: UnitOfWork, actor: User, draft: Draft, now: datetime) -> Sent:
    """Store the quote as sent (an earlier unanswered one is superseded); the dialog ends. A fee
    waiver still open was asked against an earlier quote: it is withdrawn, else approving it would
    tell the customer they pay nothing while the new quote keeps the work blocked.

    After a fee waiver was approved, a quote within its amount is refused (CoveredByWaiver: the
    customer was told they pay nothing, and nothing changes that); a larger one is sent as any
    new price is, and the customer's yes to it is needed before the work goes on (or a waiver of
    the new total)."""
    if draft.step != REVIEW:
        raise StaleAction()
    request = await _may_quote(uow, actor, draft.data["request_id"], lock=True)
    sums = totals(draft.data)
    waiver = await _covering_waiver(uow, request.id, sums.total)
    if waiver is not None:
        raise CoveredByWaiver(waiver)
    await uow.quotes.supersede(request.id)
    withdrawn = await approvals.withdraw_open(uow, request.id, actor, approvals.QUOTE_REPLACED, now, kind="waiver")
    quote = await uow.quotes.add(
        Quote(request_id=request.id, created_by_id=actor.id, status=SENT, parts_minor=sums.parts, labour_minor=sums.labour,
              travel_minor=sums.travel, total_minor=sums.total, currency="CNY", created_at=now),
        [QuoteLine(part_id=line["part_id"], code=line["code"], name=line["name"], quantity=line["quantity"],
                   unit_price_minor=line["unit_minor"], total_minor=line["quantity"] * line["unit_minor"]) for line in draft.data["lines"]],
    )
    await uow.requests.add_event(RequestEvent(request_id=request.id, actor_user_id=actor.id, action="quote_sent",
                                              details={"quote_id": quote.id, "total_minor": sums.total}, created_at=now))
    await dialogs.end(uow, draft)
    return Sent(quote, withdrawn)


@dataclass(frozen=True)
class Answered:
    quote: Quote
    request: ServiceRequest
    withdrawn: list[Approval]  # fee waivers asked meanwhile: the customer pays after all


async def answer(uow: UnitOfWork, user: User, quote_id: int, accept: bool, now: datetime) -> Answered:
    """The customer's answer; only theirs, only once, only to the quote still waiting. Accepting
    withdraws a fee waiver still open for the request (the company need not carry a cost the
    customer agreed to pay); once one covering the quote is approved, there is nothing to answer
    (Waived)."""
    quote = await uow.quotes.get(quote_id)
    customer = await uow.customers.by_user_id(user.id)
    request = await uow.requests.lock(quote.request_id) if quote else None  # a close or a ruling meanwhile is seen
    if quote is None or customer is None or request is None or request.customer_id != customer.id:
        raise NotFound()
    return await _record_answer(uow, user, quote, request, accept, now)


async def answer_by_phone(uow: UnitOfWork, actor: User, quote_id: int, accept: bool, now: datetime) -> Answered:
    """The answer the customer gave on the phone, recorded by a dispatcher or by the salesperson who
    filed the request (a customer without a chat has no other way to answer). The same outcome
    and the same checks as the customer's own answer; the event names the recorder and the phone."""
    quote = await uow.quotes.get(quote_id)
    request = await uow.requests.lock(quote.request_id) if quote else None
    if quote is None or request is None or not await may_record_by_phone(uow, actor, request):
        raise NotFound()
    return await _record_answer(uow, actor, quote, request, accept, now, by_phone=True)


async def may_record_by_phone(uow: UnitOfWork, actor: User, request: ServiceRequest) -> bool:
    """Dispatchers (they contact customers), and the salesperson in touch with the customer they filed for."""
    if dispatch.is_dispatcher(actor):
        return True
    seller = await sales.salesperson_of(uow, request.id)
    return seller is not None and seller.id == actor.id


async def _record_answer(uow: UnitOfWork, actor: User, quote: Quote, request: ServiceRequest, accept: bool, now: datetime,
                         *, by_phone: bool = False) -> Answered:
    """The answer to a quote still waiting on an open, paid request (request locked by the caller)."""
    if request.status not in requests.OPEN_STATUSES:
        raise RequestEnded()
    if request.warranty not in PAID_WARRANTIES:
        raise NotPaidWork()  # ruled in warranty after the quote went out: nothing to pay
    if quote.status == SENT and await _covering_waiver(uow, request.id, quote.total_minor) is not None:
        raise Waived()  # the customer was told they pay nothing
    if not await uow.quotes.answer(quote, ACCEPTED if accept else DECLINED, now):
        raise StaleAction()
    details = {"quote_id": quote.id, **({"by_phone": True} if by_phone else {})}  # the actor is then the staff member who recorded it
    await uow.requests.add_event(RequestEvent(request_id=request.id, actor_user_id=actor.id, action="quote_accepted" if accept else "quote_declined",
                                              details=details, created_at=now))
    withdrawn = await approvals.withdraw_open(uow, request.id, actor, approvals.QUOTE_ACCEPTED, now, kind="waiver") if accept else []
    return Answered(quote, request, withdrawn)


async def require_cleared(uow: UnitOfWork, request: ServiceRequest) -> None:
    """Paid work waits for an accepted quote or an approved fee waiver (PaymentPending otherwise).
    Only an explicit decision makes work paid (the dispatcher's, or a return's paid-repair
    outcome): the registry's guess does not block."""
    if not await payment_pending(uow, request):
        return
    raise PaymentPending()


async def payment_pending(uow: UnitOfWork, request: ServiceRequest) -> bool:
    """The work is paid and neither an accepted quote nor an approved fee waiver covers it yet."""
    if request.warranty not in PAID_WARRANTIES:
        return False
    latest = await uow.quotes.latest(request.id)
    if latest is not None and latest.status == ACCEPTED:
        return False
    covered = latest.total_minor if latest is not None else 0  # a waiver must cover the quote the customer was given
    return await _covering_waiver(uow, request.id, covered) is None


async def _covering_waiver(uow: UnitOfWork, request_id: int, total_minor: int) -> Approval | None:
    """An approved fee waiver of at least `total_minor`: the company carries that much."""
    return next((a for a in await uow.approvals.of_request(request_id)
                 if a.kind == "waiver" and a.status == approvals.APPROVED and (a.amount_minor or 0) >= total_minor), None)


async def waiting_quote(uow: UnitOfWork, request_id: int) -> Quote | None:
    """The quote the customer has not answered yet, if any (not one an approved waiver covers)."""
    latest = await uow.quotes.latest(request_id)
    if latest is None or latest.status != SENT or await _covering_waiver(uow, request_id, latest.total_minor) is not None:
        return None
    return latest


async def declined_total(uow: UnitOfWork, request_id: int) -> int | None:
    """The amount of the customer's declined quote: what a fee waiver would have to cover."""
    latest = await uow.quotes.latest(request_id)
    return latest.total_minor if latest is not None and latest.status == DECLINED else None


def unanswered_in(history: list[RequestEvent], approvals_of_request: tuple[Approval, ...] | list[Approval]) -> int | None:
    """The id of the quote a request's timeline shows as sent and not yet answered (nor voided by a
    warranty ruling, nor covered by an approved fee waiver): for a card drawn from the timeline.
    An answer re-checks the quote itself (`answer_by_phone`)."""
    last = next((e for e in reversed(history) if e.action in ("quote_sent", "quote_accepted", "quote_declined", "quote_void")), None)
    if last is None or last.action != "quote_sent":
        return None
    total = last.details.get("total_minor", 0)
    if any(a.kind == "waiver" and a.status == approvals.APPROVED and (a.amount_minor or 0) >= total for a in approvals_of_request):
        return None
    return last.details.get("quote_id")
