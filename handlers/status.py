"""The customer's requests: the list, a request card, comments and photos, cancelling."""
from __future__ import annotations

from bot import escalation_views, job_views, views
from bot.callbacks import DialogButton, DispatchButton, ListPageButton, RequestButton
from bot.keyboards import button, inline
from bot.services import cancellation, complaints, confirmation, consultation, dialogs, requests, users
from bot.services.dispatch import ROLE_ENGINEER
from bot.services.users import OVERSEER_ROLES, ROLE_DISPATCHER
from bot.services.errors import DomainError, NotAllowed, NotFound, TooLong, WrongInput
from bot.services.inputs import PhotoInput, TextInput, UserInput
from bot.services.validation import COMMENT_MAX, clean_text
from handlers import approvals as approval_handlers
from handlers import complaints as complaint_handlers
from handlers import dispatch as dispatch_handlers
from handlers import jobs as job_handlers
from handlers import returns as return_handlers
from handlers.common import Turn, handler
from storage.models import Draft, ServiceRequest, User


@handler
async def cmd_my(turn: Turn) -> None:
    """/my: the first page of the customer's requests."""
    await show_list(turn, 0)


async def show_list(turn: Turn, page: int, *, edit: bool = False) -> None:
    await leave_comment_mode(turn)
    customer = await users.customer_of(turn.uow, turn.user)
    view = views.request_list(turn._, await requests.page_of(turn.uow, customer, page))
    await (turn.edit(view) if edit else turn.reply(view))


async def leave_comment_mode(turn: Turn, *, keep_request_id: int | None = None) -> None:
    """Comments go to the request whose card the person is looking at: the list, or another
    request's card, ends comment mode (what was sent is kept), as /start does. Otherwise the next
    message would reach the staff as a comment on a request the person has left."""
    draft = await dialogs.current(turn.uow, turn.user.id)
    if draft is not None and draft.kind == requests.COMMENT_DIALOG and draft.data.get("request_id") != keep_request_id:
        await dialogs.end(turn.uow, draft)


async def card_view(turn: Turn, request: ServiceRequest) -> views.View:
    """The customer's card of their request; a report waiting for their answer is answered there too."""
    report = await confirmation.waiting_report(turn.uow, request)
    return views.request_card(turn._, await requests.card(turn.uow, request),
                              report_mark=confirmation.report_mark(report) if report is not None else None)


@handler
async def cmd_status(turn: Turn) -> None:
    """/status SR-2026-000123: open one request by its number."""
    args = turn.context.args or []
    number = requests.parse_number(args[0]) if args else None
    if number is None:
        await turn.reply(turn._("Send the request number after the command, e.g. /status SR-2026-000123."))
        return
    await open_by_number(turn, number)


async def open_by_number(turn: Turn, number: str) -> None:
    """A typed request number: the staff card for dispatchers and managers, the job card for its
    engineer, otherwise the customer's own request (someone else's is "not found")."""
    if await _open_as_staff(turn, number):
        return
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        request = await requests.own_request_by_number(turn.uow, customer, number)
    except NotFound:
        await turn.audit("request_not_found", number=number)
        await turn.reply(turn._("No request {number} was found among yours. Check the number, or see /my.", number=number))
        return
    await turn.reply(await card_view(turn, request))


async def _open_as_staff(turn: Turn, number: str) -> bool:
    if not users.is_staff(turn.user):
        return False
    request = await turn.uow.requests.by_number(number)
    if request is None:
        return False
    if turn.user.role_names & OVERSEER_ROLES:
        await dispatch_handlers.show_card(turn, request.id, edit=False)
        return True
    if request.assigned_engineer_id == turn.user.id and ROLE_ENGINEER in turn.user.role_names:
        try:
            await job_handlers.show_job(turn, request.id)
        except NotAllowed:  # their job, but over: closed or cancelled
            await turn.reply(job_views.job_over(turn._, request))
        return True
    return await complaint_handlers.open_card_by_number(turn, number)  # a complaint: its card, for who reads complaints


async def on_page(turn: Turn, payload: ListPageButton) -> None:
    await show_list(turn, payload.page, edit=True)


