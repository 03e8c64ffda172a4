"""Returns and exchanges in the chat: the customer's dialog (from a request card or /products),
what the customer is told after the service manager's decision, and the staff's tracking buttons.
The rules are in bot/services/returns.py."""
from __future__ import annotations

from datetime import datetime

from bot import return_views
from bot.callbacks import DialogButton, ReturnButton, ReturnProductButton
from bot.i18n import Translator
from bot.services import approvals, dialogs, intake, notices, quotes, requests, returns, users
from bot.services.errors import DomainError, NotAllowed, NotFound, StaleAction, TooLong, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.services.users import ROLE_DISPATCHER
from bot.views import input_error, main_menu_view
from handlers import approvals as approval_handlers
from handlers.common import Deps, Turn, handler
from handlers import intake as intake_handlers
from handlers.intake import notify_dispatchers
from storage.db import UnitOfWork
from storage.models import Approval, Draft, ServiceRequest


def _today(turn: Turn):
    return turn.now.astimezone(turn.deps.settings.timezone).date()


async def _refused(turn: Turn, error: DomainError) -> bool:
    """Say why a return cannot start (or go on); False if the error is not one of these."""
    if isinstance(error, returns.NoProducts):
        text = return_views.no_products(turn._)
    elif isinstance(error, returns.UnknownSaleDate):
        text = return_views.unknown_date(turn._, error.product)
    elif isinstance(error, returns.AlreadyOpen):
        text = return_views.already_open(turn._, error.request)
    else:
        return False
    await turn.reply(text)
    return True


async def start_from_request(turn: Turn, request: ServiceRequest) -> None:
    """“↩️ Return or exchange” on the customer's request card (ownership checked again)."""
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        draft, resumed = await returns.start_from_request(turn.uow, turn.user, customer, request.id, turn.now)
    except (NotAllowed, NotFound):
        await turn.answer(return_views.not_from_this_request(turn._), alert=True)
        return
    except DomainError as error:
        if await _refused(turn, error):
            return
        raise
    await _show(turn, draft, resumed=resumed)


async def open_from_intake(turn: Turn) -> None:
    """"Return / exchange" chosen in /new by a customer with registered products."""
    customer = await users.customer_of(turn.uow, turn.user)
    started = await returns.start_from_intake(turn.uow, turn.user, customer, turn.now)
    if started is None:  # their products went meanwhile: the plain intake goes on
        await intake_handlers.open_intake(turn)
        return
    draft, resumed = started
    await _show(turn, draft, resumed=resumed)


async def _leave_to_intake(turn: Turn, draft: Draft, *, unlisted: bool) -> None:
    """Back to /new's types, or on to /new's own questions for a product not in the list."""
    await dialogs.end(turn.uow, draft)
    if unlisted:
        await intake_handlers.prompt(turn, await intake.start_as(turn.uow, turn.user, "return", turn.now))
    else:
        await intake_handlers.open_intake(turn)


async def on_product_button(turn: Turn, payload: ReturnProductButton) -> None:
    """“↩️ Return or exchange” under a product in /products."""
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        draft, resumed = await returns.start_from_product(turn.uow, turn.user, customer, payload.product_id, turn.now)
    except NotFound:
        await turn.audit("foreign_product_button", data=payload.pack())
        await turn.answer(turn._("This button is no longer valid."), alert=True)
        return
    except DomainError as error:
        if await _refused(turn, error):
            return
        raise
    await _show(turn, draft, resumed=resumed)


async def _show(turn: Turn, draft: Draft, *, resumed: bool = False) -> None:
    """Render the step the draft is at (`resumed`: saying it goes on where it stopped)."""
    if resumed:
        await turn.reply(return_views.resumed(turn._))
    customer = await users.customer_of(turn.uow, turn.user)
    if draft.step == returns.PRODUCT:
        await turn.reply(return_views.prompt(turn._, draft, products=await returns.products_offered(turn.uow, customer)))
        return
    if draft.step == returns.CONFIRM:
        product, proposal = await returns.preview(turn.uow, turn.deps.policy, customer, draft, _today(turn))
        await turn.reply(return_views.prompt(turn._, draft, product=product, proposal=proposal))
        return
    product = await turn.uow.products.get(draft.data["product_id"])
    await turn.reply(return_views.prompt(turn._, draft, product=product))


async def on_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """Only the description is typed; elsewhere the buttons are the answer."""
    if draft.step != returns.DESCRIPTION:
        await turn.reply(return_views.reask_buttons(turn._))
        return
    if not isinstance(message, TextInput):
        await turn.reply(return_views.reask_description(turn._, draft))
        return
    try:
        returns.describe(draft, message.text, turn.now)
    except WrongInput:
        await turn.reply(return_views.reask_description(turn._, draft))
        return
    except TooLong as error:
        await turn.reply(input_error(turn._, error))
        return
    await _show(turn, draft)


