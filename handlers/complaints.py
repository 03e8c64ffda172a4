"""Complaints in the chat: the customer's dialog (from a request card, /complain, the survey after
a low score, or the intake's "Complaint" type), and the complaint supervisor's /complaints, card,
investigation steps and written answer. The rules are in bot/services/complaints.py."""
from __future__ import annotations

from bot import complaint_views
from bot.callbacks import ComplaintButton, ComplaintOfferButton, DialogButton
from bot.services import complaints, dialogs, requests, users
from bot.services.errors import DomainError, InvalidValue, NotAllowed, NotFound, StaleAction, TooLong, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.keyboards import button, inline
from bot.views import View, customer_update_for_staff, input_error
from handlers import onboarding
from handlers.common import Turn, handler
from storage.models import Customer, Draft, ServiceRequest


async def _refuse(turn: Turn, data: str) -> None:
    """A forged, foreign or stale press: answered politely, nothing changes, a trace stays."""
    await turn.audit("complaint_not_allowed", data=data)
    await turn.answer(turn._("This button is no longer valid."), alert=True)


async def _refuse_own_work(turn: Turn, data: str) -> None:
    """A supervisor pressing to act on a complaint about his own work: refused, with the reason."""
    await turn.audit("complaint_not_allowed", data=data, reason="own_work")
    await turn.answer(complaint_views.own_work(turn._), alert=True)


async def _request_of(turn: Turn, complaint_id: int) -> ServiceRequest:
    return await turn.uow.requests.get((await turn.uow.complaints.get(complaint_id)).request_id)


# --- the customer's dialog --------------------------------------------------------------------


@handler
async def cmd_complain(turn: Turn) -> None:
    """/complain: choose one of your requests (or none), then what the complaint is about."""
    await open_dialog(turn, complaints.COMMAND)


async def open_dialog(turn: Turn, source: str) -> None:
    """/complain, or "Complaint" chosen as the type in /new (which hands over to this dialog)."""
    customer = await users.customer_of(turn.uow, turn.user)
    if customer is None:
        await onboarding.begin(turn, then=users.THEN_COMPLAINT)
        return
    draft, resumed = await complaints.start(turn.uow, turn.user, customer, source, turn.now)
    await show(turn, draft, resumed=resumed)


async def start_from_card(turn: Turn, request: ServiceRequest) -> None:
    """“📣 Complain” on the customer's request card (ownership checked again)."""
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        draft, resumed = await complaints.start_from_card(turn.uow, turn.user, customer, request.id, turn.now)
    except (NotAllowed, NotFound):
        await turn.audit("complaint_not_allowed", request_id=request.id, action="complain")
        await turn.answer(complaint_views.not_from_this_request(turn._), alert=True)
        return
    await show(turn, draft, resumed=resumed)


async def on_offer_button(turn: Turn, payload: ComplaintOfferButton) -> None:
    """The survey's “📣 File a complaint” / “No, thanks” after a low score."""
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        if payload.action == "no":
            await requests.own_request(turn.uow, customer, payload.request_id)
            await turn.edit_off()
            await turn.reply(complaint_views.offer_declined(turn._))
            return
        if payload.action != "yes":
            raise NotAllowed()
        draft, resumed = await complaints.start_from_survey(
            turn.uow, turn.user, customer, payload.request_id, turn.deps.policy.closing.low_score_alert, turn.now,
        )
    except (NotAllowed, NotFound):
        await _refuse(turn, payload.pack())
        return
    await turn.edit_off()
    await show(turn, draft, resumed=resumed)


async def _customer_for(turn: Turn, draft: Draft) -> Customer | None:
    """Whose complaint it is: the user's own, or the customer a supervisor registers it for."""
    if complaints.registered_by_staff(draft):
        return await complaints.customer_of_draft(turn.uow, turn.user, draft)
    return await users.customer_of(turn.uow, turn.user)


