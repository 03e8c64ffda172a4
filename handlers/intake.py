"""The intake dialog's handlers: open it, feed it messages and buttons, submit it."""
from __future__ import annotations

from bot import escalation_views, maintenance_views, views
from bot.callbacks import DialogButton, DispatchButton
from bot.keyboards import button, inline
from bot.labels import CLOCK_LABELS
from bot.services import consultation, dialogs, intake, maintenance, requests, users
from bot.services.errors import DomainError
from bot.services.inputs import UserInput
from bot.services.users import ROLE_DISPATCHER
from handlers import onboarding
from handlers.common import Turn, handler
from storage.models import Customer, Draft, ServiceRequest


@handler
async def cmd_new(turn: Turn) -> None:
    """/new and the menu button: start (or resume) reporting a problem."""
    await open_intake(turn)


async def open_intake(turn: Turn) -> None:
    customer = await users.customer_of(turn.uow, turn.user)
    if customer is None:
        await onboarding.begin(turn, then=users.THEN_INTAKE)
        return
    draft, resumed = await intake.start(turn.uow, turn.user, turn.now)
    if resumed:
        await turn.reply(views.intake_resumed(turn._))
    await prompt(turn, draft)


async def prompt(turn: Turn, draft: Draft) -> None:
    customer = await users.customer_of(turn.uow, turn.user)
    products = await intake.registered_products(turn.uow, customer) if draft.step == intake.PRODUCT else []
    await turn.reply(views.intake_prompt(turn._, draft, products))


async def on_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        notice = await intake.handle_input(turn.uow, customer, draft, message, turn.now)
    except DomainError as error:
        await turn.reply(views.input_error(turn._, error))
        return
    text = views.notice(turn._, notice, draft) if notice else None
    if text:
        await turn.reply(text)
    await prompt(turn, draft)


async def on_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    customer = await users.customer_of(turn.uow, turn.user)
    if payload.action == "confirm":
        await submit(turn, customer, draft)
        return
    notice = await intake.handle_button(turn.uow, customer, draft, payload.action, payload.value, turn.now)
    await turn.edit_off()
    if notice == intake.COMPLAINT_CHOSEN:
        from handlers import complaints as complaint_handlers  # it imports this module (Back returns here)

        await complaint_handlers.open_dialog(turn, "intake")
        return
    if notice == intake.RETURN_CHOSEN:
        from handlers import returns as return_handlers  # it imports this module (Back returns here)

        await return_handlers.open_from_intake(turn)
        return
    text = views.notice(turn._, notice, draft) if notice else None
    if text:
        await turn.reply(text)
    await prompt(turn, draft)


async def go_back(turn: Turn, draft: Draft) -> None:
    customer = await users.customer_of(turn.uow, turn.user)
    await intake.handle_button(turn.uow, customer, draft, "back", "", turn.now)
    await prompt(turn, draft)


async def submit(turn: Turn, customer: Customer, draft: Draft) -> None:
    """Register the request and queue its announcement to the dispatchers in one transaction, then
    tell the customer what happens next: a refused reply to the customer loses neither."""
    reminder_id = draft.data.get("maintenance_reminder_id")
    if reminder_id is not None and draft.data.get("kind") == "maintenance":  # still a booking (the type may have been edited)
        try:
            await maintenance.check_still_bookable(turn.uow, customer, reminder_id)
        except (maintenance.AlreadyBooked, maintenance.NoLongerYours) as refused:
            await dialogs.end(turn.uow, draft)
            await turn.edit_off()
            text = (maintenance_views.already_booked(turn._, refused.request) if isinstance(refused, maintenance.AlreadyBooked)
                    else maintenance_views.no_longer_yours(turn._))
            await turn.reply(views.main_menu_view(turn._, text))
            return
    request = await intake.submit(turn.uow, turn.user, customer, draft, turn.deps.policy, turn.now, turn.deps.settings.timezone)
    await notify_dispatchers(turn, request)
    await turn.uow.commit()  # the request exists before anyone is told about it
    await turn.edit_off()
    promise = next((c for c in await turn.uow.requests.clocks(request.id) if c.kind in CLOCK_LABELS and c.stopped_at is None), None)
    await turn.reply(views.request_registered(turn._, request, promise))


async def notify_dispatchers(turn: Turn, request: ServiceRequest) -> None:
    customer = await turn.uow.customers.get(request.customer_id)
    product = await turn.uow.products.get(request.product_id) if request.product_id else None
    attachments = await turn.uow.requests.attachments(request.id)
    photos = tuple(a.file_id for a in attachments if a.kind == "photo")
    voices = tuple(a.file_id for a in attachments if a.kind == "voice")
    earlier = await requests.earlier_repair(turn.uow, request, turn.deps.policy.closing.repeat_within)
    dispatchers = await requests.dispatchers(turn.uow)
    if request.kind == consultation.CONSULTATION:  # salespeople may answer a simple question first
        told = {d.id for d in dispatchers}
        for person in await consultation.salespeople(turn.uow):
            if person.id not in told:
                _ = turn.translator_for(person)
                text = views.new_request_for_staff(_, request, customer.name, customer.phone, customer.company, product.model if product else None,
                                                   photos=len(photos), voices=len(voices))
                await turn.notify(person, text, markup=escalation_views.answer_markup_for_staff(_, request), photos=photos, voices=voices,
                                  for_role=consultation.ROLE_SALES)
    for dispatcher in dispatchers:
        _ = turn.translator_for(dispatcher)
        text = views.new_request_for_staff(_, request, customer.name, customer.phone, customer.company, product.model if product else None,
                                           photos=len(photos), voices=len(voices), earlier_repair=earlier)
        markup = inline([[button(_("Open to triage"), DispatchButton(request.id, "open"))]])
        await turn.notify(dispatcher, text, markup=markup, photos=photos, voices=voices, for_role=ROLE_DISPATCHER)
