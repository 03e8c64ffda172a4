"""Returns and exchanges: the return windows, the customer's dialog, and tracking the product.

The windows (policy `[returns]`, DESIGN.md §1) are counted from the product's **sale date** in
the registry: a retail return runs from when the customer got the product, and that is what a
customer counts from. When the registry has no sale date the commissioning date is used (it is
never earlier than the sale, so the customer loses nothing); with neither the windows cannot be
applied and the bot says so instead of guessing. Days are local days in the desk's time zone and
each window includes its last day: sold on 10 March, day 7 is 17 March (still "within 7 days"),
and "within 3 months" means up to and including 10 June, calendar months as a customer counts
them (a sale on 31 January runs to 30 April, the last day of the shorter month).

A return is a request of kind "return" (created by `requests.create`, like any other request)
plus a `returns` row holding the proposed outcome and the state: pending (the service manager's
approval) → approved (the customer ships the product) → received → inspected → refunded /
exchanged / repaired; or rejected, or cancelled when its request ended before the product reached
us (the customer cancelled, the dispatcher closed it, or an engineer's work on it was confirmed or
closed unanswered: `end_with_request`). Once the warehouse has the product, the return is finished
on its tracking card whatever became of the request. Every state change is a conditional UPDATE
from the expected state and an event on the timeline.

Past the free-repair window a quality fault is still repaired free while the registry's warranty
runs (DESIGN.md §1: in warranty, free repair and parts), at the company's shipping cost; only then
is the repair paid.
"""
from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.policy import Policy, ReturnPolicy
from bot.services import approvals, dialogs, dispatch, escalation, quotes, requests
from bot.services.errors import DomainError, NotAllowed, NotFound, StaleAction
from bot.services.validation import clean_text
from storage.db import UnitOfWork
from storage.models import Approval, Customer, Draft, Product, RequestEvent, ReturnCase, ServiceRequest, User

UNUSED, QUALITY = "unused", "quality"
REASONS = (UNUSED, QUALITY)
REFUND_UNUSED, REFUND, EXCHANGE, FREE_REPAIR, PAID_REPAIR = "refund_unused", "refund", "exchange", "free_repair", "paid_repair"
NOT_RETURNABLE = "not_returnable"  # unused, but its window has passed: nothing to propose

PENDING, APPROVED, REJECTED, RECEIVED, INSPECTED = "pending", "approved", "rejected", "received", "inspected"
REFUNDED, EXCHANGED, REPAIRED, CANCELLED = "refunded", "exchanged", "repaired", "cancelled"
SENT_BACK = "sent_back"  # returned to the customer as it came (a paid repair declined, no fault found)
OPEN_STATES = (PENDING, APPROVED, RECEIVED, INSPECTED)
NOT_WITH_US = (PENDING, APPROVED)  # the product has not reached us: the return ends with its request
FINAL_STATES = (REFUNDED, EXCHANGED, REPAIRED, SENT_BACK)
AT_WAREHOUSE = (RECEIVED, INSPECTED)  # the product is with us: the return finishes it, nothing else
# What a tracking button does: the state it expects, and the state it leads to.
TRACK_STEPS = {
    RECEIVED: (APPROVED, RECEIVED),
    INSPECTED: (RECEIVED, INSPECTED),
    REFUNDED: (INSPECTED, REFUNDED),
    EXCHANGED: (INSPECTED, EXCHANGED),
    REPAIRED: (INSPECTED, REPAIRED),
    SENT_BACK: (INSPECTED, SENT_BACK),
}
# The natural end of each proposed outcome (staff may still finish otherwise after inspection).
FINISH_FOR = {REFUND_UNUSED: REFUNDED, REFUND: REFUNDED, EXCHANGE: EXCHANGED, FREE_REPAIR: REPAIRED, PAID_REPAIR: REPAIRED}
TRACKER_ROLES = frozenset({"warehouse", "service_manager"})

DIALOG = "return"
FROM_INTAKE = "intake"  # the dialog's source when "Return / exchange" was chosen as a type in /new
PRODUCT, REASON, DESCRIPTION, CONFIRM = "product", "reason", "description", "confirm"
DESCRIPTION_LIMIT = 1000
PRODUCTS_OFFERED = 8


