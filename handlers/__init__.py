"""Telegram handlers: parse an update, call one service, render the reply. No rules live here."""
from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers import approvals, dispatch, escalation, intake, jobs, registry, router, sales, staff, start, status, stock
from handlers import followups
from handlers import archive
from handlers import erasure
from handlers import complaints
from handlers import reports
from handlers import returns
from handlers import prices
from handlers.common import on_error

PRIVATE = filters.ChatType.PRIVATE


def register(app: Application) -> None:
    """All handlers in one place. Order matters inside group 0: commands before plain messages."""
    commands = {
        "start": start.cmd_start,
        "help": start.cmd_help,
        "language": start.cmd_language,
        "cancel": start.cmd_cancel,
        "new": intake.cmd_new,
        "my": status.cmd_my,
        "status": status.cmd_status,
        "invite": staff.cmd_invite,
        "staff": staff.cmd_staff,
        "duty": staff.cmd_duty,
        "profile": staff.cmd_profile,
        "queue": dispatch.cmd_queue,
        "overdue": dispatch.cmd_overdue,
        "approvals": approvals.cmd_approvals,
        "sell": sales.cmd_sell,
        "cases": escalation.cmd_cases,
        "jobs": jobs.cmd_jobs,
        "import": registry.cmd_import,
        "products": registry.cmd_products,
        "stock": stock.cmd_stock,
        "issue": stock.cmd_issue,
        "returns": returns.cmd_returns,
        "complain": complaints.cmd_complain,
        "complaint": complaints.cmd_complaint,
        "complaints": complaints.cmd_complaints,
        "archive": archive.cmd_archive,
        "erase": erasure.cmd_erase,
        "calls": followups.cmd_calls,
        "report": reports.cmd_report,
        "price": prices.cmd_price,
    }
    for name, callback in commands.items():
        app.add_handler(CommandHandler(name, callback, filters=PRIVATE & filters.UpdateType.MESSAGE))
    app.add_handler(MessageHandler(PRIVATE & filters.UpdateType.EDITED_MESSAGE, start.on_edited_message))
    app.add_handler(MessageHandler(PRIVATE & filters.COMMAND, start.on_unknown_command))
    app.add_handler(MessageHandler(PRIVATE & filters.UpdateType.MESSAGE, router.on_message))
    app.add_handler(CallbackQueryHandler(router.on_callback))
    app.add_error_handler(on_error)
