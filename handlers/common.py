"""What every handler shares: dependencies, the per-update `Turn`, and safe sending.

`@handler` opens one unit of work per update, drops duplicate deliveries by update id,
loads the user, runs the handler and commits once; an exception rolls everything back.
"""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardMarkup, InputMediaPhoto, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bot import menus
from bot.clock import Clock
from bot.config import Settings
from bot.flood import Notification
from bot.i18n import Translator, language_from_telegram
from bot.ops import logs
from bot.policy import Policy
from bot.report_files import SharedRenders
from bot.services import notices, users
from bot.services.clocks import ClockKeeper
from bot.services.reminders import Planner
from bot.telegram_text import MESSAGE_LIMIT, alert_text, fit_html, split_html, tg_len
from bot.views import View
from storage.db import Database, UnitOfWork, is_passing_failure
from storage.models import AuditEntry, User

log = logging.getLogger(__name__)
DEPS_KEY = "deps"
# bot_data key of the set of update ids that failed for a passing reason and that Telegram is to
# deliver again: present only in webhook mode, whose server answers those 503 (bot/ops/webhook.py).
REDELIVER_KEY = "deliver_again"


@dataclass(frozen=True)
class Deps:
    settings: Settings
    policy: Policy
    db: Database
    clock: Clock
    keeper: ClockKeeper  # also the database's before-commit hook
    planner: Planner
    report_renders: SharedRenders = field(default_factory=SharedRenders)  # the monthly report, made once for all managers