async def on_request_button(turn: Turn, payload: RequestButton) -> None:
    """Card actions; ownership and state are checked here, whatever the button says."""
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        request = await requests.own_request(turn.uow, customer, payload.request_id)
    except NotFound:
        await turn.audit("foreign_request_button", request_id=payload.request_id, action=payload.action)
        await turn.answer(turn._("Request not found."), alert=True)
        return
    action = payload.action
    if action == "open":
        await leave_comment_mode(turn, keep_request_id=request.id)
        await turn.edit(await card_view(turn, request))
    elif action == "cancel":
        why = await cancellation.why_not_cancellable(turn.uow, request)
        if why is not None:
            await turn.answer(_cannot_cancel(turn, why), alert=True)
            return
        await turn.edit(views.cancel_question(turn._, request))
    elif action == "cancel_yes":
        await _cancel(turn, request)
    elif action == "comment":
        await _start_comment(turn, request)
    elif action == "return":
        await return_handlers.start_from_request(turn, request)
    elif action == "complain":
        await complaint_handlers.start_from_card(turn, request)
    else:
        await turn.audit("unknown_request_action", request_id=request.id, action=action)
        await turn.answer(turn._("This button is no longer valid."), alert=True)


def _cannot_cancel(turn: Turn, why: str) -> str:
    if why == cancellation.ALREADY_CANCELLED:
        return turn._("This request is already cancelled.")
    if why == cancellation.CLOSED:
        return turn._("This request is already closed; there is nothing left to cancel. If the problem is back, report it with /new.")
    if why == cancellation.PRODUCT_WITH_US:
        return turn._("This return can no longer be cancelled: the warehouse has your product. Please add a comment instead.")
    return turn._("This request can no longer be cancelled: an engineer has started work on it. Please add a comment instead.")


async def _cancel(turn: Turn, request: ServiceRequest) -> None:
    # Locked first (cancel_by_customer locks it too, once per transaction), so the engineer read is
    # the one on the job when it is cancelled: a reassignment another process committed since the
    # press was read is seen here, and the new engineer, not the old one, is told.
    request = await turn.uow.requests.lock(request.id)
    engineer = await requests.engineer_on_job(turn.uow, request)  # assigned, not started: told below
    awaited = await return_handlers.awaited_product(turn, request)  # an approved return: the warehouse expects it
    try:
        withdrawn = await cancellation.cancel_by_customer(turn.uow, turn.user, request, turn.now)
    except cancellation.NotCancellable as refused:
        await turn.answer(_cannot_cancel(turn, refused.why), alert=True)
        return
    await _tell_dispatchers(turn, request, "cancelled", engineer=engineer)
    await return_handlers.tell_trackers_not_coming(turn, awaited)
    await turn.uow.commit()  # cancelled, with what hung on it and the dispatchers' notice
    await turn.answer(turn._("Request {number} is cancelled.", number=request.number))
    await turn.edit(await card_view(turn, request))
    await approval_handlers.show_withdrawn(turn, withdrawn)


async def _start_comment(turn: Turn, request: ServiceRequest) -> None:
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        request, draft = await requests.start_comment(turn.uow, turn.user, customer, request.id, turn.now)
    except NotAllowed:
        await turn.answer(turn._("This request is closed; comments can no longer be added."), alert=True)
        return
    await turn.reply(views.comment_prompt(turn._, request, draft))


async def on_comment_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """In comment mode each text or photo is added to the request straight away; a message that
    is only a request number opens that request instead (comment mode ends)."""
    number = requests.parse_number(message.text) if isinstance(message, TextInput) else None
    if number is not None:
        await dialogs.end(turn.uow, draft)
        await open_by_number(turn, number)
        return
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        request = await requests.own_request(turn.uow, customer, draft.data["request_id"])
        if requests.closed_to_comments(request):  # closed or cancelled meanwhile: kept, passed on, the customer told
            await _comment_after_close(turn, draft, request, message)
            return
        report = await confirmation.waiting_report(turn.uow, request)
        if report is not None:  # the work was reported done meanwhile: what they sent is kept, then their answer is asked
            await _comment_on_waiting_report(turn, draft, request, report, message)
            return
        if isinstance(message, TextInput):
            text = clean_text(message.text, limit=COMMENT_MAX, expected=requests.COMMENT_STEP)
            await consultation.add_comment(turn.uow, turn.user, request, text, turn.now)
            await turn.reply(turn._("Comment added to {number}. Send more, or press “Done”.", number=request.number))
            await _tell_dispatchers(turn, request, "comment", text)
        elif isinstance(message, PhotoInput):
            await requests.add_photo(turn.uow, turn.user, request, message.file_id, turn.now)
            caption, too_long = _caption(message.caption)
            if caption:
                await consultation.add_comment(turn.uow, turn.user, request, caption, turn.now)
            if too_long:  # kept whole or not at all: half a sentence would read as what they meant
                await turn.reply(turn._("Photo added to {number}, but not its caption: it is longer than {max} characters. "
                                        "Please send it as a text message.", number=request.number, max=COMMENT_MAX))
            else:
                await turn.reply(turn._("Photo added to {number}. Send more, or press “Done”.", number=request.number))
            await _tell_dispatchers(turn, request, "photo_added", caption, photos=(message.file_id,))
        else:
            raise WrongInput(requests.COMMENT_STEP)
    except (NotFound, NotAllowed):
        await dialogs.end(turn.uow, draft)
        await turn.reply(turn._("This request is closed; comments can no longer be added."))
    except DomainError as error:
        await turn.reply(views.input_error(turn._, error))


