"""/start, /help, /language, /cancel and the answers to commands we do not know."""
from __future__ import annotations

from bot import menus, views
from bot.callbacks import LanguageButton
from bot.keyboards import languages
from bot.services import dialogs, intake, requests, users
from bot.services import staff as staff_service
from bot.services.errors import InvalidValue
from handlers import onboarding
from handlers import intake as intake_handlers
from handlers import staff as staff_handlers
from handlers.common import Turn, handler


@handler
async def cmd_start(turn: Turn) -> None:
    """Greet in the user's language; a new customer is asked for their details.

    `/start inv_<code>` (an invite deep link) enrols a staff member instead.
    """
    args = turn.context.args or []
    if args and args[0].startswith(staff_service.INVITE_PREFIX):
        await staff_handlers.join_by_invite(turn, args[0][len(staff_service.INVITE_PREFIX):])
        return
    staff = users.is_staff(turn.user)
    await turn.reply(views.greeting(turn._, turn.user.first_name, staff=staff, roles=turn.user.role_names))
    if staff:  # Telegram refused it at start-up to a bootstrap admin who had never written (no chat yet)
        await menus.apply_for(turn.bot, turn.user, turn._)
    draft = await dialogs.current(turn.uow, turn.user.id)
    if draft is not None and draft.kind == requests.COMMENT_DIALOG:
        # Starting over ends comment mode (what was sent is kept): the next message must not
        # reach the staff as a comment on a request the person has left.
        await dialogs.end(turn.uow, draft)
    elif draft is not None and draft.kind == intake.INTAKE:
        await intake_handlers.open_intake(turn)  # resumes where they stopped
    elif draft is not None:
        await remind_unfinished(turn)
    elif not staff and await users.customer_of(turn.uow, turn.user) is None:
        await onboarding.begin(turn)


@handler
async def cmd_help(turn: Turn) -> None:
    await turn.reply(views.help_text(turn._, staff=users.is_staff(turn.user), roles=turn.user.role_names))
    await remind_unfinished(turn)


@handler
async def cmd_language(turn: Turn) -> None:
    await show_languages(turn)


async def show_languages(turn: Turn) -> None:
    await turn.reply(views.View(views.language_prompt(turn._), languages()))


async def on_language(turn: Turn, payload: LanguageButton) -> None:
    try:
        await users.set_language(turn.user, payload.language)
    except InvalidValue:
        await turn.audit("forged_button", data=payload.pack())
        await turn.answer(turn._("This button is no longer valid."), alert=True)
        return
    turn.refresh_language()
    await turn.edit_off()
    saved = views.language_saved(turn._)
    if await dialogs.current(turn.uow, turn.user.id) is not None:
        saved = views.View(saved.text)  # a step in progress keeps its own keyboard (e.g. 📍 Send my location)
    await turn.reply(saved)
    await menus.apply_for(turn.bot, turn.user, turn._)  # the command menu speaks it too
    await remind_unfinished(turn)


@handler
async def cmd_cancel(turn: Turn) -> None:
    """/cancel works anywhere: it drops the dialog in progress, if any."""
    draft = await dialogs.current(turn.uow, turn.user.id)
    if draft is None:
        await turn.reply(views.main_menu_view(turn._, turn._("There is nothing to cancel.")))
        return
    await dialogs.end(turn.uow, draft)
    await turn.reply(views.dialog_cancelled(turn._, draft.kind))


@handler
async def on_unknown_command(turn: Turn) -> None:
    await turn.reply(turn._("I don't know that command. See /help for what I can do."))
    await remind_unfinished(turn)


@handler
async def on_edited_message(turn: Turn) -> None:
    """Edits change nothing already taken or passed on; say so instead of ignoring them (a
    customer correcting a phone number in a sent comment would think the staff see it). A live
    location moving is an edit too, every few seconds for hours: that is not answered."""
    edited = turn.update.edited_message
    if edited is None or edited.location is not None:
        return
    draft = await dialogs.current(turn.uow, turn.user.id)
    if draft is not None and draft.kind == intake.INTAKE:
        await turn.reply(turn._("I only read new messages, not edits. If something needs correcting, send it again, or use “Edit” on the summary."))
    else:
        await turn.reply(turn._("I only read new messages, not edits: your change was not passed on. Please send the correction as a new message."))


async def remind_unfinished(turn: Turn) -> None:
    """Say what the next message will go to when a dialog is open."""
    draft = await dialogs.current(turn.uow, turn.user.id)
    if draft is None:
        return
    if draft.kind == users.ONBOARDING:  # ask the question again, in the new language
        await turn.reply(views.onboarding_prompt(turn._, draft, turn.user.first_name))
    elif draft.kind == intake.INTAKE:  # its question again, in the language now chosen
        await turn.reply(turn._("You have an unfinished request; answer the question below to go on, or send /cancel to drop it."))
        await intake_handlers.prompt(turn, draft)
    else:
        await turn.reply(turn._("You are in the middle of a step: what you send next continues it. Send /cancel to stop it."))
