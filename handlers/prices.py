"""/price for finance (and admins): change a spare part's catalog price, with a confirmation card.

`/price`, `/price CODE` or `/price CODE 35.50` start the dialog at the step the arguments reach.
Typed text at the card is a new price; the card's ✅ calls bot/services/prices.py, which checks the
role and the price shown again.
"""
from __future__ import annotations

from bot import price_views
from bot.callbacks import DialogButton
from bot.services import dialogs, prices
from bot.services.errors import InvalidValue, NotAllowed, NotFound, StaleAction, TooLong, WrongInput
from bot.services.inputs import TextInput, UserInput
from handlers.common import Turn, handler
from storage.models import Draft

REFUSED_AUDIT = "price_button_refused"


@handler
async def cmd_price(turn: Turn) -> None:
    try:
        draft = await prices.start(turn.uow, turn.user, turn.now)
    except NotAllowed:
        await turn.reply(price_views.not_allowed(turn._))
        return
    args = turn.context.args or []
    if not args:
        await turn.reply(price_views.code_prompt(turn._, draft))
        return
    if await _pick(turn, draft, args[0]) and len(args) > 1:
        await _propose(turn, draft, " ".join(args[1:]))


async def on_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """A code at the first step; a price at the second, and at the card (a corrected price)."""
    if not isinstance(message, TextInput):
        await turn.reply(price_views.text_please(turn._, draft))
    elif draft.step == prices.CODE_STEP:
        await _pick(turn, draft, message.text)
    else:
        await _propose(turn, draft, message.text)


async def _pick(turn: Turn, draft: Draft, text: str) -> bool:
    try:
        part = await prices.pick_part(turn.uow, turn.user, draft, text, turn.now)
    except NotAllowed:
        await _no_longer_allowed(turn, draft)
    except WrongInput:
        await turn.reply(price_views.text_please(turn._, draft))
    except TooLong as refused:
        await turn.reply(price_views.too_long(turn._, draft, refused.limit))
    except NotFound:
        await turn.reply(price_views.code_not_found(turn._, draft, text.strip()))
    else:
        await turn.reply(price_views.price_prompt(turn._, draft, part))
        return True
    return False


async def _propose(turn: Turn, draft: Draft, text: str) -> None:
    try:
        proposal = await prices.propose(turn.uow, turn.user, draft, text, turn.now)
    except NotAllowed:
        await _no_longer_allowed(turn, draft)
    except (WrongInput, InvalidValue):
        await turn.reply(price_views.bad_price(turn._, draft))
    except TooLong as refused:
        await turn.reply(price_views.too_long(turn._, draft, refused.limit))
    except NotFound:
        await dialogs.end(turn.uow, draft)
        await turn.reply(price_views.part_gone(turn._))
    else:
        await turn.reply(price_views.card(turn._, draft, proposal))


async def _no_longer_allowed(turn: Turn, draft: Draft) -> None:
    await dialogs.end(turn.uow, draft)
    await turn.reply(price_views.not_allowed(turn._))


async def on_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    """✅, Back or Cancel (the router checked that the button is of this draft's current step)."""
    if payload.action == price_views.STOP:
        await dialogs.end(turn.uow, draft)
        await turn.edit(price_views.cancelled(turn._))
    elif payload.action == price_views.BACK:
        await turn.edit_off()
        await go_back(turn, draft)
    elif payload.action == price_views.CHANGE and payload.value.isdigit():
        await _change(turn, draft, payload)
    else:
        raise StaleAction()


async def _change(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    try:
        change = await prices.confirm(turn.uow, turn.user, draft, int(payload.value), turn.now)
    except NotAllowed:
        await turn.audit(REFUSED_AUDIT, data=payload.pack())
        await dialogs.end(turn.uow, draft)
        await turn.edit(price_views.refused(turn._))
    except prices.PriceChanged as refused:
        await turn.edit(price_views.changed_meanwhile(turn._, refused))
    except NotFound:
        await turn.edit(price_views.part_gone(turn._))
    else:
        await turn.edit(price_views.changed(turn._, change))


async def go_back(turn: Turn, draft: Draft) -> None:
    """Back from the card to the price, from the price to the code (the typed ⬅️ Back too)."""
    step = prices.back(draft, turn.now)
    if step == prices.CODE_STEP:
        await turn.reply(price_views.code_prompt(turn._, draft))
        return
    try:
        part = await prices.part_of(turn.uow, draft)
    except NotFound:
        await dialogs.end(turn.uow, draft)
        await turn.reply(price_views.part_gone(turn._))
        return
    await turn.reply(price_views.price_prompt(turn._, draft, part))