async def show(turn: Turn, draft: Draft, *, resumed: bool = False) -> None:
    """Render the step the customer's draft is at (`resumed`: saying it goes on where it stopped)."""
    if resumed:
        await turn.reply(complaint_views.resumed(turn._))
    customer = await _customer_for(turn, draft)
    recent = await complaints.recent_requests(turn.uow, customer) if draft.step == complaints.ABOUT else []
    about = await complaints.about_request(turn.uow, customer, draft)
    for_customer = customer if complaints.registered_by_staff(draft) else None
    await turn.reply(complaint_views.prompt(turn._, draft, recent=recent, about=about, for_customer=for_customer))


async def on_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """Only the description is typed; elsewhere the buttons are the answer. A supervisor
    registering it for a customer must still be one (checked again, as the buttons do)."""
    try:
        await _customer_for(turn, draft)
    except (NotFound, NotAllowed):
        await dialogs.end(turn.uow, draft)
        await turn.reply(complaint_views.registration_stopped(turn._))
        return
    if draft.step != complaints.DESCRIPTION:
        await turn.reply(complaint_views.reask_buttons(turn._))
        return
    if not isinstance(message, TextInput):
        await turn.reply(complaint_views.reask_description(turn._, draft))
        return
    try:
        complaints.describe(draft, message.text, turn.now)
    except WrongInput:
        await turn.reply(complaint_views.reask_description(turn._, draft))
        return
    except TooLong as error:
        await turn.reply(input_error(turn._, error))
        return
    await show(turn, draft)


async def on_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    """About, subject, back, edit, field and send; each re-checks the request complained about
    (and, for a complaint a supervisor registers, his role)."""
    try:
        customer = await _customer_for(turn, draft)
        if payload.action == "about":
            await complaints.choose_about(turn.uow, customer, draft, payload.value, turn.now)
        elif payload.action == "subject":
            await complaints.choose_subject(turn.uow, customer, draft, payload.value, turn.now)
        elif payload.action == "edit":
            complaints.edit(draft, None, turn.now)
        elif payload.action == "field":
            complaints.edit(draft, payload.value, turn.now)
        elif payload.action == "back":
            await turn.edit_off()
            await go_back(turn, draft)
            return
        elif payload.action == "send":
            await _send(turn, draft, customer)
            return
        else:
            raise StaleAction()
    except (NotFound, NotAllowed):  # the request is no longer theirs to complain about (or he no longer a supervisor)
        await dialogs.end(turn.uow, draft)
        await turn.edit_off()
        staff = complaints.registered_by_staff(draft)
        await turn.reply(turn._("This button is no longer valid.") if staff else complaint_views.not_from_this_request(turn._))
        return
    await turn.edit_off()
    await show(turn, draft)


async def go_back(turn: Turn, draft: Draft) -> None:
    """Back; from the first step of a complaint begun in /new, back to the intake's types."""
    if draft.step == complaints.ABOUT and draft.data.get("source") == complaints.INTAKE and not draft.data.get("editing"):
        from handlers import intake as intake_handlers  # the intake hands over to us: a top-level import would be circular

        await dialogs.end(turn.uow, draft)
        await intake_handlers.open_intake(turn)
        return
    complaints.back(draft, turn.now)
    await show(turn, draft)


async def _send(turn: Turn, draft: Draft, customer) -> None:
    by_staff = complaints.registered_by_staff(draft)
    filed = await complaints.submit(turn.uow, turn.deps.policy, turn.user, customer, draft, turn.now, turn.deps.settings.timezone)
    for supervisor in await complaints.supervisors(turn.uow, filed.complaint):
        if by_staff and supervisor.id == turn.user.id:
            continue  # he sees the card below
        _ = turn.translator_for(supervisor)
        found = await complaints.case(turn.uow, supervisor, filed.complaint.id)
        await turn.notify_view(supervisor, complaint_views.card(_, found, turn.now, complaint_views.new_complaint_note(_)))
    reachable = False
    if by_staff:  # phoned or written in: the customer learns its number and promise as if they had filed it
        person = await complaints.reachable_user(turn.uow, customer)
        if person is not None:
            due = await complaints.due_at(turn.uow, filed.request)
            reachable = await turn.notify_view(person, complaint_views.registered_for_customer(turn.translator_for(person), filed.request, filed.about, due))
    await turn.uow.commit()  # the complaint and its notices exist before anyone is told
    await turn.edit_off()
    if by_staff:
        await _card(turn, filed.complaint.id, complaint_views.registered_note(turn._, filed.request, customer, reachable), edit=False)
        return
    await turn.reply(complaint_views.filed(turn._, filed.request, await complaints.due_at(turn.uow, filed.request)))


