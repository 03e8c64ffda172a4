"""Quotes in the chat: staff build one, the customer accepts or declines it with buttons."""
from __future__ import annotations

from bot import quote_views, return_views
from bot.callbacks import DialogButton, QuoteButton
from bot.services import approvals, dialogs, dispatch, quotes, requests, returns, sales, users
from bot.services.errors import InvalidValue, LimitReached, NotAllowed, NotFound, StaleAction, TooLong, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.services.users import ROLE_DISPATCHER
from bot.views import input_error, request_card
from handlers import approvals as approval_handlers
from handlers.common import Turn
from storage.models import Approval, Draft, Quote, ServiceRequest, User


async def start_quote(turn: Turn, request_id: int) -> None:
    """From the staff card or the job card (the service re-checks who may quote)."""
    try:
        draft = await quotes.start(turn.uow, turn.user, request_id, turn.now)
    except quotes.NotPaidWork:
        await turn.answer(turn._("A quote is for paid work: set the warranty to “expired” or “paid” first."), alert=True)
        return
    await turn.reply(quote_views.prompt(turn._, draft))


async def tell_quote_void(turn: Turn, request: ServiceRequest, quote: Quote) -> None:
    """The dispatcher ruled the work in warranty while the customer still had a quote to answer."""
    person = await requests.customer_user(turn.uow, request)
    if person is not None:
        _ = turn.translator_for(person)
        await turn.notify(person, _("Good news: request {number} is covered by warranty. The quote of {total} no longer applies; you pay nothing for this work.",
                                    number=request.number, total=_.money(quote.total_minor)))


async def tell_paid_again(turn: Turn, request: ServiceRequest) -> None:
    """A ruling back to paid work, after the customer was told a quote no longer applied."""
    person = await requests.customer_user(turn.uow, request)
    if person is not None:
        _ = turn.translator_for(person)
        await turn.notify(person, _("Correction on request {number}: on review, the work is not covered by warranty after all. "
                                    "You will receive a quote to accept before any paid work starts.", number=request.number))


async def on_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    if not isinstance(message, TextInput):
        await turn.reply(quote_views.reask(turn._, draft, typed=False))
        return
    try:
        matches = await quotes.type_text(turn.uow, draft, message.text, turn.now)
    except (WrongInput, InvalidValue):
        await turn.reply(quote_views.reask(turn._, draft))
        return
    except (TooLong, LimitReached) as error:
        await turn.reply(input_error(turn._, error))
        return
    await turn.reply(quote_views.prompt(turn._, draft, matches))


async def on_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    if payload.action == "part" and payload.value.isdigit():
        await quotes.pick_part(turn.uow, draft, int(payload.value), turn.now)
    elif payload.action == "done":
        quotes.parts_done(draft, turn.now)
    elif payload.action == "back":
        quotes.back(draft, turn.now)
    elif payload.action == "send":
        await _send(turn, draft)
        return
    else:
        raise StaleAction()
    await turn.edit_off()
    await turn.reply(quote_views.prompt(turn._, draft))


async def go_back(turn: Turn, draft: Draft) -> None:
    quotes.back(draft, turn.now)
    await turn.reply(quote_views.prompt(turn._, draft))