# --- the rule ---------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later, or that month's last day if it is shorter."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Proposal:
    """What the return windows give for one product on one day."""

    reason: str  # unused, quality
    outcome: str  # refund_unused, refund, exchange, free_repair, paid_repair, not_returnable
    counted_from: date
    days_since: int
    window_end: date | None  # the last day of the window that applied (or that was missed)
    shipping_paid_by: str | None  # customer, company; None when nothing is proposed

    @property
    def returnable(self) -> bool:
        return self.outcome != NOT_RETURNABLE


def propose(policy: ReturnPolicy, reason: str, counted_from: date, today: date, warranty_end: date | None = None) -> Proposal:
    """The outcome for a product sold (or commissioned) on `counted_from`, asked about `today`
    (a local date in the desk's time zone), with who pays the shipping to us. `warranty_end` is
    the registry's (inclusive, as `dispatch.warranty_from_registry` reads it): past the free-repair
    window a fault is still repaired free until then."""
    if reason not in REASONS:
        raise ValueError(f"unknown return reason {reason!r}")
    days = (today - counted_from).days

    def made(outcome: str, end: date | None, shipping: str | None) -> Proposal:
        return Proposal(reason, outcome, counted_from, days, end, shipping)

    if reason == UNUSED:
        end = counted_from + timedelta(days=policy.unused_days)
        return made(REFUND_UNUSED, end, policy.unused_shipping) if today <= end else made(NOT_RETURNABLE, end, None)
    if days <= policy.refund_days:
        return made(REFUND, counted_from + timedelta(days=policy.refund_days), policy.quality_shipping)
    if days <= policy.exchange_days:
        return made(EXCHANGE, counted_from + timedelta(days=policy.exchange_days), policy.quality_shipping)
    repair_end = add_months(counted_from, policy.free_repair_months)
    if today <= repair_end:
        return made(FREE_REPAIR, repair_end, policy.quality_shipping)
    if warranty_end is not None and today <= warranty_end:
        return made(FREE_REPAIR, warranty_end, policy.quality_shipping)
    return made(PAID_REPAIR, repair_end, policy.paid_repair_shipping)


def propose_for(policy: ReturnPolicy, reason: str, product: Product, today: date) -> Proposal:
    """`propose` for a registered product: its start date and its registry warranty."""
    return propose(policy, reason, start_date(product), today, product.warranty_end)


def start_date(product: Product) -> date | None:
    """The date the windows run from: the sale, else the commissioning (see the module docstring)."""
    return product.sale_date or product.commissioning_date


# --- refusals ---------------------------------------------------------------------------------


class NoProducts(DomainError):
    """The customer has no registered product to return."""


class UnknownSaleDate(DomainError):
    """The registry knows neither the sale nor the commissioning date of the product."""

    def __init__(self, product: Product) -> None:
        super().__init__(product.serial)
        self.product = product


class AlreadyOpen(DomainError):
    """A return of this product is already under way."""

    def __init__(self, request: ServiceRequest) -> None:
        super().__init__(request.number)
        self.request = request


class NotReturnable(DomainError):
    """Unused, but outside its window: the dialog stays at the reason step."""

    def __init__(self, proposal: Proposal) -> None:
        super().__init__(proposal.outcome)
        self.proposal = proposal


class AlreadyMoved(DomainError):
    """A tracking press found the return in another state (a double press, or someone was first)."""

    def __init__(self, case: ReturnCase) -> None:
        super().__init__(case.state)
        self.case = case


# --- the customer's dialog --------------------------------------------------------------------


async def _own_product(uow: UnitOfWork, customer: Customer | None, product_id: int) -> Product:
    product = await uow.products.get(product_id)
    if product is None or customer is None or product.customer_id != customer.id:
        raise NotFound()
    return product


async def _returnable(uow: UnitOfWork, customer: Customer | None, product_id: int) -> Product:
    """The customer's product, if the windows can be applied and no return of it is open."""
    product = await _own_product(uow, customer, product_id)
    if start_date(product) is None:
        raise UnknownSaleDate(product)
    case = await uow.returns.open_for_product(product.id, OPEN_STATES, held=AT_WAREHOUSE, ended=approvals.ENDED)
    if case is not None:
        raise AlreadyOpen(await uow.requests.get(case.request_id))
    return product