async def _comment_on_waiting_report(turn: Turn, draft: Draft, request: ServiceRequest, report, message: UserInput) -> None:
    """Typed in comment mode after the engineer reported the job done: nothing the customer sends
    is lost. It is kept as their comment (or photo) and passed on as comments are, to the
    dispatchers and the engineer whose report waits; comment mode ends, and the report's
    question follows ("Not resolved" reopens the request for what is still wrong)."""
    text, photos, too_long = None, (), False
    if isinstance(message, TextInput):
        text = clean_text(message.text, limit=COMMENT_MAX, expected=requests.COMMENT_STEP)  # refused: they try again, still in comment mode
        await requests.add_comment(turn.uow, turn.user, request, text, turn.now, report_waiting=True)
    elif isinstance(message, PhotoInput):
        await requests.add_photo(turn.uow, turn.user, request, message.file_id, turn.now, report_waiting=True)
        text, too_long = _caption(message.caption)
        if text:
            await requests.add_comment(turn.uow, turn.user, request, text, turn.now, report_waiting=True)
        if too_long:
            await turn.reply(turn._("Photo added to {number}, but not its caption: it is longer than {max} characters. "
                                    "Please send it as a text message.", number=request.number, max=COMMENT_MAX))
        photos = (message.file_id,)
    if text is not None or photos:
        engineer = await turn.uow.users.get(report.engineer_id)
        if engineer is None or not engineer.is_active or engineer.id != request.assigned_engineer_id:
            engineer = None  # left the staff, or no longer on the job: staff news is not theirs
        await _tell_dispatchers(turn, request, "photo_added" if photos else "comment", text, photos=photos, engineer=engineer,
                                answerable=False)  # the report waits for the customer's answer, not for the dispatcher's
        if not too_long:  # else it was said above what was left out
            await turn.reply(turn._("Thank you: what you sent is added to {number} and our staff are told.", number=request.number))
    await dialogs.end(turn.uow, draft)
    await turn.reply(views.report_question(turn._, request, confirmation.report_mark(report)))


async def _comment_after_close(turn: Turn, draft: Draft, request: ServiceRequest, message: UserInput) -> None:
    """Comment mode on a request closed or cancelled while it was open (the confirmation timeout,
    a dispatcher's close, a consultation closed as answered, a return finished at the warehouse,
    the customer's own cancel): nothing the customer sends is lost. It is kept on the request and
    passed on as comments are (the dispatchers; on a consultation the salespeople too; on a
    complaint its supervisors), and the customer learns, once, that the request is closed and how
    to go on; comment mode stays for more (“Done” ends it). Input refused (empty, too long) is
    answered by the caller, comment mode staying."""
    text, photos, too_long = None, (), False
    if isinstance(message, TextInput):
        text = clean_text(message.text, limit=COMMENT_MAX, expected=requests.COMMENT_STEP)
    elif isinstance(message, PhotoInput):
        text, too_long = _caption(message.caption)
        photos = (message.file_id,)
    else:
        raise WrongInput(requests.COMMENT_STEP)
    await requests.keep_after_close(turn.uow, turn.user, request, turn.now, text=text, photo=photos[0] if photos else None)
    how = (views.AFTER_TIMEOUT if confirmation.closed_by_timeout(request)
           else views.AFTER_CANCEL if request.status == requests.CANCELLED else views.AFTER_CLOSE)
    await _tell_dispatchers(turn, request, how, text, photos=photos)
    first = not draft.data.get("told_closed")
    dialogs.move(draft, draft.step, turn.now, told_closed=True)
    lines = []
    if too_long:
        lines.append(turn._("Photo added to {number}, but not its caption: it is longer than {max} characters. "
                            "Please send it as a text message.", number=request.number, max=COMMENT_MAX))
    lines.append(_closed_reply(turn, request, how, first))
    await turn.reply(views.View("\n\n".join(lines), views.comment_prompt(turn._, request, draft).markup))


