"""/erase for admins: erase a customer's personal data on their request, from the chat.

A dialog (a `drafts` row, so a restart in the middle loses nothing): the phone or request number
is asked, a card names the customer (or lists every record with that phone), and "Erase" on that
card calls bot/services/erasure.py, which checks the admin role again. The button only says which
card was pressed.
"""
from __future__ import annotations

from bot import erasure_views
from bot.callbacks import DialogButton
from bot.services import dialogs, erasure
from bot.services.errors import NotAllowed, NotFound, StaleAction, TooLong, WrongInput
from bot.services.inputs import TextInput, UserInput
from handlers.common import Turn, handler
from storage.models import Draft

REFUSED_AUDIT = "erase_button_refused"


@handler
async def cmd_erase(turn: Turn) -> None:
    """/erase [phone or request number]: ask for the customer, or look them up at once."""
    try:
        draft = await erasure.start(turn.uow, turn.user, turn.now)
    except NotAllowed:
        await turn.reply(erasure_views.not_allowed(turn._))
        return
    reference = " ".join(turn.context.args or [])
    if reference.strip():
        await _look_up(turn, draft, reference)
        return
    await turn.reply(erasure_views.prompt(turn._, draft))


async def on_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """Typed text is a (new) reference, also while a card is shown; anything else is asked again."""
    if not isinstance(message, TextInput):
        await turn.reply(erasure_views.text_please(turn._, draft))
        return
    await _look_up(turn, draft, message.text)


async def _look_up(turn: Turn, draft: Draft, text: str) -> None:
    try:
        found, draft = await erasure.look_up(turn.uow, turn.user, draft, text, turn.now)
    except WrongInput:
        await turn.reply(erasure_views.text_please(turn._, draft))
    except TooLong:
        await turn.reply(erasure_views.too_long(turn._, draft))
    except NotFound:
        await turn.reply(erasure_views.not_found(turn._, draft, text))
    except NotAllowed as refused:
        if str(refused) == "staff":
            await turn.reply(erasure_views.staff_refused(turn._, draft))
        else:  # no longer an admin while the dialog was open
            await dialogs.end(turn.uow, draft)
            await turn.reply(erasure_views.not_allowed(turn._))
    else:
        await turn.reply(erasure_views.card(turn._, draft, found))


async def on_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    """Erase, Back or Cancel on the current card or question (the router checked draft and step)."""
    if payload.action == erasure_views.STOP:
        await dialogs.end(turn.uow, draft)
        await turn.edit(erasure_views.cancelled(turn._))
    elif payload.action == erasure_views.BACK:
        await turn.edit_off()
        await go_back(turn, draft)
    elif payload.action == erasure_views.ERASE:
        await _erase(turn, draft, payload)
    else:
        raise StaleAction()


async def _erase(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    try:
        results = await erasure.confirm(turn.uow, turn.user, draft, payload.value, turn.now)
    except NotAllowed as refused:
        reason = str(refused) or "erase"
        # Customers other than those on the card, or a presser who is no admin (any more): never trusted.
        await turn.audit(REFUSED_AUDIT, data=payload.pack(), reason=reason, shown=draft.data.get("customer_ids"))
        if reason == "not_shown":
            await turn.answer(turn._("This button is no longer valid."), alert=True)
            return
        await dialogs.end(turn.uow, draft)
        await turn.edit(erasure_views.refused(turn._, reason))
        return
    except NotFound:
        await dialogs.end(turn.uow, draft)
        raise StaleAction() from None
    await turn.edit(erasure_views.done(turn._, results))


async def go_back(turn: Turn, draft: Draft) -> None:
    """From the card back to the question; the question itself has nothing before it."""
    if draft.step != erasure.CONFIRM:
        raise StaleAction()
    erasure.back_to_question(draft, turn.now)
    await turn.reply(erasure_views.prompt(turn._, draft))
