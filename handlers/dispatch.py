"""Dispatchers: /queue, the staff card, triage, assignment (the engineer's side is in handlers/jobs.py)."""
from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot import clock_views, dispatch_views, job_views, return_views
from bot.callbacks import AssignButton, DialogButton, DispatchButton
from bot.services import cancellation, dialogs, dispatch, followups, jobs, quotes, reminders, requests, returns
from bot.services.errors import DomainError, InvalidValue, NotAllowed, NotFound, StaleAction, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.services.validation import COMMENT_MAX, clean_text
from bot.keyboards import dialog_nav, inline
from bot.staff_views import display_name
from bot.views import View, input_error
from handlers import approvals as approval_handlers
from handlers import quotes as quote_handlers
from handlers import returns as return_handlers
from handlers.common import Turn, handler
from storage.models import Draft

CONTACTED_DIALOG = "contacted"
CLOSE_DIALOG = "close_request"
NOTE_STEP = "note"


async def _refuse(turn: Turn, payload_data: str) -> None:
    await turn.audit("not_allowed_button", data=payload_data)
    await turn.answer(turn._("This button is no longer valid."), alert=True)


@handler
async def cmd_queue(turn: Turn) -> None:
    """/queue: requests without an engineer, most urgent deadline first."""
    try:
        view = await _queue_page(turn, 0)
    except NotAllowed:
        await turn.reply(turn._("This command is for dispatchers."))
        return
    await turn.reply(view)


