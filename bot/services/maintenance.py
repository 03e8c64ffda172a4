"""Periodic maintenance reminders: when a reminder is due, recording it once, and booking from it.

The rule (policy `[maintenance]`): a product with a maintenance cycle and a service start
(commissioning, else sale; `registry.service_start`) is due for maintenance on every cycle date
counted from that start. The reminder for a due date goes out `remind_days_before` days earlier
at `remind_at` local time, or on the first sweep after that if the bot was down, as long as the
due date itself has not passed.

Recording is a `maintenance_reminders` row per (product, due date), inserted with its unique key:
a conflict means another sweep (or process) already did it, so each reminder happens once. The
customer's message is queued in the same transaction; the dispatchers get one list per reminder
day, queued after the whole scan so it names every product of that day.

On the due date itself (the same scan, at `remind_at`) a reminder nobody booked is chased once:
its row is claimed by setting `due_day_chased_at` (a second process finds it set), its customer
gets a second reminder and the dispatchers one list per day of what to phone about, both in the
claiming transaction. A scan also chases the due dates of the days no scan covered (the bot was
down), so a due date passed while the bot was down is chased on its first scan back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.policy import MaintenancePolicy
from bot.services import dialogs, intake, registry, requests
from bot.services.errors import DomainError, NotFound
from storage.db import UnitOfWork
from storage.models import Customer, Draft, MaintenanceReminder, OutboxMessage, Product, ServiceRequest, User

CUSTOMER_REMINDER = "maintenance_due"  # outbox kinds
DISPATCHER_LIST = "maintenance_list"
OUTBOX_KINDS = (CUSTOMER_REMINDER, DISPATCHER_LIST)
SCANNED_STATE = "maintenance_scanned_for"  # app_state: the latest reminder moment fully scanned
SCAN_BATCH = 500  # products per transaction
DUE_DAY_SUFFIX = ":due_day"  # outbox keys of the due-date chase (payload flag "due_day")


# --- the rule (pure) -----------------------------------------------------------------------


def reminder_moment(due_on: date, policy: MaintenancePolicy, tz: ZoneInfo) -> datetime:
    """When the reminder for maintenance due on `due_on` goes out."""
    return datetime.combine(due_on - timedelta(days=policy.remind_days_before), policy.remind_at, tzinfo=tz)


def due_to_remind(product: Product, policy: MaintenancePolicy, tz: ZoneInfo, now: datetime) -> date | None:
    """The due date to remind of at `now`: the next one on the cycle (today or later), once its
    reminder moment has come; None if there is none yet (or the product has no cycle or start)."""
    due = registry.next_maintenance(product, now.astimezone(tz).date())
    if due is None or reminder_moment(due, policy, tz) > now:
        return None
    return due


def latest_scan_moment(now: datetime, policy: MaintenancePolicy, tz: ZoneInfo) -> datetime:
    """The latest `remind_at` at or before `now`. Reminders only come due at that time of day, so
    one scan per such moment finds them all (after downtime, the first sweep scans)."""
    local_day = now.astimezone(tz).date()
    moment = datetime.combine(local_day, policy.remind_at, tzinfo=tz)
    return moment if moment <= now else datetime.combine(local_day - timedelta(days=1), policy.remind_at, tzinfo=tz)


def customer_key(reminder_id: int, due_day: bool = False) -> str:
    return f"{CUSTOMER_REMINDER}:{reminder_id}" + (DUE_DAY_SUFFIX if due_day else "")


def dispatcher_key(dispatcher_id: int, day: date, due_day: bool = False) -> str:
    return f"{DISPATCHER_LIST}:{dispatcher_id}:{day.isoformat()}" + (DUE_DAY_SUFFIX if due_day else "")


def chase_days(previous_scan: datetime | None, moment: datetime, tz: ZoneInfo) -> tuple[date, date]:
    """The due dates the scan of `moment` chases (first, last; both included): its own day and
    the days after the previous scan's that no scan covered. Without a previous scan (a new desk,
    or the marker lost) only its own day: nothing from before the feature existed."""
    last = moment.astimezone(tz).date()
    if previous_scan is None:
        return last, last
    return min(previous_scan.astimezone(tz).date() + timedelta(days=1), last), last


def told_on_due_day(reminder: MaintenanceReminder, tz: ZoneInfo) -> bool:
    """The first reminder itself went out on the due date (a same-day policy, or a catch-up on
    the due date): saying it again the same day would be noise."""
    return reminder.created_at.astimezone(tz).date() >= reminder.due_on


# --- the sweep step --------------------------------------------------------------------------


async def last_scanned(uow: UnitOfWork) -> datetime | None:
    done = await uow.app_state.get(SCANNED_STATE)
    return datetime.fromisoformat(done) if done else None


async def remind_batch(
    uow: UnitOfWork, policy: MaintenancePolicy, tz: ZoneInfo, now: datetime, customer_time: datetime, after_id: int, limit: int = SCAN_BATCH,
) -> tuple[int, int, int]:
    """Record the reminders due among up to `limit` products after `after_id`, and queue each
    customer's message. Returns (products read, reminders recorded, last product id)."""
    products = await uow.maintenance.products_with_cycle(after_id, limit)
    if not products:
        return 0, 0, after_id
    due = {p.id: d for p in products if (d := due_to_remind(p, policy, tz, now)) is not None}
    done = await uow.maintenance.recorded(list(due), now.astimezone(tz).date()) if due else set()
    recorded = 0
    for product in products:
        if product.id not in due or (product.id, due[product.id]) in done:
            continue
        reminder = await uow.maintenance.add_once(product.id, due[product.id], now)
        if reminder is None:  # another process recorded it a moment ago
            continue
        recorded += 1
        customer = await uow.customers.get(product.customer_id) if product.customer_id else None
        if await _reachable(uow, customer):
            await uow.outbox.add_once(OutboxMessage(
                key=customer_key(reminder.id), user_id=customer.user_id, kind=CUSTOMER_REMINDER,
                payload={"reminder_id": reminder.id}, not_before=customer_time, created_at=now,
            ))
    return len(products), recorded, products[-1].id