async def _reopen(uow: UnitOfWork, user: User, customer: Customer | None, now: datetime,
                  belongs: Callable[[dict], bool] | None = None) -> Draft | None:
    """The customer's return where it stopped: open now, or kept aside when another dialog
    interrupted it (`dialogs.reopen`). One whose chosen product can no longer be returned (it came
    back to us meanwhile, or a return of it is open) is dropped (None), so its summary never
    fails to show; at the product step nothing chosen is relied on yet."""
    draft = await dialogs.reopen(uow, user.id, DIALOG, now, belongs)
    if draft is None or draft.step == PRODUCT:
        return draft
    try:
        await _returnable(uow, customer, draft.data["product_id"])
    except (NotFound, UnknownSaleDate, AlreadyOpen):
        await dialogs.end(uow, draft)
        return None
    return draft


async def start_from_request(uow: UnitOfWork, user: User, customer: Customer | None, request_id: int, now: datetime) -> tuple[Draft, bool]:
    """From the customer's request card: the request's product if it is a registered one of
    theirs, otherwise they pick one of their products first. A return of that same product, or
    one begun from this same card, goes on where it stopped (returns `resumed=True`); a return of
    another product stays aside for its own product or /new."""
    request = await requests.own_request(uow, customer, request_id)
    if request.kind == "return" or request.status in (requests.CANCELLED, requests.AWAITING_APPROVAL):
        raise NotAllowed()
    product = await uow.products.get(request.product_id) if request.product_id else None
    if product is not None and product.customer_id != customer.id:
        product = None
    if product is not None:
        await _returnable(uow, customer, product.id)
    elif not await uow.products.of_customer(customer.id, 1):
        raise NoProducts()

    def same(data: dict) -> bool:
        return data.get("from_request_id") == request.id or (product is not None and data.get("product_id") == product.id)

    resumed = await _reopen(uow, user, customer, now, same)
    if resumed is not None:
        return resumed, True
    if product is not None:
        return await dialogs.begin(uow, user.id, DIALOG, REASON, {"product_id": product.id, "from_request_id": request.id}, now), False
    return await dialogs.begin(uow, user.id, DIALOG, PRODUCT, {"from_request_id": request.id, "asked_product": True}, now), False


async def start_from_intake(uow: UnitOfWork, user: User, customer: Customer | None, now: datetime) -> tuple[Draft, bool] | None:
    """"Return / exchange" chosen in /new: this dialog, from the choice of product, when the
    customer has registered products (the windows and the manager's approval apply); None when
    they have none, and the intake goes on as a request the service department handles itself.
    It names no product, so a return kept aside, of whatever product, goes on (`resumed=True`)."""
    if customer is None or not await uow.products.of_customer(customer.id, 1):
        return None
    resumed = await _reopen(uow, user, customer, now)
    if resumed is not None:
        return resumed, True
    return await dialogs.begin(uow, user.id, DIALOG, PRODUCT, {"asked_product": True, "source": FROM_INTAKE}, now), False


def back_to_intake(draft: Draft) -> bool:
    """Back (or "not in the list") from the first step of a return begun in /new goes back there."""
    return draft.step == PRODUCT and draft.data.get("source") == FROM_INTAKE


async def start_from_product(uow: UnitOfWork, user: User, customer: Customer | None, product_id: int, now: datetime) -> tuple[Draft, bool]:
    """From the customer's product list: straight to the reason, or on with a return of this same
    product where it stopped (`resumed=True`)."""
    product = await _returnable(uow, customer, product_id)
    resumed = await _reopen(uow, user, customer, now, lambda data: data.get("product_id") == product.id)
    if resumed is not None:
        return resumed, True
    return await dialogs.begin(uow, user.id, DIALOG, REASON, {"product_id": product.id}, now), False


async def products_offered(uow: UnitOfWork, customer: Customer) -> list[Product]:
    return await uow.products.of_customer(customer.id, PRODUCTS_OFFERED)


async def choose_product(uow: UnitOfWork, customer: Customer | None, draft: Draft, value: str, now: datetime) -> Product:
    if draft.step != PRODUCT or not value.isdigit():
        raise StaleAction()
    product = await _returnable(uow, customer, int(value))
    dialogs.move(draft, REASON, now, product_id=product.id)
    return product


