"""Webhook mode: an aiohttp server that takes Telegram's updates and answers the health probe.

POST <WEBHOOK_PATH> accepts an update only with the right `X-Telegram-Bot-Api-Secret-Token`
header (403 otherwise, and the update is not looked at), handles it, and only then answers 200.
A body that is not an update is logged and answered 200 too: Telegram delivers again anything
not answered 2xx, and such a body would never read any better. An update that failed for a
passing reason (the database unreachable or busy, Telegram's API unreachable: handlers.common.
is_passing) is answered 503, so that Telegram delivers it again rather than it being lost; one
that failed on a handler's own mistake gets the apology and 200, as it would only fail again.
Updates are handled one at a time, in the order they arrived, as in polling mode. GET /healthz
answers the JSON of `bot.ops.health` with 200 when healthy, 503 otherwise.

Why answer after handling: Telegram sends a chat's next update only once the previous one was
answered, and keeps an unanswered update to deliver again. So a fleet behind a load balancer
handles each customer's messages in order (step 4 of a dialog cannot overtake step 3 on another
process), and a process that dies loses nothing it had not answered: the update comes again and
the update-id record (handlers/common.py) drops it if it had in fact been committed.

Shutdown (SIGTERM or SIGINT) is graceful: the update in hand is finished and answered, updates
still waiting for their turn are answered 503 (Telegram delivers them again, to this process once
it is back or to another one), then the scheduler waits for a running sweep and the database is
closed (`bot.app._post_shutdown`). The webhook stays set at Telegram meanwhile.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import os
import signal
from http import HTTPStatus

from aiohttp import web
from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application

from bot.config import HEALTH_PATH, ConfigError, Settings
from bot.ops.health import check_health
from handlers.common import REDELIVER_KEY

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 2 * 1024 * 1024  # an update is JSON of a few kB; refuse anything absurd
SHUTDOWN_SECONDS = 10.0


class WebhookServer:
    """The HTTP side of webhook mode, for one Application."""

    def __init__(self, app: Application, settings: Settings) -> None:
        if not settings.webhook_secret:
            raise ValueError("webhook mode needs WEBHOOK_SECRET")
        self.app, self.settings = app, settings
        self._secret = settings.webhook_secret.encode()
        self._runner: web.AppRunner | None = None
        self._turns = asyncio.Lock()  # first come, first served: one update handled at a time
        self._stopping = False
        self.waiting = 0  # updates received and waiting for their turn
        # Updates that failed for a passing reason (the error handler puts them here): answered 503.
        self._deliver_again: set[int] = app.bot_data.setdefault(REDELIVER_KEY, set())

    @property
    def port(self) -> int:
        """The port actually bound (differs from the setting when that was 0)."""
        assert self._runner is not None, "server not started"
        return self._runner.addresses[0][1]

    async def start(self) -> None:
        server = web.Application(client_max_size=MAX_UPDATE_BYTES)
        server.router.add_post(self.settings.webhook_path, self._receive)
        server.router.add_get(HEALTH_PATH, self._health)
        self._runner = web.AppRunner(server, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.settings.webhook_listen, self.settings.webhook_port).start()
        log.info("webhook server listening on %s:%s (updates at %s, health at %s)",
                 self.settings.webhook_listen, self.port, self.settings.webhook_path, HEALTH_PATH)

    async def stop(self) -> None:
        """Stop taking updates: the one in hand is finished, the waiting ones are left to Telegram."""
        self._stopping = True
        if self.waiting:
            log.info("stopping: %d waiting updates are left for Telegram to deliver again", self.waiting)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.warning("webhook call without the right secret token refused (from %s)", request.remote)
            return web.Response(status=HTTPStatus.FORBIDDEN)
        if self._stopping or not self.app.running:  # Telegram retries later, or delivers to a process still up
            return web.Response(status=HTTPStatus.SERVICE_UNAVAILABLE)
        update = await self._read_update(request)
        if update is None:  # 200: Telegram sends again whatever is not answered 2xx, and it would not read any better
            return web.Response(status=HTTPStatus.OK)
        self.waiting += 1
        try:
            await self._turns.acquire()
        finally:
            self.waiting -= 1
        try:
            if self._stopping or not self.app.running:
                return web.Response(status=HTTPStatus.SERVICE_UNAVAILABLE)
            await self.app.process_update(update)  # a handler's error goes to PTB's error handler (the apology)
        finally:
            self._turns.release()
        if update.update_id in self._deliver_again:  # the database was unreachable, say: Telegram tries again later
            self._deliver_again.discard(update.update_id)
            return web.Response(status=HTTPStatus.SERVICE_UNAVAILABLE)
        return web.Response(status=HTTPStatus.OK)

    async def _read_update(self, request: web.Request) -> Update | None:
        """The update in the body; None (logged, without the body's text) when it is not one."""
        try:
            update = Update.de_json(await request.json(), self.app.bot)
        except Exception as exc:  # not JSON, not an object, a field of the wrong type, a date out of range...
            problem = type(exc).__name__
        else:
            if isinstance(update, Update):
                return update
            problem = "empty"
        log.warning("webhook call with a body that is not an update dropped (%s)", problem)
        return None

    async def _health(self, request: web.Request) -> web.Response:
        health = await check_health(self.app)
        status = HTTPStatus.OK if health.healthy else HTTPStatus.SERVICE_UNAVAILABLE
        return web.json_response(health.as_json(), status=status)


class WebhookDesk:
    """The Application and its webhook server started and stopped together, in the right order."""

    def __init__(self, app: Application, settings: Settings) -> None:
        self.app, self.settings = app, settings
        self.server = WebhookServer(app, settings)

    async def start(self) -> None:
        """Raises ConfigError when the address cannot be bound or Telegram refuses the webhook
        URL: settings to fix, not a failure that starting again would cure. Call `stop` either way."""
        await self.app.initialize()
        if self.app.post_init:
            await self.app.post_init(self.app)
        await self.app.start()
        try:
            await self.server.start()
        except OSError as exc:  # the port is taken or privileged, or the address is not this machine's
            reason = os.strerror(exc.errno) if (exc.errno or 0) > 0 else exc.strerror or str(exc)
            raise ConfigError("WEBHOOK_LISTEN/WEBHOOK_PORT", f"cannot listen on {self.settings.webhook_listen}:"
                              f"{self.settings.webhook_port} ({reason})") from exc
        # Only now tell Telegram where to deliver: every update it sends finds the server up.
        try:
            await self.app.bot.set_webhook(
                self.settings.webhook_url, secret_token=self.settings.webhook_secret,
                allowed_updates=Update.ALL_TYPES, drop_pending_updates=False,
            )
        except BadRequest as exc:  # e.g. a port Telegram does not deliver to
            raise ConfigError("WEBHOOK_URL", f"Telegram refused it: {exc.message}") from exc

    async def stop(self) -> None:
        """No new updates, the accepted ones handled, then the database closed."""
        await self.server.stop()
        try:
            if self.app.running:
                await self.app.stop()
                if self.app.post_stop:
                    await self.app.post_stop(self.app)
        finally:
            await self.app.shutdown()
            if self.app.post_shutdown:
                await self.app.post_shutdown(self.app)


async def serve(app: Application, settings: Settings) -> None:
    """Run in webhook mode until SIGTERM or SIGINT."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    desk = WebhookDesk(app, settings)
    try:
        await desk.start()
        log.info("the desk is running (webhook mode)")
        await stopping.wait()
        log.info("stopping: taking no new updates, finishing the ones in hand")
    finally:
        await desk.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    log.info("stopped")
