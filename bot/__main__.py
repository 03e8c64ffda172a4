"""Start the bot: `servicedesk` (or `python -m bot`). Settings come from the environment and `.env`.

Operations, as subcommands:
  servicedesk doctor                 check settings, policy, database, migrations, token, webhook
  servicedesk backup FILE            copy the SQLite database (safe while the bot runs)
  servicedesk restore FILE           put a backup back (the bot must be stopped)
  servicedesk erase --customer ID    erase a customer's personal data (also --phone, --request)
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from dotenv import load_dotenv
from sqlalchemy.exc import DBAPIError, OperationalError
from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError

from bot.app import build_application, freeze_startup_objects
from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_settings
from bot.ops import backup as backups
from bot.ops.doctor import doctor
from bot.ops.logs import configure_logging
from bot.policy import PolicyError, load_policy
from storage.db import upgrade_database

EXIT_BAD_SETTINGS = 2
EXIT_FAILED = 1
log = logging.getLogger("bot")


def fail(message: str, code: int = EXIT_BAD_SETTINGS) -> int:
    print(f"servicedesk: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    load_dotenv(Path.cwd() / ".env")
    if args.command == "doctor":
        return doctor()
    try:
        settings = load_settings()
    except ConfigError as exc:
        return fail(str(exc))
    configure_logging(settings.log_format, settings.log_level)
    if args.command == "backup":
        return _backup(settings, args.file)
    if args.command == "restore":
        return _restore(settings, args.file)
    if args.command == "erase":
        return _erase(settings, args)
    return run(settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="servicedesk", description="After-sales service desk in Telegram. Without a command: run the bot.")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("doctor", help="check the deployment, one line per check; exit code 0 when all pass")
    backup = commands.add_parser("backup", help="copy the SQLite database to FILE (for PostgreSQL: prints the pg_dump command)")
    backup.add_argument("file", type=Path)
    restore = commands.add_parser("restore", help="replace the SQLite database with the backup FILE (stop the bot first)")
    restore.add_argument("file", type=Path)
    erase = commands.add_parser("erase", help="erase a customer's personal data (idempotent; statistics are kept)")
    which = erase.add_mutually_exclusive_group(required=True)
    which.add_argument("--customer", type=int, help="customer id")
    which.add_argument("--phone", help="the customer's phone number")
    which.add_argument("--request", help="one of the customer's request numbers (SR-…)")
    erase.add_argument("--by", type=int, help="Telegram id of the admin asking (default: the first of ADMIN_TELEGRAM_IDS)")
    erase.add_argument("--all-matching", action="store_true", help="with --phone: erase every customer record that has this phone")
    return parser


def run(settings: Settings) -> int:
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as exc:
        return fail(str(exc))
    try:
        upgrade_database(settings.database_url)
    except (OperationalError, DBAPIError, OSError) as exc:
        return fail(f"DATABASE_URL: cannot open the database ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    problem = asyncio.run(check_telegram(settings))
    if problem:
        return fail(problem)
    try:
        with backups.running_lock(settings.database_url):  # restore refuses while this is held
            application = build_application(settings, policy, SystemClock())
            freeze_startup_objects()
            if settings.webhook_mode:
                from bot.ops.webhook import serve  # aiohttp is only needed in webhook mode
                asyncio.run(serve(application, settings))
            else:
                # run_polling stops fetching on SIGTERM/SIGINT, finishes the updates in hand, then shuts down.
                application.run_polling(allowed_updates=Update.ALL_TYPES)
    except backups.BackupError as exc:
        return fail(str(exc))
    except ConfigError as exc:  # found only when starting: the webhook's address or URL (bot.ops.webhook)
        return fail(str(exc))
    return 0


async def check_telegram(settings: Settings) -> str | None:
    """Ask Telegram who we are before starting, so a bad token or URL is one clear line."""
    bot = Bot(settings.bot_token, base_url=settings.bot_api_base_url)
    try:
        async with bot:
            await bot.get_me()
    except InvalidToken:
        return "BOT_TOKEN: Telegram rejected the token (check it with @BotFather)"
    except NetworkError as exc:
        return f"TELEGRAM_API_URL: cannot reach {settings.telegram_api_url} ({exc})"
    return None


def _backup(settings: Settings, file: Path) -> int:
    if backups.sqlite_path(settings.database_url) is None:
        print(backups.postgres_commands(settings.database_url, file))
        return EXIT_FAILED
    try:
        print(backups.backup(settings.database_url, file))
    except backups.BackupError as exc:
        return fail(str(exc), EXIT_FAILED)
    return 0


def _restore(settings: Settings, file: Path) -> int:
    if backups.sqlite_path(settings.database_url) is None:
        print(backups.postgres_commands(settings.database_url, file))
        return EXIT_FAILED
    try:
        print(backups.restore(settings.database_url, file, SystemClock().now()))
    except backups.BackupError as exc:
        return fail(str(exc), EXIT_FAILED)
    return 0


def _erase(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.erase_cli import erase_from_cli

    admin_id = args.by if args.by is not None else min(settings.admin_telegram_ids, default=None)
    if admin_id is None:
        return fail("erase: give --by <admin Telegram id> (ADMIN_TELEGRAM_IDS is empty)")
    reference = str(args.customer) if args.customer is not None else (args.phone or args.request)
    ok, message = asyncio.run(erase_from_cli(settings, admin_id, reference, by_id=args.customer is not None, all_matching=args.all_matching))
    if not ok:
        return fail(message, EXIT_FAILED)
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