async def choose_reason(uow: UnitOfWork, policy: Policy, customer: Customer | None, draft: Draft, reason: str, today: date, now: datetime) -> Proposal:
    """Unused or quality fault; an unused product past its window is refused here."""
    if draft.step != REASON or reason not in REASONS:
        raise StaleAction()
    product = await _returnable(uow, customer, draft.data["product_id"])
    proposal = propose_for(policy.returns, reason, product, today)
    if not proposal.returnable:
        raise NotReturnable(proposal)
    dialogs.move(draft, DESCRIPTION, now, reason=reason)
    return proposal


def describe(draft: Draft, text: str | None, now: datetime) -> None:
    """The customer's short description; WrongInput / TooLong re-ask it."""
    dialogs.move(draft, CONFIRM, now, description=clean_text(text, limit=DESCRIPTION_LIMIT, expected="text"))


def description_optional(draft: Draft) -> bool:
    """An unused, intact product comes back without a reason (DESIGN.md §1); a fault is described."""
    return draft.data.get("reason") == UNUSED


def skip_description(draft: Draft, now: datetime) -> None:
    """"Skip" at the description of an unused return: nothing to say."""
    if draft.step != DESCRIPTION or not description_optional(draft):
        raise StaleAction()
    dialogs.move(draft, CONFIRM, now, description=None)


def back(draft: Draft, now: datetime) -> None:
    previous = {CONFIRM: DESCRIPTION, DESCRIPTION: REASON}
    if draft.step == REASON and draft.data.get("asked_product"):
        previous[REASON] = PRODUCT
    if draft.step not in previous:
        raise StaleAction()
    if previous[draft.step] == PRODUCT:  # chosen again: until then the return is of no product (`start_from_product`)
        dialogs.move(draft, PRODUCT, now, product_id=None)
    else:
        dialogs.move(draft, previous[draft.step], now)


async def preview(uow: UnitOfWork, policy: Policy, customer: Customer | None, draft: Draft, today: date) -> tuple[Product, Proposal]:
    """The product and the outcome the confirm step shows (computed again on sending)."""
    product = await _own_product(uow, customer, draft.data["product_id"])
    return product, propose_for(policy.returns, draft.data["reason"], product, today)


@dataclass(frozen=True)
class Filed:
    request: ServiceRequest
    case: ReturnCase
    approval: Approval
    proposal: Proposal
    product: Product


async def submit(
    uow: UnitOfWork, policy: Policy, user: User, customer: Customer | None, draft: Draft, now: datetime, timezone: ZoneInfo,
    approval_reason: Callable[[Proposal, Product], str],
) -> Filed:
    """Create the return request and its row, and ask the policy's approvers; the dialog ends.
    The windows are applied again with today's date: the dialog may have waited overnight.
    An unused return that skipped its reason has an empty description (`views.request_description`
    says so in each reader's language)."""
    if draft.step != CONFIRM or customer is None:
        raise StaleAction()
    product = await _returnable(uow, customer, draft.data["product_id"])
    today = now.astimezone(timezone).date()
    proposal = propose_for(policy.returns, draft.data["reason"], product, today)
    if not proposal.returnable:
        dialogs.move(draft, REASON, now)
        raise NotReturnable(proposal)
    description = draft.data.get("description") or ""
    new = requests.NewRequest(kind="return", description=description, product_id=product.id, serial=product.serial)
    request = await requests.create(uow, user, customer, new, policy, now, timezone)
    if proposal.outcome == PAID_REPAIR and dispatch.warranty_from_registry(product, today) != dispatch.IN_WARRANTY:
        # the customer was told so: the repair waits for their accepted quote (a paid repair is
        # only proposed out of the registry's warranty, and that reading is never overruled here)
        request.warranty = dispatch.EXPIRED
    case = await uow.returns.add(ReturnCase(
        request_id=request.id, product_id=product.id, reason_kind=proposal.reason, proposed_outcome=proposal.outcome,
        shipping_paid_by=proposal.shipping_paid_by, counted_from=proposal.counted_from, days_since=proposal.days_since,
        state=PENDING, created_at=now, updated_at=now,
    ))
    approval = await approvals.request_approval(
        uow, policy, user, request, "return", now, reason=approval_reason(proposal, product), subject_id=case.id,
    )
    await dialogs.end(uow, draft)
    return Filed(request, case, approval, proposal, product)