async def chase_due(
    uow: UnitOfWork, tz: ZoneInfo, days: tuple[date, date], customer_time: datetime, now: datetime,
) -> int:
    """Claim the reminders falling due on `days` that nobody booked (or whose booking was
    cancelled), and queue each customer's second reminder. Returns how many were claimed.
    An erased customer is not chased: there is nobody left to call."""
    chased = 0
    for reminder in await uow.maintenance.unchased_due(*days):
        if told_on_due_day(reminder, tz) or await live_booking(uow, reminder) is not None:
            continue
        product = await uow.products.get(reminder.product_id)
        customer = await uow.customers.get(product.customer_id) if product.customer_id else None
        if customer is not None and customer.erased_at is not None:
            continue
        if not await uow.maintenance.claim_chase(reminder.id, now):  # another process chased it
            continue
        chased += 1
        # A second reminder only to whom the first went: a customer the product was registered to
        # since then, or who could not get it then, is phoned by the dispatchers instead.
        if await _reachable(uow, customer) and await uow.maintenance.was_sent_to((customer_key(reminder.id),), customer.user_id):
            await uow.outbox.add_once(OutboxMessage(
                key=customer_key(reminder.id, due_day=True), user_id=customer.user_id, kind=CUSTOMER_REMINDER,
                payload={"reminder_id": reminder.id, "due_day": True}, not_before=customer_time, created_at=now,
            ))
    return chased


async def finish_scan(uow: UnitOfWork, moment: datetime, staff_time: datetime, now: datetime) -> int:
    """Queue one list per active dispatcher of the reminders recorded for this moment (if any),
    and one of those chased on their due date (if any), and mark the moment scanned. Keyed per
    dispatcher and day, so a rescan adds nothing."""
    until = moment + timedelta(days=1)
    window = {"since": moment.isoformat(), "until": until.isoformat()}
    queued = 0
    for due_day, found in ((False, uow.maintenance.created_between), (True, uow.maintenance.chased_between)):
        if not await found(moment, until):
            continue
        for dispatcher in await requests.dispatchers(uow):
            queued += await uow.outbox.add_once(OutboxMessage(
                key=dispatcher_key(dispatcher.id, moment.date(), due_day), user_id=dispatcher.id, kind=DISPATCHER_LIST,
                payload={**window, "due_day": True} if due_day else window, not_before=staff_time, created_at=now,
            ))
    await uow.app_state.set(SCANNED_STATE, moment.isoformat())
    return queued


# --- what the messages say, read when they are sent -----------------------------------------


async def _reachable(uow: UnitOfWork, customer: Customer | None) -> bool:
    """The customer can get the reminder here: on the bot, not blocked, not erased."""
    if customer is None or customer.user_id is None or customer.erased_at is not None:
        return False
    user = await uow.users.get(customer.user_id)
    return user is not None and user.is_reachable


@dataclass(frozen=True)
class ReminderCard:
    reminder: MaintenanceReminder
    product: Product
    customer: Customer | None
    booked: ServiceRequest | None
    reached: bool = True  # False: the dispatchers must call (not on the bot, blocked it, or no customer)