async def on_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    """Product, reason, back and send; each re-checks the product and the windows."""
    customer = await users.customer_of(turn.uow, turn.user)
    try:
        if payload.action == "product":
            await returns.choose_product(turn.uow, customer, draft, payload.value, turn.now)
        elif payload.action == "reason":
            await returns.choose_reason(turn.uow, turn.deps.policy, customer, draft, payload.value, _today(turn), turn.now)
        elif payload.action in ("back", "unlisted") and returns.back_to_intake(draft):
            await turn.edit_off()
            await _leave_to_intake(turn, draft, unlisted=payload.action == "unlisted")
            return
        elif payload.action == "back":
            returns.back(draft, turn.now)
        elif payload.action == "skip":
            returns.skip_description(draft, turn.now)
        elif payload.action == "send":
            await _send(turn, draft, customer)
            return
        else:
            raise StaleAction()
    except returns.NotReturnable as refused:
        product = await turn.uow.products.get(draft.data["product_id"])
        await turn.answer()
        await turn.reply(return_views.not_returnable(turn._, refused.proposal, product))
        return
    except NotFound:
        await dialogs.end(turn.uow, draft)
        await turn.edit_off()
        await turn.reply(turn._("This button is no longer valid."))
        return
    except (returns.NoProducts, returns.UnknownSaleDate, returns.AlreadyOpen) as error:
        await dialogs.end(turn.uow, draft)
        await turn.edit_off()
        await _refused(turn, error)
        return
    await turn.edit_off()
    await _show(turn, draft)


async def go_back(turn: Turn, draft: Draft) -> None:
    if returns.back_to_intake(draft):
        await _leave_to_intake(turn, draft, unlisted=False)
        return
    returns.back(draft, turn.now)
    await _show(turn, draft)


async def _send(turn: Turn, draft: Draft, customer) -> None:
    staff_ = Translator(turn.deps.settings.default_language, turn.deps.settings.timezone)
    try:
        filed = await returns.submit(
            turn.uow, turn.deps.policy, turn.user, customer, draft, turn.now, turn.deps.settings.timezone,
            lambda proposal, product: return_views.approval_reason(staff_, proposal, product)
        )
    except returns.NotReturnable as refused:  # the window closed while the dialog waited
        product = await turn.uow.products.get(draft.data["product_id"])
        await turn.edit_off()
        await turn.reply(return_views.not_returnable(turn._, refused.proposal, product))
        await _show(turn, draft)
        return
    reached = await approval_handlers.post_to_approvers(turn, filed.approval, filed.request)  # queued with the request
    await notify_dispatchers(turn, filed.request)
    await turn.uow.commit()  # the request and its approval exist before anyone is told
    await turn.edit_off()
    await turn.reply(main_menu_view(turn._, return_views.filed(turn._, filed.request, filed.proposal, reached)))


# --- after the service manager's decision -----------------------------------------------------


async def after_decision(turn: Turn, request: ServiceRequest, _approval: Approval) -> None:
    """Approved: the customer gets the shipping instructions and the warehouse the tracking card.
    Rejected: the customer is told the reason."""
    case = await turn.uow.returns.of_request(request.id)
    if case is None or case.state not in (returns.APPROVED, returns.REJECTED):
        return
    customer = await turn.uow.customers.get(request.customer_id)
    person = await returns.customer_user(turn.uow, customer)
    if case.state == returns.REJECTED:
        if person is not None:
            await turn.notify(person, return_views.rejected_for_customer(turn.translator_for(person), case, request))
        return
    if person is not None:
        product = await turn.uow.products.get(case.product_id) if case.product_id else None
        _ = turn.translator_for(person)
        await turn.notify(person, return_views.shipping_instructions(_, case, request, product, turn.deps.policy.returns))
    for tracker in await returns.trackers(turn.uow):
        _ = turn.translator_for(tracker)
        tracked = await returns.tracked(turn.uow, tracker, case.id)
        await turn.notify_view(tracker, return_views.tracking_card(_, tracked, return_views.approved_note(_)))


approval_handlers.FOLLOW_UPS["return"] = after_decision


async def awaited_product(turn: Turn, request: ServiceRequest) -> int | None:
    """The return of this request whose product the warehouse expects (approved, its tracking
    card is out), read before the request ends: `tell_trackers_not_coming` after."""
    case = await turn.uow.returns.of_request(request.id)
    return case.id if case is not None and case.state == returns.APPROVED else None


