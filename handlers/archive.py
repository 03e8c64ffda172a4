"""/archive for dispatchers and managers: find a customer or project, get its service archive
as an XLSX document. The rules (who may, what is in it) are in bot/services/archive.py."""
from __future__ import annotations

import asyncio

from telegram import InputFile
from telegram.constants import ChatAction, ParseMode

from bot import archive_views, views
from bot.callbacks import DialogButton
from bot.services import archive, dialogs
from bot.services.errors import NotAllowed, StaleAction, TooLong, WrongInput
from bot.services.inputs import TextInput, UserInput
from handlers.common import Turn, handler
from storage.models import Draft


@handler
async def cmd_archive(turn: Turn) -> None:
    """/archive [text]: start the search (and run it at once when text is given)."""
    try:
        draft = await archive.start(turn.uow, turn.user, turn.now)
    except NotAllowed:
        await turn.reply(archive_views.not_allowed(turn._))
        return
    text = " ".join(turn.context.args or [])
    if text.strip():
        await _search(turn, draft, text)
        return
    await turn.reply(archive_views.search_prompt(turn._, draft))


async def on_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    """Any text is a (new) search; anything else is asked again."""
    if not isinstance(message, TextInput):
        await turn.reply(archive_views.search_prompt(turn._, draft))
        return
    await _search(turn, draft, message.text)


async def _search(turn: Turn, draft: Draft, text: str) -> None:
    try:
        result = await archive.search(turn.uow, turn.user, draft, text, turn.now)
    except NotAllowed:  # lost the role while the dialog was open
        await dialogs.end(turn.uow, draft)
        await turn.reply(archive_views.not_allowed(turn._))
        return
    except WrongInput:
        await turn.reply(archive_views.query_too_short(turn._, draft))
        return
    except TooLong as error:
        await turn.reply(views.input_error(turn._, error))
        return
    await turn.reply(archive_views.search_result(turn._, draft, result))


async def on_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    """A customer or project picked: read everything, close the transaction, then send the file.
    A press that names nothing of the latest list raises StaleAction (the router audits it)."""
    if payload.action not in (archive.CUSTOMER, archive.PROJECT):
        raise StaleAction()
    data = await archive.export(turn.uow, turn.user, draft, payload.action, payload.value, turn.now)
    today = turn.now.astimezone(turn.deps.settings.timezone).date()
    await turn.uow.commit()  # the audit row is kept, and no transaction stays open while Telegram answers
    await turn.answer(archive_views.preparing(turn._))
    await turn.edit_off()
    chat_id = turn.update.effective_chat.id
    await turn.bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT)
    content = await asyncio.to_thread(archive_views.workbook, turn._, data)  # keep the bot responsive
    await turn.bot.send_document(
        chat_id, InputFile(content, filename=archive.file_name(data, today)),
        caption=archive_views.caption(turn._, data), parse_mode=ParseMode.HTML,
    )