async def tell_supervisors(turn: Turn, request: ServiceRequest, what: str, text: str | None, photos: tuple[str, ...]) -> None:
    """The customer commented on, added a photo to, or withdrew (cancelled) their complaint."""
    for supervisor in await complaints.supervisors(turn.uow, await turn.uow.complaints.of_request(request.id)):
        _ = turn.translator_for(supervisor)
        markup = inline([[button(_("Open complaint {number}", number=request.number), ComplaintButton(request.id, "req"))]])
        await turn.notify(supervisor, customer_update_for_staff(_, request, what, text), markup=markup, photos=photos)


# --- the supervisor ---------------------------------------------------------------------------


@handler
async def cmd_complaint(turn: Turn) -> None:
    """/complaint SR-…: a complaint supervisor registers a complaint phoned or written in, for the
    customer of that request; the customer's dialog from a card follows (subject, description)."""
    args = turn.context.args or []
    try:
        draft, resumed = await complaints.start_for_customer(turn.uow, turn.user, args[0] if args else None, turn.now)
    except NotAllowed:
        await turn.reply(turn._("This command is for the complaint supervisor."))
        return
    except complaints.NotComplainable as refused:
        if not await open_card_by_number(turn, refused.number, complaint_views.registration_refused(turn._, refused.number)):
            await turn.reply(complaint_views.registration_refused(turn._, refused.number))
        return
    except (InvalidValue, complaints.UnknownRequest) as refused:
        # the number is asked for, and sent on its own: it must not be read as a customer's request number
        draft = await complaints.begin_registration(turn.uow, turn.user, turn.now)
        await turn.reply(complaint_views.registration_number_prompt(turn._, draft, refused if args else None))
        return
    await show(turn, draft, resumed=resumed)


async def _registration_number(turn: Turn, draft: Draft, message: UserInput) -> None:
    """The number /complaint asked for, sent on its own: the registration starts as with
    `/complaint SR-…`; a complaint's own number opens its card."""
    typed = message.text if isinstance(message, TextInput) else None
    try:
        started, resumed = await complaints.start_for_customer(turn.uow, turn.user, typed, turn.now)
    except NotAllowed:  # no longer a supervisor
        await dialogs.end(turn.uow, draft)
        await turn.reply(complaint_views.registration_stopped(turn._))
        return
    except complaints.NotComplainable as refused:
        if await open_card_by_number(turn, refused.number, complaint_views.registration_refused(turn._, refused.number)):
            await dialogs.end(turn.uow, draft)
        else:
            await turn.reply(complaint_views.registration_number_prompt(turn._, draft, refused))
        return
    except (InvalidValue, complaints.UnknownRequest) as refused:
        await turn.reply(complaint_views.registration_number_prompt(turn._, draft, refused if typed else None))
        return
    await show(turn, started, resumed=resumed)


async def open_card_by_number(turn: Turn, number: str, note: str | None = None) -> bool:
    """A complaint's number typed by someone who reads complaints (a supervisor, a manager): its
    card. False when the number is no complaint of theirs to read (the caller answers)."""
    complaint_id = await complaints.complaint_by_number(turn.uow, turn.user, number)
    if complaint_id is None:
        return False
    await _card(turn, complaint_id, note, edit=False)
    return True


@handler
async def cmd_complaints(turn: Turn) -> None:
    """/complaints: complaints waiting for an answer, oldest first (supervisors; managers read)."""
    try:
        waiting = await complaints.open_list(turn.uow, turn.user, turn.now)
    except NotAllowed:
        await turn.reply(turn._("This command is for the complaint supervisor and managers."))
        return
    await turn.reply(complaint_views.list_view(turn._, waiting, turn.now))


