"""/sell: a salesperson files a request for a customer; it reaches the queue once approved."""
from __future__ import annotations

from bot import sales_views
from bot.callbacks import DialogButton
from bot.labels import CLOCK_LABELS
from bot.services import sales
from bot.services.errors import InvalidValue, NotAllowed, StaleAction, TooLong, WrongInput
from bot.services.inputs import ContactInput, TextInput, UserInput
from bot.views import input_error
from handlers import approvals as approval_handlers
from handlers.common import Turn, handler
from handlers.intake import notify_dispatchers
from storage.models import Approval, Draft, ServiceRequest


@handler
async def cmd_sell(turn: Turn) -> None:
    """/sell: a request for a customer, or the form the salesperson was filling, where it stopped."""
    try:
        draft, resumed = await sales.start(turn.uow, turn.user, turn.now)
    except NotAllowed:
        await turn.reply(sales_views.not_sales(turn._))
        return
    if resumed:
        await turn.reply(sales_views.resumed(turn._))
    await _prompt(turn, draft)


async def _prompt(turn: Turn, draft: Draft) -> None:
    """The current step's question; the summary names a known customer the phone files it for."""
    known = await sales.known_customer(turn.uow, draft) if draft.step == sales.REVIEW else None
    await turn.reply(sales_views.prompt(turn._, draft, known))


async def on_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    if not isinstance(message, (TextInput, ContactInput)):
        await turn.reply(sales_views.reask(turn._, draft))
        return
    try:
        if isinstance(message, ContactInput):
            sales.share_contact(draft, message.phone, turn.now)
        else:
            sales.type_text(draft, message.text, turn.now)
    except (WrongInput, InvalidValue):
        await turn.reply(sales_views.reask(turn._, draft))
        return
    except TooLong as error:
        await turn.reply(input_error(turn._, error))
        return
    await _prompt(turn, draft)


async def on_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    if payload.action == "kind":
        sales.choose_kind(draft, payload.value, turn.now)
    elif payload.action == "skip":
        sales.skip_product(draft, turn.now)
    elif payload.action == "back":
        sales.back(draft, turn.now)
    elif payload.action == "send":
        await _send(turn, draft)
        return
    else:
        raise StaleAction()
    await turn.edit_off()
    await _prompt(turn, draft)


async def go_back(turn: Turn, draft: Draft) -> None:
    sales.back(draft, turn.now)
    await _prompt(turn, draft)


async def _send(turn: Turn, draft: Draft) -> None:
    filed = await sales.submit(turn.uow, turn.deps.policy, turn.user, draft, turn.now, turn.deps.settings.timezone)
    reached = await approval_handlers.post_to_approvers(turn, filed.approval, filed.request)  # queued with the request
    await turn.uow.commit()  # registered before any approver is told
    await turn.edit_off()
    await turn.reply(sales_views.filed(turn._, filed.request, reached))


async def after_decision(turn: Turn, request: ServiceRequest, _approval: Approval) -> None:
    """Approved at the last step: the dispatchers get it like any new request, the customer is told."""
    if request.status != "new":
        return
    await notify_dispatchers(turn, request)
    customer = await turn.uow.customers.get(request.customer_id)
    person = await turn.uow.users.get(customer.user_id) if customer.user_id else None
    if person is not None:
        promise = next((c for c in await turn.uow.requests.clocks(request.id) if c.kind in CLOCK_LABELS and c.stopped_at is None), None)
        await turn.notify_view(person, sales_views.for_customer(turn.translator_for(person), request, promise))


approval_handlers.FOLLOW_UPS["sales_request"] = after_decision
