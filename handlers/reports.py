"""The managers' monthly report: /report with its month picker, and the automatic send on the
policy's day (called from the sweep). The figures are in bot/services/statistics.py.

Building a report reads the database in its own short transaction, renders the chart and the
workbook in a worker thread, and only then talks to Telegram: no transaction is open meanwhile.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import InputFile
from telegram.constants import ChatAction, ParseMode
from telegram.error import Forbidden, TelegramError

from bot import report_files, report_views
from bot.callbacks import ReportMonthButton
from bot.i18n import Translator
from bot.services import notices, statistics, users
from bot.services.statistics import Month, MonthlyReport
from handlers.common import Deps, Turn, handler, send
from storage.models import User

log = logging.getLogger(__name__)
CLAIM_PREFIX = "monthly_report:"


def _may_read(user: User) -> bool:
    return user.is_active and bool(user.role_names & users.MANAGER_ROLES)


@handler
async def cmd_report(turn: Turn) -> None:
    """/report: the month picker (managers only)."""
    if not _may_read(turn.user):
        await turn.reply(report_views.not_for_you(turn._))
        return
    tz = turn.deps.settings.timezone
    await turn.reply(report_views.month_picker(turn._, statistics.picker_months(turn.now, tz), Month.of(turn.now, tz)))


async def on_month_button(turn: Turn, payload: ReportMonthButton) -> None:
    """A month pressed in the picker: checked again (role, month offered now), then built and sent."""
    tz = turn.deps.settings.timezone
    month = _offered_month(payload, turn.now, tz)
    if not _may_read(turn.user) or (payload.action == report_views.SHOW and month is None) or payload.action not in (report_views.SHOW, report_views.CLOSE):
        await turn.audit("not_allowed_button", data=payload.pack())
        await turn.answer(turn._("This button is no longer valid."), alert=True)
        return
    if payload.action == report_views.CLOSE:
        await turn.edit(report_views.picker_closed(turn._))
        return
    await turn.uow.commit()  # nothing left to write for this update; no transaction stays open while sending
    await turn.answer(turn._("Preparing the report…"))
    chat_id = turn.update.effective_chat.id
    await turn.bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT)  # "preparing report…"
    async with turn.deps.db.uow() as uow:
        report = await statistics.monthly_report(uow, month, turn.now, tz, turn.deps.policy.reports)
    files = await asyncio.to_thread(report_files.render, turn._, report)  # matplotlib is slow: off the event loop
    await deliver(turn.bot, chat_id, turn._, report, files)


def _offered_month(payload: ReportMonthButton, now, tz) -> Month | None:
    """The pressed month if the picker would offer it now (a stale or forged one: None)."""
    try:
        month = Month.from_code(payload.month)
    except ValueError:
        return None
    return month if month in statistics.picker_months(now, tz) else None


async def deliver(bot: Any, chat_id: int, _: Translator, report: MonthlyReport, files: report_files.ReportFiles) -> None:
    """The message (split when long), the chart and the workbook."""
    await send(bot, chat_id, report_views.report_message(_, report))
    caption = report_views.document_caption(_, report)
    name = f"report-{report.month.key}"
    await bot.send_photo(chat_id, InputFile(files.png, filename=f"{name}.png"), caption=caption, parse_mode=ParseMode.HTML)
    await bot.send_document(chat_id, InputFile(files.xlsx, filename=f"{name}.xlsx"), caption=caption, parse_mode=ParseMode.HTML)


# --- the automatic send ---------------------------------------------------------------------


async def send_monthly_reports(bot: Any, deps: Deps) -> int:
    """On the policy's day and time, the previous month's report to every active, reachable manager.

    Exactly once per month across restarts and bot processes: the month is claimed by inserting
    an `app_state` row in its own transaction, and only the process whose insert made it sends.
    (A process dying mid-send leaves the rest unsent; /report still gives it.) A month in which
    nothing happened is claimed but not sent. Returns how many managers got it."""
    now, tz = deps.clock.now(), deps.settings.timezone
    month = statistics.due_report_month(now, tz, deps.policy.reports)
    if month is None:
        return 0
    async with deps.db.uow() as uow:
        claimed = await uow.app_state.claim(CLAIM_PREFIX + month.key, now.isoformat())
        await uow.commit()
    if not claimed:
        return 0
    async with deps.db.uow() as uow:
        report = await statistics.monthly_report(uow, month, now, tz, deps.policy.reports)
        recipients = [(m.telegram_id, m.language) for m in await _managers(uow)]
    if statistics.is_empty(report):
        log.info("monthly report %s not sent: nothing happened that month", month.key)
        return 0
    rendered: dict[str, report_files.ReportFiles] = {}
    sent = 0
    for telegram_id, language in recipients:
        _ = Translator(language, tz)
        if language not in rendered:
            rendered[language] = await asyncio.to_thread(report_files.render, _, report)
        try:
            await deliver(bot, telegram_id, _, report, rendered[language])
            sent += 1
        except Forbidden:
            async with deps.db.uow() as uow:
                await notices.blocked(uow, telegram_id, deps.clock.now())  # the admins are told, once
                await uow.commit()
            log.warning("manager %s blocked the bot; marked unreachable", telegram_id)
        except TelegramError as exc:
            log.warning("monthly report %s not delivered to %s: %s", month.key, telegram_id, exc)
    log.info("monthly report %s sent to %d managers", month.key, sent)
    return sent


async def _managers(uow) -> list[User]:
    found: dict[int, User] = {}
    for role in sorted(users.MANAGER_ROLES):
        for user in await uow.users.active_with_role(role):
            if user.is_reachable:
                found[user.id] = user
    return sorted(found.values(), key=lambda u: u.id)