async def _queue_page(turn: Turn, page: int) -> View:
    """A page of the queue; the last one when the queue has shrunk below it since the button was sent."""
    total = await dispatch.queue_size(turn.uow, turn.user)
    page = min(max(page, 0), max(0, -(-total // dispatch.QUEUE_SIZE) - 1))
    items = await dispatch.queue(turn.uow, turn.user, page)
    return dispatch_views.queue_view(turn._, items, turn.now, total=total, page=page)


@handler
async def cmd_overdue(turn: Turn) -> None:
    """/overdue: breached and at-risk deadlines, most overdue first (dispatchers and managers)."""
    try:
        found = await reminders.overdue(turn.uow, turn.user, turn.deps.keeper, turn.now)
    except NotAllowed:
        await turn.reply(turn._("This command is for dispatchers and managers."))
        return
    await turn.reply(clock_views.overdue_view(turn._, found, turn.now))


async def show_card(turn: Turn, request_id: int, *, edit: bool = True) -> None:
    card = await dispatch.staff_card(turn.uow, turn.user, request_id, turn.deps.settings.timezone, read_only=True,
                                     repeat_within=turn.deps.policy.closing.repeat_within)
    return_rows = return_views.tracking_rows(turn._, await returns.for_staff_card(turn.uow, turn.user, card.request))
    view = dispatch_views.staff_card_view(turn._, card, turn.now, return_rows)
    await (turn.edit(view) if edit else turn.reply(view))


async def on_dispatch_button(turn: Turn, payload: DispatchButton) -> None:
    """Triage actions; each service call re-checks that the presser is an active dispatcher."""
    try:
        action, value = payload.action, payload.value
        if action == "open":
            await show_card(turn, payload.request_id)
        elif action == "queue":  # request_id holds the page
            await turn.edit(await _queue_page(turn, payload.request_id))
        elif action == "priority":
            try:
                await dispatch.set_priority(turn.uow, turn.user, payload.request_id, value, turn.now)
            except StaleAction:  # changed by someone else since this card was drawn: show it as it is
                await turn.answer(turn._("The priority was changed meanwhile; the card shows it as it is now."), alert=True)
            await show_card(turn, payload.request_id)
        elif action == "distance" and value:
            await dispatch.set_distance(turn.uow, turn.user, payload.request_id, value, turn.deps.policy.deadlines.arrival_bands, turn.now)
            await show_card(turn, payload.request_id)
        elif action == "warranty" and value:
            request = await dispatch.open_request(turn.uow, turn.user, payload.request_id)
            latest = await turn.uow.quotes.latest(request.id)
            in_force = latest if latest is not None and latest.status in (quotes.SENT, quotes.ACCEPTED) else None
            gated, was_in_warranty = await quotes.payment_pending(turn.uow, request), request.warranty == dispatch.IN_WARRANTY
            ruled = await dispatch.set_warranty(turn.uow, turn.user, payload.request_id, value, turn.now)
            if in_force is not None and ruled.request.warranty == dispatch.IN_WARRANTY:  # waiting, or already accepted
                await quote_handlers.tell_quote_void(turn, ruled.request, in_force)
            elif was_in_warranty and ruled.request.warranty != dispatch.IN_WARRANTY and in_force is None \
                    and await turn.uow.quotes.any_superseded(request.id):  # they were told a quote no longer applied
                await quote_handlers.tell_paid_again(turn, ruled.request)
            if await quotes.payment_pending(turn.uow, ruled.request) != gated:
                await _tell_engineer_of_gate(turn, ruled.request, not gated)
            await turn.uow.commit()  # the ruling stands before the approvers' cards say a waiver was withdrawn
            await show_card(turn, payload.request_id)
            await approval_handlers.show_withdrawn(turn, ruled.withdrawn)
        elif action == "distance":
            card = await dispatch.staff_card(turn.uow, turn.user, payload.request_id, turn.deps.settings.timezone)
            await turn.edit(dispatch_views.distance_choices(turn._, card.request, turn.deps.policy.deadlines.arrival_bands))
        elif action == "warranty":
            card = await dispatch.staff_card(turn.uow, turn.user, payload.request_id, turn.deps.settings.timezone)
            await turn.edit(dispatch_views.warranty_choices(turn._, card.request))
        elif action == "assign":
            request = (await dispatch.staff_card(turn.uow, turn.user, payload.request_id, turn.deps.settings.timezone)).request
            if request.status not in dispatch.ASSIGNABLE:
                raise NotAllowed()  # resolved: the customer's verdict comes first
            candidates = await dispatch.candidates(turn.uow, turn.user, request.id, turn.deps.policy.dispatch.engineer_capacity)
            await turn.edit(dispatch_views.assign_choices(turn._, request, candidates))
        elif action == "waiver":
            await approval_handlers.start_waiver(turn, payload.request_id, from_quote=value == "quote")
        elif action == "quote":
            await quote_handlers.start_quote(turn, payload.request_id)
        elif action in ("close", "contacted") and not await _still_open(turn, payload.request_id):
            return
        elif action == "close":
            try:
                await cancellation.check_closable(turn.uow, payload.request_id)
            except cancellation.ProductAtWarehouse:
                await turn.answer(_product_at_warehouse(turn), alert=True)
                return
            draft = await dialogs.begin(turn.uow, turn.user.id, CLOSE_DIALOG, NOTE_STEP, {"request_id": payload.request_id}, turn.now)
            await turn.reply(View(turn._("Why is the request closed without the work? The customer reads this."), _cancel_markup(turn, draft)))
        elif action == "contacted":
            draft = await dialogs.begin(turn.uow, turn.user.id, CONTACTED_DIALOG, NOTE_STEP, {"request_id": payload.request_id}, turn.now)
            await turn.reply(View(turn._("What did you agree with the customer? Send a short note."), _cancel_markup(turn, draft)))
        else:
            raise InvalidValue("action")
    except (NotAllowed, NotFound, InvalidValue):
        await _refuse(turn, payload.pack())


async def _still_open(turn: Turn, request_id: int) -> bool:
    """Before asking for a note: an old card's button of a request closed or cancelled meanwhile
    is refused here, not after the note was written (the card is redrawn as it is now)."""
    dispatch.require_dispatcher(turn.user)
    try:
        await dispatch.open_request(turn.uow, turn.user, request_id, lock=False)
    except NotAllowed:
        await turn.answer(turn._("This request is closed or cancelled meanwhile; nothing can be recorded on it."), alert=True)
        await show_card(turn, request_id)
        return False
    return True


async def _tell_engineer_of_gate(turn: Turn, request, gated: bool) -> None:
    """A ruling changed whether the job's paid work waits for the customer's yes: its engineer hears."""
    engineer = await turn.uow.users.get(request.assigned_engineer_id) if request.assigned_engineer_id else None
    if engineer is None or not engineer.is_active or engineer.id == turn.user.id or request.status not in dispatch.OPEN_JOB:
        return
    _ = turn.translator_for(engineer)
    if gated:
        text = _("Job {number} is now paid work: it goes on after the customer accepts a quote or a fee waiver is approved.", number=request.number)
    else:
        text = _("Job {number} is ruled in warranty: no quote is needed, the work can go on.", number=request.number)
    await turn.notify(engineer, text)


def _product_at_warehouse(turn: Turn) -> str:
    return turn._("The warehouse has the customer's product: this return is finished on its tracking card "
                  "(refunded, exchanged, repaired or sent back unrepaired), which closes the request.")


async def on_close_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """The reason for closing a request without the work (e.g. the customer declined the quote)."""
    try:
        if not isinstance(message, TextInput):
            raise WrongInput(NOTE_STEP)
        note = clean_text(message.text, limit=COMMENT_MAX, expected=NOTE_STEP)
    except DomainError as error:
        await turn.reply(input_error(turn._, error))
        return
    await dialogs.end(turn.uow, draft)
    request = await turn.uow.requests.get(draft.data["request_id"])
    awaited = await return_handlers.awaited_product(turn, request) if request is not None else None  # the warehouse expects it
    try:
        request, withdrawn = await cancellation.close_by_dispatcher(turn.uow, turn.user, draft.data["request_id"], note, turn.now)
    except cancellation.ProductAtWarehouse:
        await turn.reply(_product_at_warehouse(turn))
        return
    except (NotAllowed, NotFound):
        await turn.reply(turn._("This request has changed meanwhile; nothing was recorded."))
        return
    # Work reported before the close (e.g. disputed, then closed) still owes the customer follow-up calls.
    await followups.schedule_after_close(turn.uow, turn.deps.policy.follow_ups, turn.deps.settings.timezone, request, turn.now)
    person = await requests.customer_user(turn.uow, request)
    if person is not None:
        _ = turn.translator_for(person)
        await turn.notify(person, _("Request {number} is closed by the service department: {note}", number=request.number, note=note))
    engineer = await turn.uow.users.get(request.assigned_engineer_id) if request.assigned_engineer_id else None
    if engineer is not None and engineer.is_active and engineer.id != turn.user.id:  # they may be on their way
        _ = turn.translator_for(engineer)
        await turn.notify(engineer, _("Job {number} is closed by the service department; nothing more to do on it: {note}", number=request.number, note=note))
    await return_handlers.tell_trackers_not_coming(turn, awaited)
    await turn.uow.commit()  # closed, with the notices queued in the same transaction
    await show_card(turn, request.id, edit=False)
    await approval_handlers.show_withdrawn(turn, withdrawn)


def _cancel_markup(turn: Turn, draft: Draft) -> InlineKeyboardMarkup:
    return inline([dialog_nav(turn._, draft, back=False)])


async def on_assign_button(turn: Turn, payload: AssignButton) -> None:
    expected = payload.expected_id or None
    try:
        assigned = await dispatch.assign(turn.uow, turn.user, payload.request_id, payload.engineer_id, expected, turn.now,
                                         capacity=turn.deps.policy.dispatch.engineer_capacity, keeper=turn.deps.keeper)
    except dispatch.AlreadyAssigned as lost:
        await turn.answer(dispatch_views.already_assigned(turn._, lost.engineer), alert=True)
        await show_card(turn, payload.request_id)
        return
    except dispatch.EngineerUnavailable as unavailable:
        await turn.answer(dispatch_views.engineer_unavailable(turn._, unavailable.engineer, unavailable.reason), alert=True)
        request = await dispatch.open_request(turn.uow, turn.user, payload.request_id, lock=False)
        capacity = turn.deps.policy.dispatch.engineer_capacity
        await turn.edit(dispatch_views.assign_choices(turn._, request, await dispatch.candidates(turn.uow, turn.user, request.id, capacity)))
        return
    except dispatch.EngineerUnreachable as unreachable:
        await turn.answer(turn._("{name} has blocked the bot, so the job would not reach them. Please choose another engineer, "
                                 "or ask them to write to the bot first.", name=unreachable.engineer.full_name or unreachable.engineer.first_name), alert=True)
        return
    except (NotAllowed, NotFound):
        await _refuse(turn, payload.pack())
        return
    request, engineer, previous = assigned.request, assigned.engineer, assigned.previous
    customer = await turn.uow.customers.get(request.customer_id)
    card = await jobs.job_card(turn.uow, engineer, request.id, repeat_within=turn.deps.policy.closing.repeat_within)
    await turn.notify_view(engineer, job_views.job_card(turn.translator_for(engineer), card, turn.now))
    if previous is not None and previous.is_active:
        _ = turn.translator_for(previous)
        text = _("Job {number} was given to {name}; nothing more to do on it for you.", number=request.number, name=display_name(engineer))
        if assigned.dialog_ended is not None:  # what he types next is no longer taken for it
            text += "\n" + dispatch_views.dialog_ended(_, assigned.dialog_ended, request)
        await turn.notify(previous, text)
    customer_user = await turn.uow.users.get(customer.user_id) if customer.user_id else None
    told = False
    if customer_user is not None:
        # a visit agreed with the engineer who had it is off: the customer must not wait at home for it
        told = await turn.notify(customer_user, dispatch_views.assigned_to_customer(turn.translator_for(customer_user), request, engineer,
                                                                                    assigned.called_off))
    await turn.uow.commit()  # the assignment and its notices stand before anybody is told about it
    await show_card(turn, request.id)
    if assigned.called_off is not None and not told:  # no chat with the bot, or blocked it: they would wait at home
        await turn.reply(dispatch_views.phone_about_visit_off(turn._, request, customer, assigned.called_off))
    await approval_handlers.show_withdrawn(turn, assigned.withdrawn)


async def on_note_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """The note of 'customer contacted'."""
    try:
        if not isinstance(message, TextInput):
            raise WrongInput(NOTE_STEP)
        note = clean_text(message.text, limit=COMMENT_MAX, expected=NOTE_STEP)
    except DomainError as error:
        await turn.reply(input_error(turn._, error))
        return
    request_id = draft.data["request_id"]
    await dialogs.end(turn.uow, draft)
    try:
        await dispatch.log_contacted(turn.uow, turn.user, request_id, note, turn.now)
        await show_card(turn, request_id, edit=False)
    except (NotAllowed, NotFound):
        await turn.reply(turn._("This request has changed meanwhile; nothing was recorded."))


async def on_note_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    raise NotAllowed()  # only Cancel exists here, and the router handles it
