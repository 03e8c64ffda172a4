"""The product registry: admins' /import, customers' /products and claims, dispatchers' verdicts."""
from __future__ import annotations

import asyncio

from telegram.error import TelegramError

from bot import registry_views, stock_views, views
from bot.callbacks import ClaimButton, DialogButton, ProductsButton
from bot.services import dialogs, registry, requests, users
from bot.services.errors import InvalidValue, LimitReached, NotAllowed, NotFound, TooLong
from bot.services.inputs import DocumentInput, TextInput, UserInput
from bot.services.users import ROLE_DISPATCHER
from bot.telegram_text import shorten
from handlers import onboarding
from handlers.common import Turn, handler
from storage.models import Draft, ProductClaim


def _today(turn: Turn):
    return turn.now.astimezone(turn.deps.settings.timezone).date()


async def _refuse_button(turn: Turn, data: str) -> None:
    await turn.audit("not_allowed_button", data=data)
    await turn.answer(turn._("This button is no longer valid."), alert=True)


# --- admin: /import -----------------------------------------------------------------------


@handler
async def cmd_import(turn: Turn) -> None:
    """/import: ask an admin for the registry or parts file (a one-step dialog with Cancel)."""
    if not registry.is_admin(turn.user):
        await turn.reply(turn._("Only an admin can do that."))
        return
    draft = await dialogs.begin(turn.uow, turn.user.id, registry.IMPORT_DIALOG, registry.FILE_STEP, {}, turn.now)
    await turn.reply(registry_views.import_prompt(turn._, draft))


async def on_import_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """The file: checked, downloaded and parsed; imported only when every row is valid."""
    if not isinstance(message, DocumentInput):
        await turn.reply(registry_views.file_wanted(turn._, draft))
        return
    if not registry.is_admin(turn.user):  # deactivated since the dialog began
        await dialogs.end(turn.uow, draft)
        await turn.reply(turn._("Only an admin can do that."))
        return
    try:
        registry.check_document(message.file_name, message.file_size)
        data = await _download(turn, message.file_id)
        parsed = await asyncio.to_thread(registry.parse_file, message.file_name, data)  # keep the bot responsive
    except registry.FileRefused as refused:
        await turn.reply(registry_views.file_refused(turn._, refused, draft))
        return
    except TelegramError:
        await turn.reply(registry_views.download_failed(turn._, draft))
        return
    if parsed.errors:
        await turn.reply(registry_views.import_errors(turn._, parsed, draft))
        return
    result = await registry.import_file(turn.uow, turn.user, parsed, turn.now, alert_at=turn.deps.planner.staff_time(turn.now, urgent=False))
    await dialogs.end(turn.uow, draft)
    text = registry_views.import_done(turn._, result, parsed.ignored)
    if result.stock_changed or result.warehouses_added:
        text += "\n" + stock_views.import_stock_line(turn._, result.stock_changed, result.warehouses_added)
    await turn.reply(views.main_menu_view(turn._, text))


async def _download(turn: Turn, file_id: str) -> bytes:
    file = await turn.bot.get_file(file_id)
    return bytes(await file.download_as_bytearray())


async def on_import_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    raise NotAllowed()  # only Cancel exists here, and the router handles it


# --- customers: /products and claims ------------------------------------------------------


@handler
async def cmd_products(turn: Turn) -> None:
    """/products and the menu button: the customer's registered products."""
    await show_products(turn)


async def show_products(turn: Turn) -> None:
    try:
        mine = await registry.my_products(turn.uow, turn.user, _today(turn))
    except NotAllowed:
        await onboarding.begin(turn, then=users.THEN_PRODUCTS)  # products belong to a customer profile: create it first
        return
    await turn.reply(registry_views.products_view(turn._, mine))