async def card_for_customer(uow: UnitOfWork, user: User, reminder_id: int) -> ReminderCard | None:
    """The reminder as its customer sees it; None when nothing is left to say (the product
    changed hands, the customer was erased, or maintenance is booked; a cancelled booking no
    longer counts)."""
    reminder = await uow.maintenance.get(reminder_id)
    product = await uow.products.get(reminder.product_id) if reminder else None
    customer = await uow.customers.get(product.customer_id) if product and product.customer_id else None
    if customer is None or customer.user_id != user.id or customer.erased_at is not None:
        return None
    if await live_booking(uow, reminder) is not None:
        return None
    return ReminderCard(reminder, product, customer, None)


async def dispatcher_list(uow: UnitOfWork, payload: dict) -> list[ReminderCard]:
    """The reminders of a dispatcher list, as of now. The due-date list ("due_day") names only
    those still to phone about: booked meanwhile or the customer erased, they are left out."""
    since, until = datetime.fromisoformat(payload["since"]), datetime.fromisoformat(payload["until"])
    if payload.get("due_day"):
        cards = []
        for reminder, product, customer in await uow.maintenance.chased_between(since, until):
            if (customer is None or customer.erased_at is None) and await live_booking(uow, reminder) is None:
                cards.append(ReminderCard(reminder, product, customer, None, reached=False))
        return cards
    cards = []
    for reminder, product, customer in await uow.maintenance.created_between(since, until):
        booked = await uow.requests.get(reminder.booked_request_id) if reminder.booked_request_id else None
        cards.append(ReminderCard(reminder, product, customer, booked, await _reachable(uow, customer)))
    return cards


# --- "Book maintenance" --------------------------------------------------------------------


class AlreadyBooked(DomainError):
    def __init__(self, request: ServiceRequest) -> None:
        super().__init__(request.number)
        self.request = request


class NoLongerYours(DomainError):
    """The reminder was sent to this customer, but the product is registered to someone else now."""


@dataclass(frozen=True)
class Booking:
    draft: Draft
    product: Product
    reminder: MaintenanceReminder
    resumed: bool


async def start_booking(uow: UnitOfWork, user: User, customer: Customer | None, reminder_id: int, description: str, now: datetime) -> Booking:
    """Open the intake as a maintenance request for the reminder's product. Only the customer
    the product is registered to may; a booked reminder says by which request."""
    reminder = await uow.maintenance.get(reminder_id)
    product = await uow.products.get(reminder.product_id) if reminder else None
    if reminder is None or product is None:
        raise NotFound()
    if customer is None or product.customer_id != customer.id:
        if await uow.maintenance.was_sent_to((customer_key(reminder.id), customer_key(reminder.id, due_day=True)), user.id):
            raise NoLongerYours()
        raise NotFound()  # someone else's reminder: not even that it exists
    await _refuse_if_booked(uow, reminder)
    draft = await dialogs.current(uow, user.id)
    if draft is not None and draft.kind == intake.INTAKE and draft.data.get("maintenance_reminder_id") == reminder.id:
        return Booking(draft, product, reminder, True)
    earlier = await uow.maintenance.last_site(product.id, customer.id)
    site = None
    if earlier is not None:
        site = {"address": earlier.site_address} if earlier.site_address else {"latitude": earlier.site_latitude, "longitude": earlier.site_longitude}
    draft = await intake.start_prefilled(
        uow, user, now, kind="maintenance", product=product, description=description, site=site,
        maintenance_reminder_id=reminder.id,
    )
    return Booking(draft, product, reminder, False)


async def live_booking(uow: UnitOfWork, reminder: MaintenanceReminder) -> ServiceRequest | None:
    """The request that booked this maintenance, unless it was cancelled (then it is unbooked)."""
    if reminder.booked_request_id is None:
        return None
    booked = await uow.requests.get(reminder.booked_request_id)
    return booked if booked is not None and booked.status != requests.CANCELLED else None


async def _refuse_if_booked(uow: UnitOfWork, reminder: MaintenanceReminder) -> None:
    if (booked := await live_booking(uow, reminder)) is not None:
        raise AlreadyBooked(booked)


async def check_still_bookable(uow: UnitOfWork, customer: Customer, reminder_id: int) -> None:
    """At "Confirm and send" of a booking: the product is still the customer's and no other
    request booked this reminder meanwhile (a booking kept aside while the same reminder was
    booked again would send a second engineer for one due date)."""
    reminder = await uow.maintenance.get(reminder_id)
    product = await uow.products.get(reminder.product_id) if reminder else None
    if reminder is None or product is None or product.customer_id != customer.id:
        raise NoLongerYours()
    await _refuse_if_booked(uow, reminder)
