"""Settings from the environment (and `.env`), validated once at start-up.

A bad setting raises `ConfigError` naming the setting; `bot.__main__` turns it into one
line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.i18n import SUPPORTED_LANGUAGES

TOKEN_PATTERN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,64}$")
DEFAULT_API_URL = "https://api.telegram.org"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///servicedesk.sqlite3"
DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "policy.default.toml"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


@dataclass(frozen=True)
class Settings:
    bot_token: str
    database_url: str = DEFAULT_DATABASE_URL
    telegram_api_url: str = DEFAULT_API_URL
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    default_language: str = "en"
    admin_telegram_ids: frozenset[int] = frozenset()
    policy_file: Path = DEFAULT_POLICY_FILE

    @property
    def bot_api_base_url(self) -> str:
        return f"{self.telegram_api_url.rstrip('/')}/bot"

    @property
    def bot_api_file_url(self) -> str:
        return f"{self.telegram_api_url.rstrip('/')}/file/bot"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate every setting; `environ` defaults to the process environment."""
    env = dict(os.environ if environ is None else environ)

    def get(name: str) -> str:
        return env.get(name, "").strip()

    token = get("BOT_TOKEN")
    if not token:
        raise ConfigError("BOT_TOKEN", "is not set (get one from @BotFather and put it in .env)")
    if not TOKEN_PATTERN.match(token):
        raise ConfigError("BOT_TOKEN", "is malformed (expected digits, a colon and the secret, as @BotFather gives it)")

    database_url = get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "DATABASE_URL", "must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
        )

    api_url = get("TELEGRAM_API_URL") or DEFAULT_API_URL
    if not re.match(r"^https?://[^\s/]+", api_url):
        raise ConfigError("TELEGRAM_API_URL", f"is not an http(s) URL: {api_url!r}")

    tz_name = get("TIMEZONE") or "Asia/Shanghai"
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("TIMEZONE", f"unknown time zone {tz_name!r} (use an IANA name such as Asia/Shanghai)") from None

    language = get("DEFAULT_LANGUAGE") or "en"
    if language not in SUPPORTED_LANGUAGES:
        raise ConfigError("DEFAULT_LANGUAGE", f"must be one of {', '.join(SUPPORTED_LANGUAGES)}, not {language!r}")

    admin_ids: set[int] = set()
    for part in filter(None, (p.strip() for p in get("ADMIN_TELEGRAM_IDS").split(","))):
        if not part.isdigit():
            raise ConfigError("ADMIN_TELEGRAM_IDS", f"must be comma-separated numeric Telegram ids, got {part!r}")
        admin_ids.add(int(part))

    policy_file = Path(get("POLICY_FILE")) if get("POLICY_FILE") else DEFAULT_POLICY_FILE
    if not policy_file.is_file():
        raise ConfigError("POLICY_FILE", f"file not found: {policy_file}")

    return Settings(
        bot_token=token,
        database_url=database_url,
        telegram_api_url=api_url,
        timezone=tz,
        default_language=language,
        admin_telegram_ids=frozenset(admin_ids),
        policy_file=policy_file,
    )