def deps_of(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    return context.application.bot_data[DEPS_KEY]


class Turn:
    """One update being handled: who sent it, in which language, inside which transaction.

    Its Telegram calls abort the update when they fail before the handler's own commit (all is
    rolled back, the person gets the apology). After that commit the change stands, so a failure
    (429 beyond the retries, the network, a blocked chat) is logged and the handler carries on:
    what it still has to queue for the others (outbox rows) must not be lost with the reply."""

    def __init__(self, update: Update, context: ContextTypes.DEFAULT_TYPE, uow: UnitOfWork, user: User, deps: Deps) -> None:
        self.update, self.context, self.uow, self.user, self.deps = update, context, uow, user, deps
        self._ = self.translator_for(user)
        self._answered = False
        self._notice_count = 0
        self.notified: set[int] = set()  # people with outbox rows from this update, sent after commit

    @property
    def now(self):
        return self.deps.clock.now()

    @property
    def bot(self):
        return self.context.bot

    def translator_for(self, user: User) -> Translator:
        return Translator(user.language, self.deps.settings.timezone)

    def refresh_language(self) -> None:
        self._ = self.translator_for(self.user)

    async def reply(self, view: View | str) -> Message | None:
        """Send to the current chat; long texts are split, the keyboard goes on the last piece.
        None only when Telegram refused it after the handler's commit (see the class docstring)."""
        view = View(view) if isinstance(view, str) else view
        return await self._telegram(send(self.bot, self.update.effective_chat.id, view))

    async def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        """Answer the callback query, once."""
        query = self.update.callback_query
        if query is None or self._answered:
            return
        self._answered = True
        if text is not None:
            text = alert_text(text)
        try:
            await self._telegram(query.answer(text, show_alert=alert))
        except BadRequest as exc:  # too old (over ~15 s) or already answered: nothing left to do
            log.info("callback answer refused: %s", exc)

    async def edit(self, view: View) -> None:
        """Replace the pressed message's text and buttons (falls back to a new message)."""
        message = self.update.callback_query.message if self.update.callback_query else None
        if message is None or tg_len(view.text) > MESSAGE_LIMIT or not isinstance(view.markup, (InlineKeyboardMarkup, type(None))):
            await self.reply(view)
            return
        try:
            await self._telegram(message.edit_text(view.text, parse_mode=ParseMode.HTML, reply_markup=view.markup))
        except BadRequest as exc:
            if "not modified" in str(exc).lower():  # e.g. 🔄 Refresh on a card nothing has changed: say so, or the press looks lost
                await self.answer(self._("Nothing has changed since."))
            else:
                await self.reply(view)

    async def edit_off(self) -> None:
        """Take the buttons off the pressed message, so an old prompt cannot be pressed again."""
        message = self.update.callback_query.message if self.update.callback_query else None
        if message is None:
            return
        try:
            await self._telegram(message.edit_reply_markup(reply_markup=None))
        except BadRequest:  # already without buttons, or too old to edit
            pass

    async def _telegram(self, call: Awaitable[Any]) -> Any:
        """Await a Telegram call; after the handler's commit a failure is logged, not raised
        (see the class docstring). BadRequest stays the caller's: each handles it in its own way."""
        try:
            return await call
        except BadRequest:
            raise
        except TelegramError as exc:
            if not self.uow.committed:
                raise
            log.warning("Telegram call failed after the change was committed; carrying on: %s", exc)
            return None

    async def notify_view(self, user: User, view: View, *, for_role: str | None = None) -> bool:
        """Like `notify`, with the view's buttons."""
        return await self.notify(user, view.text, markup=view.markup, for_role=for_role)

    async def edit_elsewhere(self, chat_id: int, message_id: int, view: View) -> None:
        """Replace a message this bot sent earlier (e.g. another approver's copy); gone or
        unchanged messages are left as they are. An edit cannot be split, so a long text is cut
        to fit; if Telegram still refuses it, the old buttons at least come off (they would only
        offer a decision already taken)."""
        try:
            await self._telegram(self.bot.edit_message_text(fit_html(view.text), chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML, reply_markup=view.markup))
            return
        except Forbidden as exc:  # blocked the bot: nothing there can change
            log.info("could not edit message %s in chat %s: %s", message_id, chat_id, exc)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            log.info("could not edit message %s in chat %s: %s", message_id, chat_id, exc)
        try:
            await self._telegram(self.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=None))
        except (BadRequest, Forbidden) as exc:  # gone, or already without buttons
            log.info("could not take the buttons off message %s in chat %s: %s", message_id, chat_id, exc)

    async def notify(self, user: User, text: str, *, markup: Any = None, photos: tuple[str, ...] = (), voices: tuple[str, ...] = (),
                     for_role: str | None = None) -> bool:
        """Message another user: an outbox row in this update's transaction, sent right after the
        commit (handlers/outbox.py). False when they cannot be reached (blocked the bot, deactivated).
        `for_role`: the role it reaches them by (a dispatchers' notice): not sent once it is withdrawn."""
        payload = View(text, markup).to_payload() | {"photos": list(photos), "voices": list(voices)}
        return await self.queue_notice(user, notices.VIEW, payload, for_role=for_role)

    async def queue_notice(self, user: User, kind: str, payload: dict[str, Any], *, for_role: str | None = None) -> bool:
        """An outbox row of any kind for `user`, keyed by this update so it exists once. Another
        customer is not messaged in their quiet hours: the row waits until they end. `for_role`:
        see `notices.queue`."""
        self._notice_count += 1
        key = f"update:{self.update.update_id}:{self._notice_count}"
        awake = users.is_staff(user) or user.id == self.user.id  # staff hours are the reminders' business
        not_before = None if awake else self.deps.planner.customer_time(self.now)
        queued = await notices.queue(self.uow, user, kind, payload, key, self.now, not_before=not_before, for_role=for_role)
        if queued:
            self.notified.add(user.id)
        return queued

    async def audit(self, event: str, **details: Any) -> None:
        """Record a refused or suspicious action (forged button, someone else's request)."""
        await self.uow.audit.add(AuditEntry(actor_telegram_id=self.user.telegram_id, action=event, details=details, created_at=self.now))


class PartlySent(TelegramError):
    """A long message failed after Telegram had accepted its first `pieces` pieces; `error` says why."""

    def __init__(self, pieces: int, error: Exception) -> None:
        super().__init__(f"{error} (after {pieces} pieces of the message went out)")
        self.pieces, self.error = pieces, error


async def send(bot: Any, chat_id: int, view: View, *, rate_limit_args: Notification | None = None, start: int = 0) -> Message | None:
    """Send a view; long texts are split, the keyboard goes on the last piece. `rate_limit_args`
    marks a notification for the flood limiter (bot/flood.py), which paces its first piece only:
    the rest of one message follows at once, as Telegram allows such short bursts.

    A piece failing after earlier ones went out raises PartlySent: a caller that tries again
    passes `start` (the pieces already delivered) and the message goes on from there instead of
    repeating its beginning. The last message sent; None when nothing was left to send."""
    pieces = split_html(view.text)
    message = None
    for index in range(start, len(pieces)):
        markup = view.markup if index == len(pieces) - 1 else None
        marked = {} if rate_limit_args is None else {
            "rate_limit_args": rate_limit_args if index == start else rate_limit_args.rest_of_message()}
        try:
            message = await bot.send_message(chat_id, pieces[index], parse_mode=ParseMode.HTML, reply_markup=markup, **marked)
        except Exception as exc:
            if index == 0:
                raise
            raise PartlySent(index, exc) from exc
    return message


