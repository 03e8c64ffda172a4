"""Wiring: the PTB Application with its dependencies, handlers and life-cycle hooks."""
from __future__ import annotations

import logging

from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

import handlers
from bot.clock import Clock
from bot.config import Settings
from bot.i18n import SUPPORTED_LANGUAGES, Translator
from bot import menus
from bot.menus import TELEGRAM_LANGUAGE_CODES, commands_for
from bot.policy import Policy
from bot.services import users
from handlers.common import DEPS_KEY, Deps
from storage.db import Database

log = logging.getLogger(__name__)



def build_application(settings: Settings, policy: Policy, clock: Clock, *, database: Database | None = None) -> Application:
    """The bot, ready for `run_polling()` (or initialize/start in tests)."""
    deps = Deps(settings=settings, policy=policy, db=database or Database(settings.database_url), clock=clock)
    app = (
        ApplicationBuilder()
        .token(settings.bot_token)
        .base_url(settings.bot_api_base_url)
        .base_file_url(settings.bot_api_file_url)
        .rate_limiter(AIORateLimiter(max_retries=3))  # waits out 429 retry_after instead of failing
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data[DEPS_KEY] = deps
    handlers.register(app)
    return app


async def _post_init(app: Application) -> None:
    deps: Deps = app.bot_data[DEPS_KEY]
    async with deps.db.uow() as uow:
        await users.ensure_bootstrap_staff(uow, deps.settings.admin_telegram_ids, deps.settings.default_language, deps.clock.now())
        await uow.commit()
        await _set_commands(app, deps.settings)
        for telegram_id in deps.settings.admin_telegram_ids:
            admin = await uow.users.by_telegram_id(telegram_id)
            await menus.apply_for(app.bot, admin, Translator(admin.language, deps.settings.timezone))


async def _set_commands(app: Application, settings: Settings) -> None:
    """The command menu in each supported language (the default one for everybody else)."""
    try:
        for language in SUPPORTED_LANGUAGES:
            _ = Translator(language, settings.timezone)
            commands = commands_for(_, frozenset())
            await app.bot.set_my_commands(commands, language_code=TELEGRAM_LANGUAGE_CODES[language])
            if language == settings.default_language:
                await app.bot.set_my_commands(commands)
    except TelegramError as exc:  # a cosmetic menu must not stop the desk from starting
        log.warning("could not set the command menu: %s", exc)


async def _post_shutdown(app: Application) -> None:
    await app.bot_data[DEPS_KEY].db.dispose()
