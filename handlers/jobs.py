"""Field engineers: /jobs, the job card and its steps, and the closing-report dialog.

Each button press re-checks on the server that the job is the presser's own and in the
right state (`bot.services.jobs.own_job`); the button only names the job and the step.
"""
from __future__ import annotations

from bot import job_views, views
from bot.callbacks import DialogButton, JobButton
from bot.keyboards import main_menu
from bot.services import approvals, dialogs, dispatch, jobs, quotes, reports, requests, stock
from bot.services.errors import DomainError, InvalidValue, NotAllowed, NotFound, StaleAction, WrongInput
from bot.services.inputs import LocationInput, PhotoInput, TextInput, UserInput
from bot.services.users import ROLE_DISPATCHER
from bot.services.validation import COMMENT_MAX, clean_text
from bot.staff_views import display_name
from handlers import approvals as approval_handlers
from handlers import quotes as quote_handlers
from handlers import stock as stock_handlers
from handlers.common import Turn, handler
from storage.models import Draft, ServiceRequest, User

JOB_NOTE, VISIT_TIME, ARRIVAL = "job_note", "visit_time", "arrival"
NOTE_STEP, VISIT_STEP, ARRIVAL_STEP = "note", "visit", "arrival"


@handler
async def cmd_jobs(turn: Turn) -> None:
    """/jobs: the engineer's open jobs."""
    try:
        items = await dispatch.jobs(turn.uow, turn.user)
    except NotAllowed:
        await turn.reply(turn._("This command is for field engineers."))
        return
    await turn.reply(job_views.jobs_list(turn._, items))


async def show_job(turn: Turn, request_id: int, *, edit: bool = False) -> None:
    card = await jobs.job_card(turn.uow, turn.user, request_id, repeat_within=turn.deps.policy.closing.repeat_within)
    requisitions = await stock.requisitions_of(turn.uow, request_id)
    parts = await stock.parts_by_id(turn.uow, [line.part_id for r in requisitions for line in r.lines])
    view = job_views.job_card(turn._, card, turn.now, requisitions=requisitions, parts=parts)
    await (turn.edit(view) if edit else turn.reply(view))


async def on_job_button(turn: Turn, payload: JobButton) -> None:
    """Every step of a job; a refused press is answered politely and audited."""
    try:
        await _job_action(turn, payload)
    except jobs.AlreadyOnSite:  # not a stale button: the card offers it, and the answer says what to do
        request = await turn.uow.requests.get(payload.request_id)
        await turn.answer(turn._("Your arrival at job {number} is already recorded. Press “🚗 On my way” when you set off for another visit.",
                                 number=request.number), alert=True)
    except NotAllowed:
        await turn.audit("stale_job_button", data=payload.pack())
        await turn.answer(turn._("That step does not fit the job's current state. Open the job again with /jobs."), alert=True)
    except (NotFound, InvalidValue):
        await turn.audit("not_allowed_button", data=payload.pack())
        await turn.answer(turn._("This button is no longer valid."), alert=True)
    except quotes.PaymentPending:
        await turn.answer(payment_pending_text(turn), alert=True)


def payment_pending_text(turn: Turn) -> str:
    """Why paid work does not go on yet (also for the requisition sent from the job)."""
    return turn._("This is paid work: it starts after the customer accepts the quote or a fee waiver is approved.")


def _opened_by(draft: Draft) -> str | None:
    """The job button that opened a one-answer prompt of a job; None for any other dialog."""
    if draft.kind == JOB_NOTE:
        return draft.data.get("purpose")
    return {VISIT_TIME: "visit", ARRIVAL: "arrived"}.get(draft.kind)