async def send_photos(bot: Any, chat_id: int, photos: tuple[str, ...]) -> None:
    """One photo as a photo, 2–10 as an album (Telegram's media-group limits)."""
    if len(photos) == 1:
        await bot.send_photo(chat_id, photos[0])
        return
    for start in range(0, len(photos), 10):
        chunk = photos[start:start + 10]
        if len(chunk) == 1:
            await bot.send_photo(chat_id, chunk[0])
        else:
            await bot.send_media_group(chat_id, [InputMediaPhoto(file_id) for file_id in chunk])


HandlerFunc = Callable[[Turn], Awaitable[None]]


def handler(func: HandlerFunc) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
    """Wrap a `Turn` handler: one transaction, duplicate updates ignored, callback answered."""

    @functools.wraps(func)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        tg_user = update.effective_user
        logs.bind_update(update.update_id, tg_user.id if tg_user else None)  # every log line of this update carries them
        if tg_user is None or update.effective_chat is None:
            return
        deps = deps_of(context)
        started = time.perf_counter()
        async with deps.db.uow() as uow:
            if not await uow.claim_update(update.update_id, deps.clock.now()):
                # Not even the button press is answered: whoever handled the update answered it
                # before committing its claim, and Telegram refuses a second answer.
                log.info("update %s already handled; duplicate ignored", update.update_id)
                return
            user = await users.touch(
                uow, tg_user.id, tg_user.first_name or "", tg_user.username,
                tg_user.language_code, deps.settings.default_language, deps.clock.now(),
            )
            language_changed = users.follow_telegram_language(user, tg_user.language_code, deps.settings.default_language)
            turn = Turn(update, context, uow, user, deps)
            try:
                await func(turn)
            finally:
                await turn.answer()
            await uow.commit()
        if language_changed and users.is_staff(user):  # e.g. a bootstrap admin's menu, set before they ever wrote
            await menus.apply_for(context.bot, user, turn._)
        if turn.notified:  # committed: now tell the people this update concerns
            from handlers.outbox import deliver_now  # the sender imports handlers that import this module

            await deliver_now(context.bot, deps, turn.notified)
        log.info("handled by %s in %d ms", func.__name__, (time.perf_counter() - started) * 1000)

    return wrapper


async def _chosen_language(deps: Deps, telegram_id: int) -> str | None:
    """The language the person chose with /language, read in a session of its own (the update's
    own transaction failed); None when even that fails: the database may be what is broken."""
    try:
        async with deps.db.uow() as uow:
            user = await uow.users.by_telegram_id(telegram_id)
            return user.language if user is not None else None
    except Exception:
        return None


def is_passing(error: BaseException | None) -> bool:
    """The update failed on something outside it that may well work in a moment: the database
    (unreachable, dropped, busy) or Telegram's side of a call (network, flood control beyond the
    retries). A handler's own mistake, or Telegram refusing a call, would fail the same way again."""
    if isinstance(error, RetryAfter) or (isinstance(error, NetworkError) and not isinstance(error, BadRequest)):
        return True
    return error is not None and is_passing_failure(error)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log with the update id, then apologise to the user instead of leaving them in silence.

    In webhook mode an update that failed for a passing reason is delivered again instead
    (REDELIVER_KEY): nothing of it was committed, or its second delivery is dropped as a
    duplicate. The person gets no apology then, which would ask them to send again what is
    already on its way; they get the answer once it is handled."""
    update_id = update.update_id if isinstance(update, Update) else None
    redeliver = context.application.bot_data.get(REDELIVER_KEY)
    if update_id is not None and redeliver is not None and is_passing(context.error):
        redeliver.add(update_id)
        log.warning("update %s failed (%s: %s); Telegram is to deliver it again",
                    update_id, type(context.error).__name__, context.error)
        return
    log.error("error while handling update %s", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    deps = deps_of(context)
    tg_user = update.effective_user
    language = language_from_telegram(tg_user.language_code if tg_user else None, deps.settings.default_language)
    if tg_user is not None:
        language = await _chosen_language(deps, tg_user.id) or language
    _ = Translator(language, deps.settings.timezone)
    if update.callback_query:
        try:
            await update.callback_query.answer()
        except TelegramError:  # the handler's own answer may already have gone out
            pass
    try:
        await context.bot.send_message(
            update.effective_chat.id,
            _("Sorry, something went wrong on our side. What you sent before is saved; please try again in a moment."),
        )
    except Exception:  # the apology itself failed (blocked, network): nothing more to do
        log.warning("could not send the apology for update %s", update_id)