async def _card(turn: Turn, complaint_id: int, note: str | None = None, *, edit: bool = True) -> None:
    view = complaint_views.card(turn._, await complaints.case(turn.uow, turn.user, complaint_id), turn.now, note)
    await (turn.edit(view) if edit else turn.reply(view))


async def on_complaint_button(turn: Turn, payload: ComplaintButton) -> None:
    """Open, take, or begin one of the typed steps; rights and state are checked by the service."""
    data, action, complaint_id = payload.pack(), payload.action, payload.complaint_id
    try:
        if action == "list":
            await turn.edit(complaint_views.list_view(turn._, await complaints.open_list(turn.uow, turn.user, turn.now), turn.now))
        elif action == "open":
            await _card(turn, complaint_id)
        elif action == "req":
            await _card(turn, await complaints.complaint_id_of(turn.uow, turn.user, complaint_id), edit=False)
        elif action == "take":
            await complaints.take(turn.uow, turn.user, complaint_id, turn.now)
            await turn.uow.commit()
            note = complaint_views.recorded(turn._, "take", turn.user)
            await turn.answer(note)
            await _card(turn, complaint_id, note)
        elif action in complaints.WORK_BUTTONS:
            step = complaints.WORK_BUTTONS[action]
            extra = {"service_fault": action == "fault"} if step == complaints.CAUSE else {}
            draft = await complaints.begin_work(turn.uow, turn.user, complaint_id, step, turn.now, **extra)
            request = await _request_of(turn, complaint_id)
            # an answer already written goes on where it stopped: its preview, or its rewriting
            view = complaint_views.preview if draft.step == complaints.PREVIEW else complaint_views.work_prompt
            await turn.reply(view(turn._, draft, request))
        else:
            raise NotAllowed()
    except complaints.AlreadyTaken as taken:
        await turn.audit("complaint_late_press", data=data, state=taken.complaint.state)
        taker = await turn.uow.users.get(taken.complaint.supervisor_id) if taken.complaint.supervisor_id else None
        await turn.answer(complaint_views.already_taken(turn._, taken.complaint, taker), alert=True)
    except complaints.AlreadyAnswered:
        await turn.audit("complaint_late_press", data=data, state=complaints.ANSWERED)
        await turn.answer(complaint_views.answered_already(turn._), alert=True)
    except complaints.NotTaken:
        await turn.answer(complaint_views.not_taken(turn._), alert=True)
    except complaints.Withdrawn:
        await turn.audit("complaint_late_press", data=data, state="withdrawn")
        await turn.answer(complaint_views.withdrawn(turn._), alert=True)
    except complaints.AnswerNotReady as not_ready:
        await turn.answer(complaint_views.answer_not_ready(turn._, not_ready.missing), alert=True)
    except complaints.AboutOwnWork:
        await _refuse_own_work(turn, data)
    except (NotAllowed, NotFound):
        await _refuse(turn, data)