# --- the approval's outcome -------------------------------------------------------------------


async def _event(uow: UnitOfWork, request: ServiceRequest, actor_id: int | None, action: str, now: datetime, **details: object) -> None:
    await uow.requests.add_event(RequestEvent(
        request_id=request.id, actor_user_id=actor_id, action=action, internal=False, created_at=now,
        details={k: v for k, v in details.items() if v is not None},
    ))


async def _finish(uow: UnitOfWork, approval: Approval, now: datetime) -> None:
    """Approved: the customer may ship the product. Rejected: the request closes with the reason."""
    case = await uow.returns.of_request(approval.request_id)
    if case is None or case.state != PENDING:
        return
    request = await uow.requests.get(approval.request_id)
    if request.status not in requests.OPEN_STATUSES:  # the customer cancelled while it waited
        await uow.returns.move(case, PENDING, CANCELLED, decided_at=now, updated_at=now)
        return
    if approval.status == approvals.APPROVED:
        await uow.returns.move(case, PENDING, APPROVED, decided_at=now, updated_at=now)
        if request.status in (requests.NEW, requests.TRIAGED):
            request.status = requests.IN_PROGRESS
        request.updated_at = now
        await _event(uow, request, approval.decided_by_id, "return_approved", now, outcome=case.proposed_outcome, shipping=case.shipping_paid_by)
        return
    actions = await uow.approvals.actions(approval.id)
    reason = next((a.comment for a in reversed(actions) if a.action == approvals.REJECT), None)
    await uow.returns.move(case, PENDING, REJECTED, decided_at=now, updated_at=now, note=reason)
    request.status, request.closed_reason, request.updated_at = requests.CLOSED, "return_rejected", now
    await _event(uow, request, approval.decided_by_id, "return_rejected", now, text=reason)
    await escalation.end_with_request(uow, request, now)


approvals.FINISHERS["return"] = _finish


# --- the request ends -------------------------------------------------------------------------


async def end_with_request(uow: UnitOfWork, request: ServiceRequest, actor: User | None, now: datetime) -> list[Approval]:
    """Called wherever a request closes or is cancelled: a return whose product has not reached
    us ends with it (cancelled, so the product may be returned later and the warehouse no longer
    waits for it), and its approval still waiting is withdrawn. Returns the approvals withdrawn,
    whose approvers' cards the caller redraws after its commit (`handlers/approvals.show_withdrawn`).
    A product already with us stays the warehouse's to finish. `actor` None: nobody acted (the
    sweep closed it), and the withdrawal is recorded in the name of whoever asked for the return."""
    case = await uow.returns.of_request(request.id)
    if case is None:
        return []
    if case.state in NOT_WITH_US:
        await uow.returns.move(case, case.state, CANCELLED, updated_at=now)
    if actor is None:
        waiting = [a for a in await uow.approvals.of_request(request.id) if a.kind == "return" and a.status in approvals.OPEN]
        if not waiting:
            return []
        actor = await uow.users.get(waiting[0].requested_by_id)
    return await approvals.withdraw_open(uow, request.id, actor, approvals.REQUEST_ENDED, now, kind="return")


# --- staff track the product ------------------------------------------------------------------


def may_track(user: User) -> bool:
    return user.is_active and bool(user.role_names & TRACKER_ROLES)


@dataclass(frozen=True)
class Tracked:
    case: ReturnCase
    request: ServiceRequest
    customer: Customer
    product: Product | None
    withdrawn: tuple[Approval, ...] = ()  # open approvals that ended with the request a last step closed


async def tracked(uow: UnitOfWork, actor: User, return_id: int) -> Tracked:
    """A return as the warehouse or the service manager sees it."""
    if not may_track(actor):
        raise NotAllowed()
    case = await uow.returns.get(return_id)
    if case is None:
        raise NotFound()
    request = await uow.requests.get(case.request_id)
    product = await uow.products.get(case.product_id) if case.product_id else None
    return Tracked(case, request, await uow.customers.get(request.customer_id), product)