async def tell_trackers_not_coming(turn: Turn, return_id: int | None) -> None:
    """The request ended before the product was sent: whoever tracks returns gets the card again,
    as it is now (no "Product received" on it), saying the product is not coming. Before the commit."""
    if return_id is None:
        return
    for tracker in await returns.trackers(turn.uow):
        tracked = await returns.tracked(turn.uow, tracker, return_id)
        if tracked.case.state != returns.CANCELLED:
            return
        _ = turn.translator_for(tracker)
        await turn.notify_view(tracker, return_views.tracking_card(_, tracked, return_views.not_coming_note(_, tracked.request)))


async def queue_not_coming(uow: UnitOfWork, deps: Deps, request: ServiceRequest, now: datetime, *, not_before: datetime | None = None) -> None:
    """`tell_trackers_not_coming` for a sweep, which has no update: a request the sweep ended
    (closed by the confirmation timeout) whose approved return was cancelled with it, the
    product never received. Keyed per return and person, so a second sweep adds nothing."""
    case = await uow.returns.of_request(request.id)
    if case is None or case.state != returns.CANCELLED or case.received_at is not None:
        return
    if not any(a.kind == "return" and a.status == approvals.APPROVED for a in await uow.approvals.of_request(request.id)):
        return  # never approved: the warehouse had no card, and waited for nothing
    for tracker in await returns.trackers(uow):
        tracked = await returns.tracked(uow, tracker, case.id)
        _ = Translator(tracker.language, deps.settings.timezone)
        view = return_views.tracking_card(_, tracked, return_views.not_coming_note(_, tracked.request))
        await notices.queue(uow, tracker, notices.VIEW, view.to_payload(), f"return_not_coming:{case.id}:{tracker.id}", now, not_before=not_before)


# --- staff track the product ------------------------------------------------------------------


@handler
async def cmd_returns(turn: Turn) -> None:
    """/returns: each return waiting on the warehouse as its tracking card, longest-waiting first."""
    try:
        cards, total = await returns.in_hand(turn.uow, turn.user)
    except NotAllowed:
        await turn.reply(turn._("This command is for the warehouse and the service manager."))
        return
    if not cards:
        await turn.reply(return_views.in_hand_empty(turn._))
    for tracked in cards:
        await turn.reply(return_views.tracking_card(turn._, tracked))
    if total > len(cards):
        await turn.reply(return_views.in_hand_more(turn._, len(cards), total))


async def on_return_button(turn: Turn, payload: ReturnButton) -> None:
    """Open the tracking card, or move the return one step; the customer is told each step."""
    try:
        if payload.action == "open":
            await turn.edit(return_views.tracking_card(turn._, await returns.tracked(turn.uow, turn.user, payload.return_id)))
            return
        tracked = await returns.advance(turn.uow, turn.user, payload.return_id, payload.action, turn.now)
    except returns.AlreadyMoved as moved:
        await turn.audit("return_late_press", data=payload.pack(), state=moved.case.state)
        await turn.answer(return_views.already_moved(turn._, moved.case), alert=True)
        # the card pressed is out of date: it shows the return as it is now, with its buttons
        await turn.edit(return_views.tracking_card(turn._, await returns.tracked(turn.uow, turn.user, payload.return_id)))
        return
    except quotes.PaymentPending:
        await turn.answer(return_views.payment_pending(turn._), alert=True)
        return
    except (NotAllowed, NotFound):
        await turn.audit("return_not_allowed", data=payload.pack())
        await turn.answer(turn._("This button is no longer valid."), alert=True)
        return
    person = await returns.customer_user(turn.uow, tracked.customer)
    if person is not None:
        await turn.notify(person, return_views.step_for_customer(turn.translator_for(person), tracked.case, tracked.request))
    if await returns.quote_needed(turn.uow, tracked):
        for dispatcher in await requests.dispatchers(turn.uow):
            await turn.notify_view(dispatcher, return_views.quote_needed(turn.translator_for(dispatcher), tracked.request), for_role=ROLE_DISPATCHER)
    await approval_handlers.tell_requesters_withdrawn(turn, list(tracked.withdrawn))  # a fee waiver, a requisition: over with the request
    await turn.uow.commit()  # recorded, with the customer's and dispatchers' notices, before anyone is told
    note = return_views.step_note(turn._, tracked.case, return_views.actor_name(turn.user))
    await turn.answer(note)
    await turn.edit(return_views.tracking_card(turn._, tracked, note))
    await approval_handlers.show_withdrawn(turn, list(tracked.withdrawn))
