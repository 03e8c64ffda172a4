"""The managers' monthly report: /report with its month picker, and the automatic send on the
policy's day (called from the sweep). The figures are in bot/services/statistics.py.

The automatic send goes through the outbox like every other notification (handlers/outbox.py).
Building a report reads the database in its own short transaction, renders the chart and the
workbook in a worker thread, and only then talks to Telegram: no transaction is open meanwhile.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import InputFile, Message
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError

from bot import report_files, report_views
from bot.callbacks import ReportMonthButton
from bot.i18n import Translator
from bot.services import notices, statistics, users
from bot.services.statistics import Month, MonthlyReport
from handlers.common import Deps, Turn, handler, send
from storage.models import User

log = logging.getLogger(__name__)
CLAIM_PREFIX = "monthly_report:"


@handler
async def cmd_report(turn: Turn) -> None:
    """/report: the month picker (managers only)."""
    if not statistics.may_read(turn.user):
        await turn.reply(report_views.not_for_you(turn._))
        return
    tz = turn.deps.settings.timezone
    await turn.reply(report_views.month_picker(turn._, statistics.picker_months(turn.now, tz), Month.of(turn.now, tz)))


async def on_month_button(turn: Turn, payload: ReportMonthButton) -> None:
    """A month pressed in the picker: checked again (role, month offered now), then built and sent."""
    tz = turn.deps.settings.timezone
    month = _offered_month(payload, turn.now, tz)
    if not statistics.may_read(turn.user) or (payload.action == report_views.SHOW and month is None) or payload.action not in (report_views.SHOW, report_views.CLOSE):
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


async def deliver(bot: Any, chat_id: int, _: Translator, report: MonthlyReport, files: report_files.ReportFiles,
                  *, rate_limit_args: Any = None, start: int = 0) -> Message:
    """The message (split when long), the chart and the workbook. `rate_limit_args` paces the
    first piece as a notification (bot/flood.py); the rest of the report follows it at once.
    `start`: the pieces of the message a failed try already delivered (see `common.send`).

    Once the message is out, a refused chart or workbook is logged, not raised: the outbox would
    send the whole report again (text and chart twice, every retry). The manager can ask /report."""
    message = await send(bot, chat_id, report_views.report_message(_, report), rate_limit_args=rate_limit_args, start=start)
    caption = report_views.document_caption(_, report)
    name = f"report-{report.month.key}"
    try:
        await bot.send_photo(chat_id, InputFile(files.png, filename=f"{name}.png"), caption=caption, parse_mode=ParseMode.HTML)
        await bot.send_document(chat_id, InputFile(files.xlsx, filename=f"{name}.xlsx"), caption=caption, parse_mode=ParseMode.HTML)
    except TelegramError as exc:
        log.warning("the report of %s went out but its chart or workbook did not (%s: %s); not sent again",
                    report.month.key, type(exc).__name__, exc)
    return message


# --- the automatic send ---------------------------------------------------------------------


async def queue_monthly_reports(deps: Deps) -> int:
    """On the policy's day and time, the previous month's report for every active, reachable
    manager, as outbox rows: the sender builds and sends it (`send_queued`), under the flood
    limits, and a blocked manager is marked unreachable and reported to the admins once.

    Once per month across restarts and bot processes: the month's `app_state` row is inserted in
    the transaction that queues the rows, and only the process whose insert made it queues them.
    A month in which nothing happened is claimed but not sent. While no manager can receive it, the
    month is not claimed: the first one enrolled later in the month gets it. It waits for staff
    hours (a desk back at 23:30 sends it the next morning). Returns how many rows were queued."""
    now, tz = deps.clock.now(), deps.settings.timezone
    month = statistics.due_report_month(now, tz, deps.policy.reports)
    if month is None:
        return 0
    claim = CLAIM_PREFIX + month.key
    async with deps.db.uow() as uow:
        if await uow.app_state.get(claim) is not None:
            return 0  # every sweep of the month after the first
        if not await _managers(uow):
            return 0
        report = await statistics.monthly_report(uow, month, now, tz, deps.policy.reports)
    async with deps.db.uow() as uow:
        if not await uow.app_state.claim(claim, now.isoformat()):
            return 0  # another process claimed it meanwhile
        queued = 0
        if not statistics.is_empty(report):
            for manager in await _managers(uow):
                key = f"{statistics.OUTBOX_KIND}:{month.key}:{manager.id}"
                queued += await notices.queue(uow, manager, statistics.OUTBOX_KIND, {"month": month.code}, key, now,
                                              not_before=deps.planner.staff_time(now, urgent=False))
        await uow.commit()
    if statistics.is_empty(report):
        log.info("monthly report %s not sent: nothing happened that month", month.key)
    else:
        log.info("monthly report %s queued for %d managers", month.key, queued)
    return queued


async def send_queued(bot: Any, deps: Deps, chat_id: int, _: Translator, month_code: int, rate_limit_args: Any, *, start: int = 0) -> Message:
    """An outbox row's monthly report, built as of now and rendered once for every reader of the
    language (Deps.report_renders); the first message is paced as a notification."""
    month = Month.from_code(month_code)

    async def make() -> report_files.Made:
        now = deps.clock.now()
        async with deps.db.uow() as uow:
            report = await statistics.monthly_report(uow, month, now, deps.settings.timezone, deps.policy.reports)
        return report, await asyncio.to_thread(report_files.render, _, report)  # matplotlib is slow: off the event loop

    report, files = await deps.report_renders.get(month.code, _.language, deps.clock.now(), make)
    return await deliver(bot, chat_id, _, report, files, rate_limit_args=rate_limit_args, start=start)


async def _managers(uow) -> list[User]:
    found: dict[int, User] = {}
    for role in sorted(users.MANAGER_ROLES):
        for user in await uow.users.active_with_role(role):
            if user.is_reachable:
                found[user.id] = user
    return sorted(found.values(), key=lambda u: u.id)