IN_HAND = (APPROVED, RECEIVED, INSPECTED)  # approved: the tracking is with the warehouse until it is finished
IN_HAND_SHOWN = 10


async def in_hand(uow: UnitOfWork, actor: User) -> tuple[list[Tracked], int]:
    """/returns: the returns waiting on the warehouse, the longest-waiting first, and how many in all."""
    if not may_track(actor):
        raise NotAllowed()
    cases, total = await uow.returns.in_states(IN_HAND, IN_HAND_SHOWN, held=AT_WAREHOUSE, ended=approvals.ENDED)
    return [await tracked(uow, actor, case.id) for case in cases], total


async def for_staff_card(uow: UnitOfWork, actor: User, request: ServiceRequest) -> ReturnCase | None:
    """The return behind a request's staff card, when the viewer is one who tracks returns."""
    if request.kind != "return" or not may_track(actor):
        return None
    return await uow.returns.of_request(request.id)


async def advance(uow: UnitOfWork, actor: User, return_id: int, action: str, now: datetime) -> Tracked:
    """Received, inspected, then refunded / exchanged / repaired: each from the state before it,
    each an event on the timeline; the last one closes the request. A product already with us is
    finished even if its request was closed meanwhile (its engineer's report was confirmed)."""
    if action not in TRACK_STEPS:
        raise NotAllowed()
    known = await uow.returns.get(return_id)
    if known is not None:  # the request first, as everywhere: a cancel or close meanwhile is seen, not deadlocked on
        await uow.requests.lock(known.request_id)
        if uow.requests.takes_row_locks:
            await uow.session.refresh(known)
    found = await tracked(uow, actor, return_id)
    case, request = found.case, found.request
    expected, target = TRACK_STEPS[action]
    if case.state != expected:
        raise AlreadyMoved(case)
    request_open = request.status in requests.OPEN_STATUSES
    if not request_open and case.state not in AT_WAREHOUSE:
        raise NotAllowed()
    if target == REPAIRED:
        await quotes.require_cleared(uow, request)  # a paid repair: the customer accepted its cost first
    stamp = {RECEIVED: "received_at", INSPECTED: "inspected_at"}.get(target, "finished_at")
    if not await uow.returns.move(case, expected, target, updated_at=now, **{stamp: now}):
        raise AlreadyMoved(case)
    request.updated_at = now
    withdrawn: list[Approval] = []
    if target in FINAL_STATES and request_open:
        request.status, request.closed_reason = requests.CLOSED, target
        # what hangs on the request ends with it, as on any close (a fee waiver or a requisition
        # still open would otherwise stay pending on a closed request, its buttons only refusing)
        from bot.services import cancellation  # cancellation → returns: imported here, not at the top
        withdrawn += await cancellation.end_what_hangs_on(uow, request, actor, now)
    if target in (REFUNDED, EXCHANGED) and case.product_id is not None:
        # the returned unit is ours again (refunded, or swapped for another): no longer the
        # customer's to return a second time; a replacement unit is claimed by its own serial
        product = await uow.products.get(case.product_id)
        if product is not None and product.customer_id == request.customer_id:
            product.customer_id = None
    await _event(uow, request, actor.id, f"return_{target}", now)
    return Tracked(found.case, found.request, found.customer, found.product, tuple(withdrawn))


async def quote_needed(uow: UnitOfWork, tracked: Tracked) -> bool:
    """Inspected, to be repaired for a fee, and no accepted quote or waiver yet: the dispatchers quote it."""
    return (tracked.case.state == INSPECTED and FINISH_FOR[tracked.case.proposed_outcome] == REPAIRED
            and await quotes.payment_pending(uow, tracked.request))


async def customer_user(uow: UnitOfWork, customer: Customer) -> User | None:
    """The customer's Telegram user, if they have one (someone who left the staff is still a
    customer; whether they can be reached is the outbox's business: notices.may_reach)."""
    return await uow.users.get(customer.user_id) if customer.user_id else None


async def trackers(uow: UnitOfWork) -> list[User]:
    """Everyone who tracks returns (warehouse and service managers), each once."""
    found: dict[int, User] = {}
    for role in sorted(TRACKER_ROLES):
        for user in await uow.users.active_with_role(role):
            found.setdefault(user.id, user)
    return list(found.values())