async def _send(turn: Turn, draft: Draft) -> None:
    try:
        sent = await quotes.send(turn.uow, turn.user, draft, turn.now)
    except (NotAllowed, NotFound):
        await turn.reply(turn._("This request has changed meanwhile; nothing was recorded."))
        return
    except quotes.CoveredByWaiver as covered:
        await dialogs.end(turn.uow, draft)
        await turn.edit_off()
        await turn.reply(turn._("An approved fee waiver of {amount} already covers this: the customer pays nothing, so no quote was sent.",
                                amount=turn._.money(covered.approval.amount_minor or 0)))
        return
    quote = sent.quote
    request = await turn.uow.requests.get(quote.request_id)
    customer = await turn.uow.customers.get(request.customer_id)
    lines = await turn.uow.quotes.lines(quote.id)
    person = await requests.customer_user(turn.uow, request)
    reached = False
    if person is not None:
        reached = await turn.notify_view(person, quote_views.for_customer(turn.translator_for(person), quote, lines, request))
    seller = await sales.salesperson_of(turn.uow, request.id)  # in touch with a customer they filed for: told of the quote
    if seller is not None and not await turn.notify_view(seller, quote_views.for_salesperson(turn.translator_for(seller), quote, lines, request, customer, reached)):
        seller = None
    if not reached and seller is None:  # nobody has the quote to give the customer: the dispatchers call them
        for dispatcher in await requests.dispatchers(turn.uow):
            if dispatcher.id != turn.user.id:
                await turn.notify_view(dispatcher, quote_views.unreached_for_dispatcher(turn.translator_for(dispatcher), quote, lines, request, customer), for_role=ROLE_DISPATCHER)
    await approval_handlers.tell_requesters_withdrawn(turn, sent.withdrawn)
    await turn.uow.commit()  # the quote exists before the customer can press Accept
    await turn.edit_off()
    await turn.reply(quote_views.sent(turn._, quote, request, reached, seller))
    await approval_handlers.show_withdrawn(turn, sent.withdrawn)


PHONE_ANSWERS = {"phone_yes": True, "phone_no": False}  # staff record the customer's answer given by phone


async def on_quote_button(turn: Turn, payload: QuoteButton) -> None:
    """The customer's Accept / Decline, or the answer they gave on the phone as a dispatcher or the
    salesperson records it; the staff following the request (and the customer) are told."""
    by_phone = payload.action in PHONE_ANSWERS
    try:
        if by_phone:
            answered = await quotes.answer_by_phone(turn.uow, turn.user, payload.quote_id, PHONE_ANSWERS[payload.action], turn.now)
        elif payload.action in ("accept", "decline"):
            answered = await quotes.answer(turn.uow, turn.user, payload.quote_id, payload.action == "accept", turn.now)
        else:
            raise NotFound()
        quote, request = answered.quote, answered.request
    except NotFound:
        await turn.audit("not_allowed_button", data=payload.pack())
        await turn.answer(turn._("This button is no longer valid."), alert=True)
        return
    except quotes.RequestEnded:
        await turn.audit("stale_button", data=payload.pack())
        await turn.answer(turn._("This request is cancelled or closed; the quote no longer applies."), alert=True)
        await _answered(turn, payload)
        return
    except quotes.NotPaidWork:
        await turn.answer(quote_views.no_longer_paid(turn._) if by_phone else
                          turn._("The work is covered by warranty after all: the quote no longer applies and there is nothing to pay."), alert=True)
        await _answered(turn, payload)
        return
    except quotes.Waived:
        await turn.audit("stale_button", data=payload.pack())
        await turn.answer(quote_views.waived_for_staff(turn._) if by_phone else
                          turn._("The company carries the cost of this work: you pay nothing, and there is nothing to accept."), alert=True)
        await _answered(turn, payload)
        return
    except StaleAction:
        await turn.audit("stale_button", data=payload.pack())
        await turn.answer(quote_views.already_answered(turn._), alert=True)
        return
    await _tell_answer(turn, quote, request, recorded_by=turn.user if by_phone else None)
    await turn.uow.commit()  # the answer and its notices stand before the presser reads the reply
    await _answered(turn, payload)
    if not by_phone:
        await turn.reply(quote_views.answered_for_customer(turn._, quote, request))
    await approval_handlers.show_withdrawn(turn, answered.withdrawn)


