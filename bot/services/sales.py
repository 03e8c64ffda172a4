"""Requests a salesperson files for a customer: the dialog's rules, and what approval does.

The request is stored at once (numbered, status "awaiting_approval") and goes through the
policy's "sales_request" chain (marketing VP, then production VP). Only when approved is it
"created" for the service department: its first-contact clock starts and it enters the queue.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.policy import Policy
from bot.services import approvals, dialogs, requests
from bot.services.errors import NotAllowed, StaleAction, WrongInput
from bot.services.validation import DESCRIPTION_MAX, NAME_MAX, clean_text, contact_phone, international_phone, normalize_serial
from storage.db import UnitOfWork
from storage.models import Approval, Customer, Draft, RequestEvent, ServiceRequest, User

ROLE_SALES = "salesperson"
SALES_DIALOG = "sales_request"
KIND, NAME, PHONE, PRODUCT, DESCRIPTION, REVIEW = "kind", "name", "phone", "product", "description", "review"
STEPS = (KIND, NAME, PHONE, PRODUCT, DESCRIPTION, REVIEW)
KINDS = ("repair", "installation", "maintenance", "consultation")


def require_sales(user: User) -> None:
    if not (user.is_active and ROLE_SALES in user.role_names):
        raise NotAllowed()


async def start(uow: UnitOfWork, user: User, now: datetime) -> tuple[Draft, bool]:
    """/sell: a new form, or the one the salesperson was filling (open, or kept aside when another
    dialog interrupted it) where it stopped (returns `resumed=True`)."""
    require_sales(user)
    resumed = await dialogs.reopen(uow, user.id, SALES_DIALOG, now)
    if resumed is not None:
        return resumed, True
    return await dialogs.begin(uow, user.id, SALES_DIALOG, KIND, {}, now), False


def choose_kind(draft: Draft, kind: str, now: datetime) -> None:
    if draft.step != KIND or kind not in KINDS:
        raise StaleAction()
    dialogs.move(draft, NAME, now, kind=kind)


def type_text(draft: Draft, text: str | None, now: datetime) -> None:
    """A typed answer for the current step; WrongInput / TooLong / InvalidValue re-ask it."""
    if draft.step == NAME:
        dialogs.move(draft, PHONE, now, name=clean_text(text, limit=NAME_MAX, expected="text"))
    elif draft.step == PHONE:
        dialogs.move(draft, PRODUCT, now, phone=international_phone(clean_text(text, limit=40, expected="phone")))
    elif draft.step == PRODUCT:
        # checked as the customer's intake checks it (validation.SERIAL_MAX, the same refusals)
        dialogs.move(draft, DESCRIPTION, now, serial=normalize_serial(text or ""))
    elif draft.step == DESCRIPTION:
        dialogs.move(draft, REVIEW, now, description=clean_text(text, limit=DESCRIPTION_MAX, expected="text"))
    else:
        raise WrongInput("buttons")


def share_contact(draft: Draft, phone: str, now: datetime) -> None:
    """The customer's card shared from the salesperson's phone book at the phone step (Telegram
    sends its number international, with or without the '+')."""
    if draft.step != PHONE:
        raise WrongInput("text")
    dialogs.move(draft, PRODUCT, now, phone=contact_phone(phone))


def skip_product(draft: Draft, now: datetime) -> None:
    if draft.step != PRODUCT:
        raise StaleAction()
    dialogs.move(draft, DESCRIPTION, now, serial=None)


def back(draft: Draft, now: datetime) -> None:
    index = STEPS.index(draft.step)
    if index == 0:
        raise StaleAction()
    dialogs.move(draft, STEPS[index - 1], now)


async def known_customer(uow: UnitOfWork, draft: Draft) -> Customer | None:
    """The customer record already holding the form's phone, which `submit` files the request
    for whatever name was typed; None while the phone is new (a record is made with the name)."""
    phone = draft.data.get("phone")
    return await uow.customers.by_phone(phone) if phone else None


def files_under_another_name(draft: Draft, known: Customer | None) -> bool:
    """The phone is a known customer's whose name is not the one typed: the request goes to them."""
    typed = str(draft.data.get("name") or "")
    return known is not None and known.name.casefold().strip() != typed.casefold().strip()


@dataclass(frozen=True)
class Filed:
    request: ServiceRequest
    approval: Approval
    customer: Customer


async def submit(uow: UnitOfWork, policy: Policy, user: User, draft: Draft, now: datetime, timezone: ZoneInfo) -> Filed:
    """Store the request (awaiting approval) and open its approval; the dialog ends."""
    require_sales(user)
    if draft.step != REVIEW:
        raise StaleAction()
    data = draft.data
    customer = await known_customer(uow, draft)
    # A customer the bot does not know stays without a chat: a typed phone number proves nothing,
    # so nobody is linked to these requests by typing it later.
    if customer is None:
        customer = await uow.customers.add(Customer(user_id=None, name=data["name"], phone=data["phone"], company=None, created_at=now))
    product = await uow.products.by_serial(data["serial"]) if data.get("serial") else None
    if product is not None and product.customer_id != customer.id:
        product = None  # someone else's (or nobody's) unit, as in the intake: the serial is kept as typed
    new = requests.NewRequest(
        kind=data["kind"], description=data["description"], product_id=product.id if product else None,
        serial=None if product else data.get("serial"),
    )
    request = await requests.create(uow, user, customer, new, policy, now, timezone, awaiting_approval=True)
    approval = await approvals.request_approval(uow, policy, user, request, "sales_request", now, reason=data["description"])
    await dialogs.end(uow, draft)
    return Filed(request, approval, customer)


async def _finish(uow: UnitOfWork, approval: Approval, now: datetime) -> None:
    """Approved: the request becomes the service department's (its clocks start now). Rejected:
    it is closed without ever reaching the queue."""
    request = await uow.requests.get(approval.request_id)
    if request.status != requests.AWAITING_APPROVAL:
        return
    if approval.status == approvals.APPROVED:
        request.status, request.updated_at = requests.NEW, now
        await uow.requests.add_event(RequestEvent(
            request_id=request.id, actor_user_id=approval.decided_by_id, action="created", details={"status": requests.NEW}, created_at=now,
        ))
    else:
        request.status, request.closed_reason, request.updated_at = requests.CLOSED, requests.SALES_REJECTED, now
        await uow.requests.add_event(RequestEvent(
            request_id=request.id, actor_user_id=approval.decided_by_id, action="sales_rejected", details={}, created_at=now,
        ))


approvals.FINISHERS["sales_request"] = _finish



async def salesperson_of(uow: UnitOfWork, request_id: int) -> User | None:
    """The salesperson who filed the request for its customer (who asked its "sales_request"
    approval), while they are still an active salesperson; None for a request the customer filed."""
    filed = next((a for a in await uow.approvals.of_request(request_id) if a.kind == "sales_request"), None)
    seller = await uow.users.get(filed.requested_by_id) if filed is not None and filed.requested_by_id else None
    return seller if seller is not None and seller.is_active and ROLE_SALES in seller.role_names else None