async def _prompt_to_leave(turn: Turn, payload: JobButton) -> Draft | None:
    """The one-answer prompt of a job (a note, a visit time, the arrival's location) that this press
    moves away from: one of another job, or of another step of its job (not a look at its own card,
    🔄 Refresh). What is typed or sent next is meant for the new step and must never be recorded on
    the job the prompt names. Found before the press is checked, ended by `_leave` only once the
    press went through: a refused one changes nothing. The long forms (report, requisition, quote)
    are kept aside by the dialog they give way to, not ended here."""
    draft = await dialogs.current(turn.uow, turn.user.id)
    opened_by = _opened_by(draft) if draft is not None else None
    if opened_by is None or (draft.data.get("request_id") == payload.request_id and payload.action in (opened_by, "open")):
        return None
    return draft


async def _leave(turn: Turn, prompt: Draft | None) -> None:
    """End `prompt` (unless the new step's dialog replaced it already) and say nothing was recorded."""
    if prompt is None:
        return
    current = await dialogs.current(turn.uow, turn.user.id)
    if current is not None and current.id == prompt.id:
        await dialogs.end(turn.uow, current)
    request = await turn.uow.requests.get(prompt.data["request_id"])
    text = turn._("Nothing was recorded for job {number}: you moved on before answering.", number=request.number if request else "?")
    await turn.reply(views.main_menu_view(turn._, text))  # the menu keyboard back in place of the arrival's location one


async def _job_action(turn: Turn, payload: JobButton) -> None:
    action, rid = payload.action, payload.request_id
    prompt = await _prompt_to_leave(turn, payload)
    if action == "open":
        await _leave(turn, prompt)
        await show_job(turn, rid, edit=True)
    elif action == "accept":
        request = await dispatch.respond(turn.uow, turn.user, rid, True, None, turn.now)
        await _leave(turn, prompt)
        await show_job(turn, rid, edit=True)
        await turn.reply(turn._("You accepted job {number}. Contact the customer to agree a visit.", number=request.number))
        await _tell_dispatchers(turn, request, "accepted")
    elif action in ("decline", "call", "parts", "customer"):
        statuses = (requests.ASSIGNED,) if action == "decline" else (requests.IN_PROGRESS,)
        request = await jobs.own_job(turn.uow, turn.user, rid, statuses)
        if action in ("parts", "customer") and request.waiting_for:
            raise NotAllowed()
        draft = await dialogs.begin(turn.uow, turn.user.id, JOB_NOTE, NOTE_STEP, {"request_id": rid, "purpose": action}, turn.now)
        await _leave(turn, prompt)
        await turn.reply(job_views.note_prompt(turn._, action, request, draft))
    elif action == "visit":
        request = await jobs.own_job(turn.uow, turn.user, rid)
        draft = await dialogs.begin(turn.uow, turn.user.id, VISIT_TIME, VISIT_STEP, {"request_id": rid}, turn.now)
        await _leave(turn, prompt)
        await turn.reply(job_views.visit_prompt(turn._, request, draft))
    elif action == "way":
        request = await jobs.on_the_way(turn.uow, turn.user, rid, turn.now)
        await _leave(turn, prompt)
        await show_job(turn, rid, edit=True)
        await tell_customer(turn, request, "on_the_way")
    elif action == "arrived":
        request = await jobs.own_job(turn.uow, turn.user, rid)
        await quotes.require_cleared(turn.uow, request)
        await jobs.check_not_on_site(turn.uow, request)
        await dialogs.begin(turn.uow, turn.user.id, ARRIVAL, ARRIVAL_STEP, {"request_id": rid}, turn.now)
        await _leave(turn, prompt)
        await turn.reply(job_views.arrival_prompt(turn._, request))
    elif action == "resume":
        request = await jobs.resume(turn.uow, turn.user, rid, turn.now)
        await _leave(turn, prompt)
        await show_job(turn, rid, edit=True)
        await tell_customer(turn, request, "resumed")
    elif action in ("report", "phone"):
        await _start_report(turn, rid, by_phone=action == "phone", leaving=prompt)
    elif action == "edit":
        draft = await reports.edit(turn.uow, turn.user, rid, turn.now)
        await _leave(turn, prompt)
        await turn.reply(job_views.report_prompt(turn._, draft))
    elif action == "quote":
        await _leave(turn, prompt)  # these two forms check and answer inside: a refused press ends the prompt too
        await quote_handlers.start_quote(turn, rid)
    elif action == "reqparts":
        await _leave(turn, prompt)
        await stock_handlers.start_requisition(turn, rid)
    else:
        raise InvalidValue("action")