async def _tell_answer(turn: Turn, quote: Quote, request: ServiceRequest, *, recorded_by: User | None) -> None:
    """The dispatchers, who quoted, the engineer, the salesperson who filed the request, and whoever
    holds a paid-repair return; with `recorded_by` (an answer given by phone) the customer too."""
    told: set[int] = set()
    for dispatcher in await requests.dispatchers(turn.uow):
        told.add(dispatcher.id)
        await turn.notify_view(dispatcher, quote_views.answered_for_staff(turn.translator_for(dispatcher), quote, request, dispatcher=True, recorded_by=recorded_by), for_role=ROLE_DISPATCHER)
    seller = await sales.salesperson_of(turn.uow, request.id)
    for user_id in (quote.created_by_id, request.assigned_engineer_id, seller.id if seller else None):
        person = await turn.uow.users.get(user_id) if user_id and user_id not in told else None
        if person is not None and person.is_active:  # staff news: not for someone who has left
            told.add(person.id)
            await turn.notify_view(person, quote_views.answered_for_staff(turn.translator_for(person), quote, request,
                                                                          dispatcher=dispatch.is_dispatcher(person), recorded_by=recorded_by))
    case = await turn.uow.returns.of_request(request.id) if request.kind == "return" else None
    if case is not None and case.state == returns.INSPECTED:  # the product waits at the warehouse for this answer
        for tracker in await returns.trackers(turn.uow):
            _ = turn.translator_for(tracker)
            tracked = await returns.tracked(turn.uow, tracker, case.id)
            await turn.notify_view(tracker, return_views.tracking_card(_, tracked, quote_views.answered_for_trackers(_, quote, request)))
    customer = await requests.customer_user(turn.uow, request) if recorded_by is not None else None
    if customer is not None:  # their word on the phone, in writing
        await turn.notify(customer, quote_views.answered_for_customer(turn.translator_for(customer), quote, request))


async def _answered(turn: Turn, payload: QuoteButton) -> None:
    """Take the quote's buttons away: off the offer message, or by drawing again the request card
    it was answered from, whose other buttons (comment, cancel…) stay: the customer's card, or the
    dispatcher's for an answer recorded by phone."""
    quote = await turn.uow.quotes.get(payload.quote_id) if payload.on_card else None
    if quote is None:
        await turn.edit_off()
        return
    if payload.action in PHONE_ANSWERS:
        from handlers import dispatch as dispatch_handlers  # that module routes the card's own buttons here: imported late
        try:
            await dispatch_handlers.show_card(turn, quote.request_id)
        except (NotAllowed, NotFound):
            await turn.edit_off()
        return
    try:
        request = await requests.own_request(turn.uow, await users.customer_of(turn.uow, turn.user), quote.request_id)
    except NotFound:
        await turn.edit_off()
        return
    await turn.edit(request_card(turn._, await requests.card(turn.uow, request)))


async def tell_waiver(turn: Turn, request: ServiceRequest, approval: Approval) -> None:
    """An approved fee waiver: the customer, who declined to pay (or was about to be asked), hears
    that the work is free before an engineer turns up. A paid-repair return's product waiting at
    the warehouse for this decision: whoever tracks it hears either way (repair it, or send it back)."""
    await _tell_trackers_of_waiver(turn, request, approval)
    if approval.status != approvals.APPROVED:
        return
    if await quotes.payment_pending(turn.uow, request):
        return  # it does not cover the quote the work now waits for: "you pay nothing" would be untrue
    person = await requests.customer_user(turn.uow, request)
    if person is not None:
        _ = turn.translator_for(person)
        await turn.notify(person, _("Request {number}: the company carries the cost of this work. You pay nothing; we will arrange the work with you.",
                                    number=request.number))


async def _tell_trackers_of_waiver(turn: Turn, request: ServiceRequest, approval: Approval) -> None:
    """The tracking card said "send it back unrepaired, unless a fee waiver is approved": approved
    (and covering what the repair waits for), it is repaired; rejected after the customer declined,
    it goes back. A rejection while the quote still waits for the customer decides nothing yet."""
    case = await turn.uow.returns.of_request(request.id) if request.kind == "return" else None
    if case is None or case.state != returns.INSPECTED:
        return  # not at the warehouse waiting for its cost: the card's own buttons say what comes next
    pending = await quotes.payment_pending(turn.uow, request)
    if approval.status == approvals.APPROVED and pending:
        return  # it does not cover the newer quote the repair waits for
    if approval.status != approvals.APPROVED and (not pending or await quotes.declined_total(turn.uow, request.id) is None):
        return
    for tracker in await returns.trackers(turn.uow):
        _ = turn.translator_for(tracker)
        tracked = await returns.tracked(turn.uow, tracker, case.id)
        await turn.notify_view(tracker, return_views.tracking_card(_, tracked, quote_views.waiver_for_trackers(_, approval, request)))


approval_handlers.FOLLOW_UPS["waiver"] = tell_waiver
