"""Wiring: the PTB Application with its dependencies, handlers and life-cycle hooks."""
from __future__ import annotations

import asyncio
import gc
import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

import handlers
from bot.clock import Clock
from bot.config import Settings
from bot.flood import TELEGRAM_LIMITS, FloodLimiter, FloodLimits
from bot.i18n import SUPPORTED_LANGUAGES, Translator
from bot import menus
from bot.menus import TELEGRAM_LANGUAGE_CODES, commands_for
from bot.policy import Policy
from bot.ops import logs
from bot.scheduler import start_sweeps
from bot.services import users
from bot.services.clocks import ClockKeeper
from bot.services.reminders import Planner
from handlers.common import DEPS_KEY, Deps
from handlers.outbox import deliver
from handlers.sweeps import sweep
from storage.db import BeforeCommit, Database, UnitOfWork

log = logging.getLogger(__name__)
SWEEPS_KEY, SCHEDULER_KEY = "sweeps", "scheduler"
# When the last update arrived and the last sweep finished (the health endpoint reports their age).
LAST_UPDATE_KEY, LAST_SWEEP_KEY = "last_update_at", "last_sweep_at"
SCHEDULER_STARTED_KEY = "scheduler_started_at"  # health counts from here until the first sweep finishes
SWEEP_LOCK_KEY = "sweep_lock"  # held while a scheduled sweep runs, so shutdown can wait for it
OUTBOX_LOCK_KEY, OUTBOX_TASK_KEY = "outbox_lock", "outbox_round"  # the same for the outbox round


def build_application(
    settings: Settings, policy: Policy, clock: Clock, *, database: Database | None = None, sweeps: bool = True,
    limits: FloodLimits = TELEGRAM_LIMITS,
) -> Application:
    """The bot, ready for `run_polling()` (or initialize/start in tests).

    `sweeps=False` leaves the periodic sweep and outbox round to the caller (tests run them after
    moving their clock). `limits`: Telegram's flood limits (test harnesses act faster than people).
    """
    keeper = ClockKeeper(policy, settings.timezone)
    # hide_parameters: a database error in the log never shows the values (phones, addresses) of its statement
    db = database or Database(settings.database_url, hide_parameters=True)
    db.before_commit = _with_request_numbers(keeper)  # every transaction that records an event brings its clocks up to date
    deps = Deps(settings=settings, policy=policy, db=db, clock=clock, keeper=keeper, planner=Planner(policy, keeper, settings.timezone))
    app = (
        ApplicationBuilder()
        .token(settings.bot_token)
        .base_url(settings.bot_api_base_url)
        .base_file_url(settings.bot_api_file_url)
        .rate_limiter(FloodLimiter(limits.shared_by(settings.bot_processes)))  # paces notifications, waits out 429 retry_after
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data[DEPS_KEY] = deps
    app.bot_data[SWEEPS_KEY] = sweeps
    app.add_handler(TypeHandler(Update, _note_update), group=-1)  # before every other handler; does not consume
    handlers.register(app)
    return app


def freeze_startup_objects() -> None:
    """In a bot process, once its application is built: what exists by then (libraries, message
    catalogs, policy, the application) lives as long as the process, so the cycle collector's
    full passes stop walking it. Those passes stalled every update for ~50 ms a few times a
    minute under load (the benchmark's intake p99). Not for tests, which build many applications
    in one process: frozen objects are never collected."""
    gc.collect()
    gc.freeze()


def _with_request_numbers(keeper: ClockKeeper) -> BeforeCommit:
    """The clock keeper, plus: the numbers of the requests a transaction changed go into the log context."""

    async def before_commit(uow: UnitOfWork, request_ids: set[int]) -> None:
        await keeper(uow, request_ids)
        numbers = {request.number for request_id in request_ids if (request := await uow.requests.get(request_id))}
        logs.bind(request=sorted(numbers | set(logs.current_context().get("request") or ())))

    return before_commit


async def _note_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remember when the desk last received an update (for the health endpoint)."""
    context.bot_data[LAST_UPDATE_KEY] = context.bot_data[DEPS_KEY].clock.now()


async def run_sweep(app: Application) -> int:
    """One scheduled sweep, outside any update's log context; its end time is kept for the health check."""
    logs.clear_context()
    async with app.bot_data.setdefault(SWEEP_LOCK_KEY, asyncio.Lock()):
        count = await sweep(app, send=False)  # the outbox round sends, every second
    app.bot_data[LAST_SWEEP_KEY] = app.bot_data[DEPS_KEY].clock.now()
    return count


async def run_outbox_round(app: Application) -> int:
    """Send what the outbox holds (see handlers/outbox.py). Shutdown cancels a long round: the
    messages in flight complete and are recorded, the rest is released for the next process."""
    logs.clear_context()
    async with app.bot_data.setdefault(OUTBOX_LOCK_KEY, asyncio.Lock()):
        deps: Deps = app.bot_data[DEPS_KEY]
        round_task = asyncio.ensure_future(deliver(app.bot, deps, deps.clock.now()))
        app.bot_data[OUTBOX_TASK_KEY] = round_task
        try:
            return await round_task
        except asyncio.CancelledError:
            if not round_task.cancelled():
                raise  # we were cancelled ourselves, not just the round
            return 0
        finally:
            app.bot_data.pop(OUTBOX_TASK_KEY, None)


async def _post_init(app: Application) -> None:
    deps: Deps = app.bot_data[DEPS_KEY]
    async with deps.db.uow() as uow:
        await users.ensure_bootstrap_staff(uow, deps.settings.admin_telegram_ids, deps.settings.default_language, deps.clock.now())
        resynced = await deps.keeper.resync_if_policy_changed(uow)
        if resynced:
            log.info("deadline policy changed: recomputed the clocks of %s open requests", resynced)
        await uow.commit()
        await _set_commands(app, deps.settings)
        for telegram_id in deps.settings.admin_telegram_ids:
            admin = await uow.users.by_telegram_id(telegram_id)
            await menus.apply_for(app.bot, admin, Translator(admin.language, deps.settings.timezone))
    if app.bot_data[SWEEPS_KEY]:
        app.bot_data[SCHEDULER_STARTED_KEY] = app.bot_data[DEPS_KEY].clock.now()
        app.bot_data[SCHEDULER_KEY] = start_sweeps(lambda: run_sweep(app), lambda: run_outbox_round(app))


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


async def _post_stop(app: Application) -> None:
    """After the last update is handled and before the bot's HTTP client and rate limiter close
    (run_polling calls it between the two): no new sweep or outbox round; a running sweep
    finishes, a running round ends with the messages in flight recorded and the rest released."""
    scheduler = app.bot_data.pop(SCHEDULER_KEY, None)
    if scheduler is not None and scheduler.running:
        scheduler.pause()  # no new sweep; a running one finishes (shutdown would cancel it mid-way)
        if isinstance(app.bot.rate_limiter, FloodLimiter):
            app.bot.rate_limiter.give_up_notifications()  # not waiting out a 429 pause for them
        if (round_task := app.bot_data.get(OUTBOX_TASK_KEY)) is not None:
            round_task.cancel()  # see run_outbox_round
        async with app.bot_data.setdefault(SWEEP_LOCK_KEY, asyncio.Lock()), app.bot_data.setdefault(OUTBOX_LOCK_KEY, asyncio.Lock()):
            scheduler.shutdown(wait=False)


async def _post_shutdown(app: Application) -> None:
    await _post_stop(app)  # a start that failed half-way never got to stop
    await app.bot_data[DEPS_KEY].db.dispose()