async def _start_report(turn: Turn, request_id: int, *, by_phone: bool, leaving: Draft | None = None) -> None:
    try:
        draft = await reports.start(turn.uow, turn.user, request_id, by_phone, turn.now)
    except reports.VisitedOnSite:
        request = await jobs.own_job(turn.uow, turn.user, request_id)
        await turn.answer(turn._("You arrived on site for {number}: close it with “📝 Close with report” (photos and travel).", number=request.number), alert=True)
        return
    except NotAllowed:
        request = await jobs.own_job(turn.uow, turn.user, request_id)  # re-raises when it is not about arrival
        await turn.answer(turn._("Mark “Arrived” on site first, or choose “Solved by phone” for {number}.", number=request.number), alert=True)
        return
    await _leave(turn, leaving)
    await turn.reply(job_views.report_prompt(turn._, draft))


# --- one-line notes: a call, waiting for parts, a decline reason --------------------------


async def on_note_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    try:
        if not isinstance(message, TextInput):
            raise WrongInput(NOTE_STEP)
        note = clean_text(message.text, limit=COMMENT_MAX, expected=NOTE_STEP)
    except DomainError as error:
        await turn.reply(job_views.input_error(turn._, error))
        return
    await dialogs.end(turn.uow, draft)
    rid, purpose = draft.data["request_id"], draft.data["purpose"]
    try:
        if purpose == "decline":
            request = await dispatch.respond(turn.uow, turn.user, rid, False, note, turn.now)
            await turn.reply(turn._("Job {number} declined; it is back with the dispatcher.", number=request.number))
            await _tell_dispatchers(turn, request, "declined", note)
            await tell_customer(turn, request, "declined")  # they were told this engineer was coming
            return
        if purpose == "call":
            request = await jobs.log_call(turn.uow, turn.user, rid, note, turn.now)
            await turn.reply(turn._("Call logged for job {number}.", number=request.number))
        elif purpose == "parts":
            request = await jobs.wait_for(turn.uow, turn.user, rid, jobs.WAITING_PARTS, note, turn.now)
            await tell_customer(turn, request, "waiting_parts")
            await _tell_dispatchers(turn, request, "waiting_parts", note)
        else:
            request = await jobs.wait_for(turn.uow, turn.user, rid, jobs.WAITING_CUSTOMER, note, turn.now)
            if not await tell_customer(turn, request, "waiting_customer", note):  # the prompt said the customer reads it
                customer = await turn.uow.customers.get(request.customer_id)
                await turn.reply(turn._("The customer of job {number} cannot get messages from this bot, so they did not read this: "
                                        "phone them on {phone}.", number=request.number, phone=customer.phone))
            await _tell_dispatchers(turn, request, "waiting_customer", note)
        await show_job(turn, rid)
    except (NotAllowed, NotFound):
        await turn.reply(turn._("This job has changed meanwhile; nothing was recorded."))


# --- proposing a visit --------------------------------------------------------------------


async def on_visit_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    try:
        if not isinstance(message, TextInput):
            raise WrongInput("visit")
        when = jobs.parse_visit_time(message.text, turn.now, turn.deps.settings.timezone)
    except DomainError as error:
        await turn.reply(job_views.input_error(turn._, error))
        return
    await _propose(turn, draft, when)


