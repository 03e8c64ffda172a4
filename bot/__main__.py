"""Start the bot: `servicedesk` (or `python -m bot`). Settings come from the environment and `.env`."""
from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from dotenv import load_dotenv
from sqlalchemy.exc import DBAPIError, OperationalError
from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError

from bot.app import build_application
from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_settings
from bot.policy import PolicyError, load_policy
from storage.db import upgrade_database

EXIT_BAD_SETTINGS = 2


def fail(message: str) -> int:
    print(f"servicedesk: {message}", file=sys.stderr)
    return EXIT_BAD_SETTINGS


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per API call drowns the log
    load_dotenv(Path.cwd() / ".env")
    try:
        settings = load_settings()
        policy = load_policy(settings.policy_file)
    except (ConfigError, PolicyError) as exc:
        return fail(str(exc))
    try:
        upgrade_database(settings.database_url)
    except (OperationalError, DBAPIError, OSError) as exc:
        return fail(f"DATABASE_URL: cannot open the database ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    problem = asyncio.run(check_telegram(settings))
    if problem:
        return fail(problem)
    build_application(settings, policy, SystemClock()).run_polling(allowed_updates=Update.ALL_TYPES)
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


if __name__ == "__main__":
    sys.exit(main())