async def on_work_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """The text a supervisor was asked for; the rights and the state are checked again now."""
    if draft.step == complaints.REGISTER:
        await _registration_number(turn, draft, message)
        return
    if draft.step == complaints.PREVIEW:
        await turn.reply(complaint_views.use_preview_buttons(turn._))
        return
    if not isinstance(message, TextInput):
        await turn.reply(complaint_views.reask_text(turn._))
        return
    complaint_id, step, text = draft.data["complaint_id"], draft.step, message.text
    try:
        if step == complaints.ANSWER:
            await complaints.write_answer(turn.uow, turn.user, draft, text, turn.now)
            await turn.reply(complaint_views.preview(turn._, draft, await _request_of(turn, complaint_id)))
            return
        if step == complaints.NOTE:
            await complaints.add_note(turn.uow, turn.user, complaint_id, text, turn.now)
        elif step == complaints.LINK:
            await complaints.link(turn.uow, turn.user, complaint_id, text, turn.now)
        elif step == complaints.CAUSE:
            await complaints.record_cause(turn.uow, turn.user, complaint_id, bool(draft.data.get("service_fault")), text, turn.now)
        elif step == complaints.ACTION:
            await complaints.record_action(turn.uow, turn.user, complaint_id, text, turn.now)
    except (complaints.UnknownRequest, complaints.AlreadyLinked, InvalidValue) as refused:
        await turn.reply(complaint_views.link_refused(turn._, refused))  # the dialog stays open for another number
        return
    except WrongInput:
        await turn.reply(complaint_views.reask_text(turn._))
        return
    except TooLong as error:
        await turn.reply(input_error(turn._, error))
        return
    except DomainError as error:  # answered, withdrawn or no longer a supervisor meanwhile
        await dialogs.end(turn.uow, draft)
        await turn.reply(_stopped(turn, error))
        return
    await dialogs.end(turn.uow, draft)
    await _card(turn, complaint_id, complaint_views.recorded(turn._, step, turn.user), edit=False)


def _stopped(turn: Turn, error: DomainError) -> str:
    if isinstance(error, complaints.AlreadyAnswered):
        return complaint_views.answered_already(turn._)
    if isinstance(error, complaints.Withdrawn):
        return complaint_views.withdrawn(turn._)
    if isinstance(error, complaints.AboutOwnWork):  # e.g. he was put on the job complained about meanwhile
        return complaint_views.own_work(turn._)
    return turn._("This button is no longer valid.")


async def on_work_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    """Send or Rewrite on the answer's preview (Cancel is the router's)."""
    if payload.action == "rewrite":
        complaints.rewrite_answer(draft, turn.now)
        await turn.edit_off()
        await turn.reply(complaint_views.work_prompt(turn._, draft, await _request_of(turn, draft.data["complaint_id"])))
        return
    if payload.action != "send":
        raise StaleAction()
    try:
        answered = await complaints.send_answer(turn.uow, turn.user, draft, turn.now, turn.deps.planner.customer_time(turn.now))
    except complaints.AnswerNotReady as not_ready:
        await turn.answer(complaint_views.answer_not_ready(turn._, not_ready.missing), alert=True)
        return
    except (complaints.AlreadyAnswered, complaints.Withdrawn, NotAllowed, NotFound) as error:
        await turn.audit("complaint_late_press", data=payload.pack())
        await dialogs.end(turn.uow, draft)
        await turn.edit_off()
        await turn.reply(_stopped(turn, error))
        return
    person = answered.customer_user
    reached = answered.queued
    if person is not None and not answered.queued:
        # an outbox row of the answer's own kind, as when it waits for quiet hours: should Telegram
        # refuse it (they blocked the bot), the supervisor who sent it is told (notices.answers_undelivered)
        reached = await turn.queue_notice(person, complaints.OUTBOX_KIND, {"complaint_id": answered.complaint.id})
    await turn.uow.commit()  # answered, closed and queued for the customer before they read it
    await turn.edit_off()
    # a customer who blocked the bot (or has none) must be answered another way: say so, not "sent"
    note = complaint_views.recorded(turn._, ("queued" if answered.queued else "answer") if reached else "unreached", turn.user)
    await _card(turn, answered.complaint.id, note, edit=False)


async def go_back_work(turn: Turn, draft: Draft) -> None:
    """Back in the supervisor's dialog: from the preview to rewriting the answer."""
    complaints.rewrite_answer(draft, turn.now)
    await turn.reply(complaint_views.work_prompt(turn._, draft, await _request_of(turn, draft.data["complaint_id"])))


# --- the outbox (handlers/sweeps.py) ----------------------------------------------------------


async def compose(uow, user, message, _) -> View | None:
    """The written answer that waited for the customer's quiet hours to end."""
    found = await complaints.for_delivery(uow, message.payload.get("complaint_id", 0))
    if found is None:
        return None
    return complaint_views.answer_for_customer(_, *found)