async def on_visit_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    if payload.action != "quick":
        raise StaleAction()
    await turn.edit_off()
    # "Tomorrow" as of when the choices were shown: pressed just after midnight it still means the day the engineer read
    shown_at = draft.updated_at or turn.now
    await _propose(turn, draft, jobs.quick_visit_time(payload.value, shown_at, turn.deps.settings.timezone))


async def _propose(turn: Turn, draft: Draft, when) -> None:
    try:
        request, visit = await jobs.propose_visit(turn.uow, turn.user, draft.data["request_id"], when, turn.now)
    except InvalidValue as error:
        await turn.reply(job_views.input_error(turn._, error))
        return
    except (NotAllowed, NotFound):
        await dialogs.end(turn.uow, draft)
        await turn.reply(turn._("This job has changed meanwhile; nothing was recorded."))
        return
    await dialogs.end(turn.uow, draft)
    customer_user = await _customer_user(turn, request)
    delivered = customer_user is not None and await turn.notify_view(
        customer_user, job_views.visit_proposal(turn.translator_for(customer_user), request, visit, turn.user))
    await turn.uow.commit()  # the proposal exists (and is queued for the customer) before they can answer it
    if not delivered:  # no chat, or they blocked the bot: no answer will come, the engineer must phone
        customer = await turn.uow.customers.get(request.customer_id)
        await turn.reply(turn._("Visit on {time} noted for job {number}, but the customer cannot get messages from this bot: "
                                "phone them on {phone} to agree it.", time=turn._.datetime(when), number=request.number, phone=customer.phone))
        return
    await turn.reply(turn._("Visit on {time} proposed to the customer for job {number}; I will tell you their answer.", time=turn._.datetime(when), number=request.number))


# --- arrival with a location ---------------------------------------------------------------


async def on_arrival_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    if not isinstance(message, LocationInput):
        await turn.reply(job_views.input_error(turn._, WrongInput("arrival")))
        return
    try:
        request = await jobs.arrived(turn.uow, turn.user, draft.data["request_id"], message.latitude, message.longitude, turn.now)
    except InvalidValue as error:
        await turn.reply(job_views.input_error(turn._, error))
        return
    except (NotAllowed, NotFound):
        await dialogs.end(turn.uow, draft)
        await turn.reply(views.main_menu_view(turn._, turn._("This job has changed meanwhile; nothing was recorded.")))
        return
    except quotes.PaymentPending:
        await dialogs.end(turn.uow, draft)
        await turn.reply(views.main_menu_view(turn._, payment_pending_text(turn)))
        return
    await dialogs.end(turn.uow, draft)
    await turn.reply(views.View(turn._("Arrival at job {number} recorded.", number=request.number), main_menu(turn._)))
    await show_job(turn, request.id)
    await tell_customer(turn, request, "arrived")


async def on_arrival_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    raise StaleAction()  # the arrival step has only reply-keyboard buttons


# --- the closing report --------------------------------------------------------------------


async def on_report_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    try:
        matches = await reports.handle_input(turn.uow, draft, message, turn.now)
    except DomainError as error:
        await turn.reply(job_views.input_error(turn._, error))
        return
    if isinstance(message, PhotoInput) and message.caption and draft.step == reports.PHOTOS:  # not lost silently
        await turn.reply(turn._("Photo saved, but not its caption: the report keeps text in its own fields. "
                                "Put it in the solution or the customer's opinion (✏️ Edit at the summary)."))
    await turn.reply(job_views.report_prompt(turn._, draft, matches))


async def on_report_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    if payload.action == "submit":
        await _submit_report(turn, draft)
        return
    try:
        await reports.handle_button(turn.uow, draft, payload.action, payload.value, turn.now)
    except InvalidValue as error:
        await turn.answer(job_views.input_error(turn._, error), alert=True)
        return
    await turn.edit_off()
    await turn.reply(job_views.report_prompt(turn._, draft))


async def go_back(turn: Turn, draft: Draft) -> None:
    await reports.handle_button(turn.uow, draft, "back", "", turn.now)
    await turn.reply(job_views.report_prompt(turn._, draft))