async def on_products_button(turn: Turn, payload: ProductsButton) -> None:
    """“Claim a product by serial” under the product list opens the claim dialog."""
    if payload.action != "claim":
        await turn.audit("forged_button", data=payload.pack())
        await turn.answer(turn._("This button is no longer valid."), alert=True)
        return
    if await turn.uow.customers.by_user_id(turn.user.id) is None:
        await onboarding.begin(turn, then=users.THEN_PRODUCTS)
        return
    draft = await dialogs.begin(turn.uow, turn.user.id, registry.CLAIM_DIALOG, registry.SERIAL_STEP, {}, turn.now)
    await turn.reply(registry_views.claim_prompt(turn._, draft))


async def on_claim_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """The serial typed in the claim dialog; a bad or unknown one is asked again."""
    if not isinstance(message, TextInput):
        await turn.reply(registry_views.claim_input_error(turn._, "text", draft))
        return
    try:
        outcome = await registry.claim_product(turn.uow, turn.user, message.text, turn.now)
    except TooLong as error:
        await turn.reply(registry_views.claim_input_error(turn._, "too_long", draft, limit=error.limit))
        return
    except InvalidValue:
        await turn.reply(registry_views.claim_input_error(turn._, "serial", draft))
        return
    except NotFound:
        await turn.reply(registry_views.claim_unknown(turn._, shorten(message.text.strip().upper(), 40), draft))
        return
    except (registry.Throttled, LimitReached, NotAllowed) as error:
        await dialogs.end(turn.uow, draft)
        await turn.reply(_claim_refusal(turn, error))
        return
    await dialogs.end(turn.uow, draft)
    if outcome.result == registry.CLAIM_SENT:  # queued with the claim, sent once it is committed
        await _tell_dispatchers(turn, outcome.claim)
    await turn.reply(views.main_menu_view(turn._, registry_views.claim_result(turn._, outcome)))


def _claim_refusal(turn: Turn, error: Exception) -> str:
    if isinstance(error, registry.Throttled):
        return registry_views.claim_throttled(turn._)
    if isinstance(error, LimitReached):
        return registry_views.claim_limit(turn._, error.limit)
    return turn._("Please register first: send /start.")


async def on_claim_dialog_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    raise NotAllowed()  # only Cancel exists here, and the router handles it


async def _tell_dispatchers(turn: Turn, claim: ProductClaim) -> None:
    card = await registry.claim_card(turn.uow, claim)
    for dispatcher in await requests.dispatchers(turn.uow):
        await turn.notify_view(dispatcher, registry_views.claim_for_dispatcher(turn.translator_for(dispatcher), card), for_role=ROLE_DISPATCHER)


# --- dispatchers: confirm or reject a claim -----------------------------------------------


async def on_claim_button(turn: Turn, payload: ClaimButton) -> None:
    """Decided once; the service re-checks that the presser is an active dispatcher."""
    if payload.action not in ("confirm", "reject"):
        await _refuse_button(turn, payload.pack())
        return
    try:
        decision = await registry.decide_claim(turn.uow, turn.user, payload.claim_id, payload.action == "confirm", turn.now)
    except registry.AlreadyDecided as lost:
        await turn.answer(registry_views.already_decided(turn._, lost.claim, lost.decided_by), alert=True)
        await turn.edit(registry_views.claim_decided(turn._, await registry.claim_card(turn.uow, lost.claim), lost.decided_by))
        return
    except (NotAllowed, NotFound):
        await _refuse_button(turn, payload.pack())
        return
    card = decision.card
    for told in (card, *[await registry.claim_card(turn.uow, other) for other in decision.superseded]):
        claimant = await turn.uow.users.get(told.claimant.user_id) if told.claimant.user_id else None
        if claimant is not None:
            await turn.notify(claimant, registry_views.claim_outcome_for_customer(turn.translator_for(claimant), told))
    previous = decision.previous_owner
    person = await turn.uow.users.get(previous.user_id) if previous is not None and previous.user_id else None
    if person is not None:
        await turn.notify(person, registry_views.ownership_moved_for_customer(turn.translator_for(person), card.product))
    await turn.uow.commit()  # the decision and its notice stand before anyone is told
    await turn.edit(registry_views.claim_decided(turn._, card, turn.user))