def _closed_reply(turn: Turn, request: ServiceRequest, how: str, first: bool) -> str:
    """What the customer hears of what they sent to a closed request: why it is closed and how to
    go on the first time, a short receipt after."""
    number = request.number
    if how == views.AFTER_TIMEOUT:
        if not first:
            return turn._("Added to {number} (closed) and passed on to our dispatchers. Send more, or press “Done”.", number=number)
        hours = int(turn.deps.policy.closing.confirmation_timeout.total_seconds() // 3600)
        return turn._("Request {number} was already closed as confirmed by timeout: we did not hear back within {hours} hours "
                      "after the work report. What you sent is kept on the request and passed on to our dispatchers. If the repair "
                      "did not solve the problem, you can file a complaint with /complain, or report it again with /new. "
                      "Send more, or press “Done”.", number=number, hours=hours)
    if how == views.AFTER_CANCEL:
        if not first:
            return turn._("Added to {number} (cancelled) and passed on to our staff. Send more, or press “Done”.", number=number)
        return turn._("Request {number} is cancelled. What you sent is kept on the request and passed on to our staff. "
                      "If you need our help again, please report it with /new. Send more, or press “Done”.", number=number)
    if not first:
        return turn._("Added to {number} (closed) and passed on to our staff. Send more, or press “Done”.", number=number)
    if request.kind == complaints.KIND:  # answered in writing: a complaint about the complaint is no way on
        return turn._("Your complaint {number} is already answered and closed. What you sent is kept on it and passed on to "
                      "our staff. If you still need help, please report it with /new. Send more, or press “Done”.", number=number)
    return turn._("Request {number} was already closed by our service department. What you sent is kept on the request and "
                  "passed on to our staff. If you still need help, please report it again with /new, or file a complaint "
                  "with /complain. Send more, or press “Done”.", number=number)


def _caption(text: str | None) -> tuple[str | None, bool]:
    """A photo's caption as a comment: (the text or None, whether it was left out as too long)."""
    try:
        return clean_text(text, limit=COMMENT_MAX, expected=requests.COMMENT_STEP), False
    except WrongInput:  # none, or nothing visible
        return None, False
    except TooLong:
        return None, True


async def on_comment_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    """“Done”: leave comment mode and show the card again."""
    await dialogs.end(turn.uow, draft)
    await turn.edit_off()
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        request = await requests.own_request(turn.uow, customer, draft.data["request_id"])
    except NotFound:
        return
    await turn.reply(await card_view(turn, request))


async def _tell_dispatchers(turn: Turn, request: ServiceRequest, what: str, text: str | None = None, photos: tuple[str, ...] = (),
                            *, engineer: User | None = None, answerable: bool = True) -> None:
    """The dispatchers, the salespeople on a consultation, and the engineer on the job (`engineer`:
    who was, for a cancellation; whose report waits, for a comment on it). `answerable` False: no
    "answer the customer" button (a request whose report waits is not answered in writing).
    `what` one of views.AFTER_*: written after the request closed, passed on as comments are, with
    the card to open instead of an answer button."""
    if request.kind == "complaint":  # a complaint is the complaint supervisor's, not the dispatchers'
        await complaint_handlers.tell_supervisors(turn, request, what, text, photos)
        return
    after_close = what in (views.AFTER_TIMEOUT, views.AFTER_CLOSE, views.AFTER_CANCEL)  # `_comment_after_close`
    told = set()
    for dispatcher in await requests.dispatchers(turn.uow):
        _ = turn.translator_for(dispatcher)
        if after_close:  # closed: not answered in writing any more; its card holds what was sent
            markup = inline([[button(_("Open"), DispatchButton(request.id, "open"))]])
        else:
            markup = escalation_views.answer_markup_for_staff(_, request) if what == "comment" and answerable else None  # answer it in writing
        await turn.notify(dispatcher, views.customer_update_for_staff(_, request, what, text), markup=markup, photos=photos, for_role=ROLE_DISPATCHER)
        told.add(dispatcher.id)
    if request.kind == consultation.CONSULTATION and (what in ("comment", "photo_added") or after_close):
        # the salespeople heard of the question (intake.notify_dispatchers) and may answer what follows too
        for person in await consultation.salespeople(turn.uow):
            if person.id not in told:
                _ = turn.translator_for(person)
                markup = escalation_views.answer_markup_for_staff(_, request) if what == "comment" and answerable else None
                await turn.notify(person, views.customer_update_for_staff(_, request, what, text), markup=markup, photos=photos)
                told.add(person.id)
    # the engineer on the job reads it too: after "not resolved" it says what is still wrong
    engineer = engineer or await requests.engineer_on_job(turn.uow, request)
    if engineer is not None and engineer.id not in told:
        _ = turn.translator_for(engineer)
        markup = None if what == "cancelled" else job_views.open_job_markup(_, request)
        await turn.notify(engineer, views.customer_update_for_staff(_, request, what, text), markup=markup, photos=photos)