async def _submit_report(turn: Turn, draft: Draft) -> None:
    try:
        request, report, updated = await reports.submit(turn.uow, turn.user, draft, turn.now)
    except InvalidValue as error:
        await turn.answer(job_views.input_error(turn._, error), alert=True)
        return
    except quotes.PaymentPending:  # a quote came while it was written: the draft stays, to send once accepted
        await turn.answer(payment_pending_text(turn), alert=True)
        await turn.reply(turn._("Your report is kept: press “{button}” again once the customer accepts the quote or a fee waiver is approved.",
                                button=turn._("📤 Send the report")))
        return
    except (NotAllowed, NotFound):
        await dialogs.end(turn.uow, draft)
        await turn.edit_off()
        await turn.reply(turn._("This job has changed meanwhile; the report was not sent."))
        return
    withdrawn = await stock.cancel_unissued(turn.uow, request.id, turn.user, approvals.JOB_REPORTED, turn.now)
    customer_user = await _customer_user(turn, request)
    if customer_user is not None:
        _ = turn.translator_for(customer_user)
        await turn.notify_view(customer_user, job_views.report_for_customer(_, request, report, turn.user, updated=updated))
    await _tell_dispatchers(turn, request, "report")
    await stock_handlers.tell_differences(turn, request.id)
    await turn.uow.commit()  # the report and its notices are stored before the customer is asked about it
    await approval_handlers.show_withdrawn(turn, withdrawn)
    await turn.edit_off()
    await turn.reply(turn._("Report for job {number} sent. The customer is asked to confirm; you can still edit it until then.", number=request.number))


# --- telling the others ------------------------------------------------------------------


async def _customer_user(turn: Turn, request: ServiceRequest) -> User | None:
    return await requests.customer_user(turn.uow, request)


async def tell_customer(turn: Turn, request: ServiceRequest, what: str, note: str | None = None) -> bool:
    """Progress the customer sees; internal notes only where the engineer writes to the customer.
    False when the customer cannot get it (no chat with the bot, or they blocked it)."""
    user = await _customer_user(turn, request)
    if user is None:
        return False
    _ = turn.translator_for(user)
    name, number = display_name(turn.user), request.number
    text = {
        "on_the_way": _("🚗 Engineer {name} is on the way to you (request {number}).", name=name, number=number),
        "arrived": _("📍 Engineer {name} has arrived (request {number}).", name=name, number=number),
        "waiting_parts": _("📦 Request {number} is waiting for spare parts; work continues as soon as they arrive.", number=number),
        "resumed": _("▶️ Work on request {number} continues.", number=number),
        "declined": job_views.engineer_changing(_, request),
        "waiting_customer": _("⏸ Engineer {name} is waiting for you on request {number}: {note}", name=name, number=number, note=note or ""),
    }[what]
    return await turn.notify(user, text)


async def _tell_dispatchers(turn: Turn, request: ServiceRequest, what: str, note: str | None = None) -> None:
    name, number = display_name(turn.user), request.number
    for dispatcher in await requests.dispatchers(turn.uow):
        _ = turn.translator_for(dispatcher)
        text = {
            "accepted": lambda: _("👷 {name} accepted job {number}.", name=name, number=number),
            "declined": lambda: _("👷 {name} declined job {number}: {reason}. It is back in the /queue.", name=name, number=number, reason=note),
            "waiting_parts": lambda: _("📦 {name}: job {number} waits for parts: {note}", name=name, number=number, note=note),
            "waiting_customer": lambda: _("⏸ {name}: job {number} waits for the customer: {note}", name=name, number=number, note=note),
            "report": lambda: _("📝 {name} sent the report for {number}; waiting for the customer to confirm.", name=name, number=number),
        }[what]()
        await turn.notify(dispatcher, text, for_role=ROLE_DISPATCHER)
