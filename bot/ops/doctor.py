"""`servicedesk doctor`: check a deployment before (or while) running it, one line per check.

Settings, the policy file, the database, the migrations, that there is an admin, the token
(getMe against TELEGRAM_API_URL) and the webhook. Exit code 0 only when every check passes. The doctor only
reads: it never migrates, never sets a webhook, never writes to the database.
"""
from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import TextIO

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.config import ConfigError, Settings, load_settings
from bot.ops.backup import BackupError, sqlite_path
from bot.policy import PolicyError, load_policy
from bot.services.users import ROLE_ADMIN
from storage.db import alembic_config
from storage.models import User, UserRole

TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


async def run_checks(environ: dict[str, str] | None = None) -> list[Check]:
    try:
        settings = load_settings(environ)
    except ConfigError as exc:
        return [Check("settings", False, str(exc)), Check("other checks", False, "skipped: the settings must load first")]
    checks = [Check("settings", True, f"loaded ({'webhook' if settings.webhook_mode else 'polling'} mode)")]
    checks.append(_check_policy(settings))
    database = await _check_database(settings)
    checks.append(database)
    migrations = await _check_migrations(settings) if database.ok else Check("migrations", False, "skipped: database unreachable")
    checks.append(migrations)
    checks.append(await _check_admins(settings) if migrations.ok else Check("admins", False, "skipped: the database must be at head"))
    token = await _check_token(settings)
    checks.append(token)
    checks.append(await _check_webhook(settings) if token.ok else Check("webhook", False, "skipped: the token check failed"))
    return checks


def _check_policy(settings: Settings) -> Check:
    try:
        load_policy(settings.policy_file)
    except (PolicyError, ValueError, OSError) as exc:  # ValueError: not TOML at all
        return Check("policy", False, f"{settings.policy_file}: {exc}")
    return Check("policy", True, f"valid ({settings.policy_file.name})")


async def _check_database(settings: Settings) -> Check:
    try:
        path = sqlite_path(settings.database_url)
    except BackupError:  # in-memory SQLite: nothing on disk to look for
        path = None
    if path is not None and not path.exists():  # connecting would create the file: the doctor only reads
        return Check("database", False, f"{path} does not exist yet: start the bot once (it creates and migrates it)")
    engine = create_async_engine(settings.database_url)
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as exc:  # every failure to connect is reported, whatever the driver raised
        return Check("database", False, f"cannot connect ({type(exc).__name__}: {_first_line(exc)})")
    finally:
        await engine.dispose()
    return Check("database", True, f"reachable ({engine.dialect.name})")


async def _check_migrations(settings: Settings) -> Check:
    head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return Check("migrations", False, f"cannot read the revision ({type(exc).__name__})")
    finally:
        await engine.dispose()
    if current == head:
        return Check("migrations", True, f"at head ({head})")
    # The bot upgrades at start, so this is a warning about a database not yet used by this version.
    return Check("migrations", False, f"database at {current or 'nothing (empty)'}, code at {head}: start the bot once (it migrates) or run `alembic upgrade head`")


async def _check_admins(settings: Settings) -> Check:
    """Somebody can invite the staff: a bootstrap admin in the settings, or an admin in the database."""
    if settings.admin_telegram_ids:
        return Check("admins", True, f"{len(settings.admin_telegram_ids)} from ADMIN_TELEGRAM_IDS")
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                select(func.count()).select_from(UserRole).join(User, User.id == UserRole.user_id)
                .where(UserRole.role == ROLE_ADMIN, User.is_active.is_(True)))
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return Check("admins", False, f"cannot read the staff ({type(exc).__name__})")
    finally:
        await engine.dispose()
    if not count:
        return Check("admins", False, "no admin: nobody can invite staff; put your Telegram id in ADMIN_TELEGRAM_IDS")
    return Check("admins", True, f"{count} active in the database (ADMIN_TELEGRAM_IDS is empty)")


async def _check_token(settings: Settings) -> Check:
    bot = Bot(settings.bot_token, base_url=settings.bot_api_base_url)
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            async with bot:
                me = await bot.get_me()
    except InvalidToken:
        return Check("token", False, "Telegram rejected BOT_TOKEN (check it with @BotFather)")
    except (NetworkError, TimeoutError) as exc:
        return Check("token", False, f"cannot reach {settings.telegram_api_url} ({exc or type(exc).__name__})")
    except TelegramError as exc:
        return Check("token", False, f"getMe failed: {exc}")
    return Check("token", True, f"valid: the bot is @{me.username}")


async def _check_webhook(settings: Settings) -> Check:
    """Telegram delivers to this desk: to WEBHOOK_URL (the start registers it), or to no webhook when polling (the start deletes it).

    The doctor runs after a start (see the README), so any other registration means the updates go to
    another deployment on the same token, or nowhere.
    """
    bot = Bot(settings.bot_token, base_url=settings.bot_api_base_url)
    try:
        async with bot:
            info = await bot.get_webhook_info()
    except TelegramError as exc:
        return Check("webhook", False, f"getWebhookInfo failed: {exc}")
    problems = []
    if not settings.webhook_mode and info.url:
        problems.append(f"Telegram delivers to the webhook {info.url}, not to this polling desk (getUpdates gets 409 Conflict); "
                        "the desk deletes it at start, so if it has started, another deployment with this token registered it")
    elif settings.webhook_mode and not info.url:
        problems.append(f"not registered: Telegram posts the updates nowhere; the desk registers WEBHOOK_URL {settings.webhook_url} "
                        "at start, so if it has started, something deleted it (a polling process with this token?)")
    elif settings.webhook_mode and info.url != settings.webhook_url:
        problems.append(f"Telegram delivers to {info.url}, not to WEBHOOK_URL {settings.webhook_url}: the desk registers its URL "
                        "at start, so if it has started, another deployment with this token registered its own")
    if info.url and info.last_error_message:
        problems.append(f"Telegram's last delivery to {info.url} failed: {info.last_error_message}")
    if problems:
        return Check("webhook", False, "; ".join(problems))
    if not settings.webhook_mode:
        return Check("webhook", True, "polling mode")
    return Check("webhook", True, f"registered at {info.url}, {info.pending_update_count} update(s) waiting")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:200]


def doctor(environ: dict[str, str] | None = None, out: TextIO = sys.stdout) -> int:
    """Print every check; exit code 0 only when all pass."""
    checks = asyncio.run(run_checks(environ))
    for check in checks:
        print(check.line(), file=out)
    return 0 if all(check.ok for check in checks) else 1
