"""Settings from the environment (and `.env`), validated once at start-up.

A bad setting raises `ConfigError` naming the setting; `bot.__main__` turns it into one
line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.i18n import SUPPORTED_LANGUAGES

TOKEN_PATTERN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,64}$")
DEFAULT_API_URL = "https://api.telegram.org"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///servicedesk.sqlite3"
DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "policy.default.toml"
# What Telegram accepts as a webhook's secret_token (sent back in X-Telegram-Bot-Api-Secret-Token).
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
TELEGRAM_WEBHOOK_PORTS = (443, 80, 88, 8443)  # the only ports Telegram itself delivers webhooks to
HEALTH_PATH = "/healthz"
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_WEBHOOK_LISTEN = "127.0.0.1"
DEFAULT_WEBHOOK_PORT = 8080


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
    # Webhook mode when webhook_url is set; long polling otherwise.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = DEFAULT_WEBHOOK_LISTEN
    webhook_port: int = DEFAULT_WEBHOOK_PORT
    webhook_path: str = "/telegram"
    log_format: str = "text"
    log_level: str = "INFO"
    # Processes sharing the bot token: Telegram's ~30 messages/s is per bot, so each keeps to its share.
    # More than one needs webhook mode and PostgreSQL.
    bot_processes: int = 1

    @property
    def webhook_mode(self) -> bool:
        return self.webhook_url is not None

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

    webhook = _webhook_settings(get, api_url)

    log_format = (get("LOG_FORMAT") or "text").lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError("LOG_FORMAT", f"must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")

    processes = get("BOT_PROCESSES") or "1"
    if not processes.isdigit() or not 1 <= int(processes) <= 30:
        raise ConfigError("BOT_PROCESSES", f"must be a whole number from 1 to 30 (the processes sharing this bot token), not {processes!r}")
    if int(processes) > 1 and not webhook:
        raise ConfigError("BOT_PROCESSES", f"is {processes}, but only webhook mode can share a bot token between processes "
                          "(polling processes take each other's updates; Telegram answers 409 Conflict): set WEBHOOK_URL, or BOT_PROCESSES=1")
    if int(processes) > 1 and database_url.startswith("sqlite"):
        raise ConfigError("BOT_PROCESSES", f"is {processes}, but SQLite is for one process only: "
                          "use PostgreSQL (postgresql+asyncpg://…) for several, or BOT_PROCESSES=1")

    return Settings(
        bot_token=token,
        database_url=database_url,
        telegram_api_url=api_url,
        timezone=tz,
        default_language=language,
        admin_telegram_ids=frozenset(admin_ids),
        policy_file=policy_file,
        log_format=log_format,
        log_level=log_level,
        bot_processes=int(processes),
        **webhook,
    )


def _webhook_settings(get: Callable[[str], str], api_url: str) -> dict[str, Any]:
    """WEBHOOK_* settings; empty when WEBHOOK_URL is not set (long polling)."""
    url = get("WEBHOOK_URL")
    if not url:
        # A webhook setting without the URL is a webhook deployment that would silently poll. The defaults
        # (as .env.example writes them) say nothing either way.
        defaults = {"WEBHOOK_SECRET": "", "WEBHOOK_LISTEN": DEFAULT_WEBHOOK_LISTEN, "WEBHOOK_PORT": str(DEFAULT_WEBHOOK_PORT), "WEBHOOK_PATH": ""}
        stray = [name for name, default in defaults.items() if get(name) not in ("", default)]
        if stray:
            raise ConfigError("WEBHOOK_URL", f"is not set, but {', '.join(stray)} {'are' if len(stray) > 1 else 'is'}: "
                              "set WEBHOOK_URL for webhook mode, or remove the WEBHOOK_* settings to poll")
        return {}
    parsed = urlsplit(url)
    # Telegram itself only calls https URLs; a local Bot API server (TELEGRAM_API_URL) may call http.
    schemes = ("https",) if api_url == DEFAULT_API_URL else ("https", "http")
    if parsed.scheme not in schemes or not parsed.hostname:
        raise ConfigError("WEBHOOK_URL", f"must be an {' or '.join(schemes)} URL Telegram can reach, got {url!r}")
    try:
        port = parsed.port
    except ValueError:
        raise ConfigError("WEBHOOK_URL", f"has a port that is not a number 0-65535: {url!r}") from None
    # Telegram would refuse it at setWebhook; a local Bot API server delivers to any port.
    if api_url == DEFAULT_API_URL and port not in (None, *TELEGRAM_WEBHOOK_PORTS):
        raise ConfigError("WEBHOOK_URL", f"Telegram delivers webhooks only to ports 443, 80, 88 and 8443, not {port} "
                          "(the proxy in front of the desk listens on one of them; WEBHOOK_PORT is the desk's own)")
    secret = get("WEBHOOK_SECRET")
    if not secret:
        raise ConfigError("WEBHOOK_SECRET", "is required when WEBHOOK_URL is set (1-256 characters: A-Z, a-z, 0-9, _ and -)")
    if not WEBHOOK_SECRET_PATTERN.match(secret):
        raise ConfigError("WEBHOOK_SECRET", "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
    port_text = get("WEBHOOK_PORT") or str(DEFAULT_WEBHOOK_PORT)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError("WEBHOOK_PORT", f"must be a port number 1-65535, got {port_text!r}")
    path = get("WEBHOOK_PATH") or parsed.path or "/"
    if not path.startswith("/") or any(c.isspace() for c in path) or path == HEALTH_PATH:
        raise ConfigError("WEBHOOK_PATH", f"must be a URL path starting with / (and not {HEALTH_PATH}), got {path!r}")
    return {
        "webhook_url": url,
        "webhook_secret": secret,
        "webhook_listen": get("WEBHOOK_LISTEN") or DEFAULT_WEBHOOK_LISTEN,
        "webhook_port": int(port_text),
        "webhook_path": path,
    }
