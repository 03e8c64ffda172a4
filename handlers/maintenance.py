"""Maintenance reminders: the sweep step that records them, how the outbox renders them, and the
customer's "Book maintenance" button. The rules are in bot/services/maintenance.py."""
from __future__ import annotations

from datetime import datetime

from bot import maintenance_views
from bot.callbacks import MaintenanceButton
from bot.i18n import Translator
from bot.services import maintenance, users
from bot.services.errors import NotFound
from bot.views import View
from handlers import intake as intake_handlers
from handlers.common import Deps, Turn
from storage.db import UnitOfWork
from storage.models import OutboxMessage, User


async def remind_due(deps: Deps, now: datetime) -> int:
    """Record the maintenance reminders due by now, a batch of products per transaction, then
    chase those falling due unbooked; returns how many were recorded. Runs a scan once per
    reminder time of day (see `latest_scan_moment`)."""
    policy, tz = deps.policy.maintenance, deps.settings.timezone
    moment = maintenance.latest_scan_moment(now, policy, tz)
    async with deps.db.uow() as uow:
        previous = await maintenance.last_scanned(uow)
        if previous is not None and previous >= moment:
            return 0
    customer_time = deps.planner.customer_time(now)
    recorded, after_id = 0, 0
    while True:
        async with deps.db.uow() as uow:
            read, added, after_id = await maintenance.remind_batch(uow, policy, tz, now, customer_time, after_id)
            await uow.commit()
        recorded += added
        if read < maintenance.SCAN_BATCH:
            break
    async with deps.db.uow() as uow:  # the chase and the lists that name it, with the scan marker
        await maintenance.chase_due(uow, tz, maintenance.chase_days(previous, moment, tz), customer_time, now)
        await maintenance.finish_scan(uow, moment, deps.planner.staff_time(now, urgent=False), now)
        await uow.commit()
    return recorded


async def compose(uow: UnitOfWork, user: User, message: OutboxMessage, _: Translator) -> View | None:
    """The outbox message of one of our kinds, as of now (None: nothing left to say)."""
    if message.kind == maintenance.CUSTOMER_REMINDER:
        card = await maintenance.card_for_customer(uow, user, message.payload["reminder_id"])
        if card is None:
            return None
        return maintenance_views.not_booked_reminder(_, card) if message.payload.get("due_day") else maintenance_views.customer_reminder(_, card)
    # the list names customers and their phones: for whoever is a dispatcher when it is sent (it may
    # have waited for staff hours while their role was withdrawn), not for any other staff member
    if message.kind == maintenance.DISPATCHER_LIST and users.is_staff(user) and users.ROLE_DISPATCHER in user.role_names:
        cards = await maintenance.dispatcher_list(uow, message.payload)
        return maintenance_views.dispatcher_list(_, cards, due_day=bool(message.payload.get("due_day")))
    return None


async def on_maintenance_button(turn: Turn, payload: MaintenanceButton) -> None:
    """“Book maintenance”: the intake, as a maintenance request for the reminder's product."""
    if payload.action != "book":
        await _refuse(turn, payload)
        return
    customer = await users.customer_of(turn.uow, turn.user)
    reminder = await turn.uow.maintenance.get(payload.reminder_id)
    product = await turn.uow.products.get(reminder.product_id) if reminder else None
    description = maintenance_views.default_description(turn._, product, reminder.due_on) if product else ""
    try:
        booking = await maintenance.start_booking(turn.uow, turn.user, customer, payload.reminder_id, description, turn.now)
    except maintenance.AlreadyBooked as booked:
        await turn.answer(maintenance_views.already_booked(turn._, booked.request), alert=True)
        return
    except maintenance.NoLongerYours:
        await turn.answer(maintenance_views.no_longer_yours(turn._), alert=True)
        await turn.edit_off()
        return
    except NotFound:
        await _refuse(turn, payload)
        return
    if not booking.resumed:
        await turn.reply(maintenance_views.booking_started(turn._, booking.product, booking.reminder.due_on))
    await intake_handlers.prompt(turn, booking.draft)


async def _refuse(turn: Turn, payload: MaintenanceButton) -> None:
    await turn.audit("foreign_maintenance_button", data=payload.pack())
    await turn.answer(turn._("This button is no longer valid."), alert=True)
