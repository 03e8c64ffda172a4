"""FakeTelegram: a local Bot API server for end-to-end tests of the real bot.

The bot under test runs unchanged (PTB Application, long polling) with its
base_url pointed here. Tests create users, act as them, and assert on what the
bot sent. Whatever Telegram would refuse is refused the same way and recorded
in `rejections`, so a test can end with `fake.assert_no_rejections()`.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from aiohttp import web

from .methods import FLOODABLE, METHODS, SEND_METHODS, Call
from .objects import FileStore, user_object
from .params import coerce_params, read_request
from .polling import UpdateQueue
from .records import ApiCall, Rejection, SentMessage
from .users import FakeUser
from .validation import ApiError, ApiSpec, bad_request
from .webhook import LoadBalancer, WebhookSender, WebhookTarget

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC_PATH = REPO_ROOT.parent / "shared" / "botapi" / "api.json"
_STEP = 0.01  # how often waits re-check state; short enough to add no visible latency


@lru_cache(maxsize=4)
def _load_spec(path: Path) -> ApiSpec | None:
    """The reference is large; read it once per test session."""
    return ApiSpec.load(path)


@dataclass
class FloodRule:
    """An injected 429: hits the next `times` calls matching method/chat."""

    retry_after: int
    times: int
    method: str | None = None
    chat_id: int | None = None

    def matches(self, method: str, params: dict) -> bool:
        if self.method is not None and self.method.lower() != method.lower():
            return False
        if self.method is None and method not in FLOODABLE:
            return False
        return self.chat_id is None or params.get("chat_id") == self.chat_id


@dataclass
class FailureRule:
    """An injected failure (see FakeTelegram.inject_error): hits the next `times` matching calls."""

    error: ApiError
    times: int
    method: str | None = None
    chat_id: int | None = None
    when: Callable[[dict], bool] | None = None

    def matches(self, method: str, params: dict) -> bool:
        return ((self.method is None or self.method.lower() == method.lower())
                and (self.chat_id is None or params.get("chat_id") == self.chat_id)
                and (self.when is None or self.when(params)))


@dataclass
class Stall:
    """A held call (see FakeTelegram.stall_next): Telegram slow to answer it."""

    method: str
    chat_id: int | None
    reached: asyncio.Event = field(default_factory=asyncio.Event)  # the bot's call arrived and waits
    released: asyncio.Event = field(default_factory=asyncio.Event)
    taken: bool = False

    def matches(self, method: str, params: dict) -> bool:
        return (not self.taken and self.method.lower() == method.lower()
                and (self.chat_id is None or params.get("chat_id") == self.chat_id))

    def release(self) -> None:
        self.released.set()


@dataclass
class CallbackQueryRecord:
    user_id: int
    created: float = field(default_factory=time.monotonic)
    answered: bool = False

    def expired(self, ttl: float | None) -> bool:
        return ttl is not None and time.monotonic() - self.created > ttl


class FakeTelegram:
    """A fake Bot API server plus the test-side controls for it."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "service_desk_bot",
        bot_first_name: str = "Service Desk",
        spec_path: Path | None = DEFAULT_SPEC_PATH,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_user = user_object(self.bot_id, bot_first_name, is_bot=True, username=bot_username)
        self.spec = _load_spec(spec_path) if spec_path else None
        self.url: str | None = None

        self.users: dict[int, FakeUser] = {}
        self.files = FileStore()
        self.updates = UpdateQueue()
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.commands: dict[tuple[str, str], list[dict]] = {}
        self.menu_buttons: dict[int | None, dict] = {}

        self.all_calls: list[ApiCall] = []
        self.rejections: list[Rejection] = []
        self.unknown_params: list[tuple[str, str]] = []
        self.unknown_methods: list[str] = []

        # Tunables: tests may change these.
        # Quiet: no API call for this long. Watched applications are joined first (their handlers
        # are done), so this only has to outlast the gap between one update's handling and the next poll.
        self.quiet_seconds = 0.05
        self.action_timeout = 10.0
        self.global_rate_limit = 30  # sends per rate_window, all chats together
        self.chat_rate_limit: int | None = None  # sends per rate_window to one chat
        self.rate_window = 1.0
        self.callback_query_ttl: float | None = 15.0
        self.clock: Callable[[], float] = time.time  # message dates

        self._floods: list[FloodRule] = []
        self._failures: list[FailureRule] = []
        self._stalls: list[Stall] = []
        self._sends: deque[tuple[float, Any]] = deque()
        self._inflight = 0
        self._last_activity = 0.0
        self._seq = 0
        self._watched: list[Any] = []
        self._runner: web.AppRunner | None = None
        self.webhook: WebhookTarget | None = None  # set by setWebhook: updates are POSTed there
        self._webhook_sender: WebhookSender | None = None
        self.balancer: LoadBalancer | None = None  # set by balance(): several bot processes behind the webhook

    # --- lifecycle ------------------------------------------------------------

    async def start(self) -> FakeTelegram:
        self.updates.stopping = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # handler_cancellation: a long poll whose client went away must not linger
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        """Release open long polls and held calls first so shutdown never waits for them."""
        self.updates.release()
        for stall in self._stalls:
            stall.release()
        await self.set_webhook(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def set_webhook(self, target: WebhookTarget | None) -> None:
        """setWebhook / deleteWebhook: start or stop POSTing updates to the bot."""
        if self._webhook_sender is not None:
            await self._webhook_sender.stop()
            self._webhook_sender = None
        self.webhook = target
        if target is not None:
            self._webhook_sender = WebhookSender(self.updates, target, self.balancer)
            self._webhook_sender.start()

    async def balance(self, backends: list[str], route: Callable[[dict], Any] | None = None) -> LoadBalancer:
        """Put a load balancer behind the webhook URL: updates go to `backends` (see LoadBalancer)."""
        self.balancer = LoadBalancer(list(backends), route)
        if self.webhook is not None:  # the running sender picks it up on restart
            await self.set_webhook(self.webhook)
        return self.balancer

    # --- users ----------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str,
        language_code: str | None = "en",
        username: str | None = None,
        last_name: str | None = None,
        started: bool = True,
    ) -> FakeUser:
        """A Telegram user in a private chat with the bot. started=False: they have not opened the
        bot yet, so Telegram answers "chat not found" to anything aimed at them until they write."""
        if user_id in self.users:
            raise ValueError(f"user {user_id} already exists")
        user = FakeUser(
            self,
            user_id,
            first_name,
            language_code=language_code,
            username=username,
            last_name=last_name,
            started=started,
        )
        self.users[user_id] = user
        return user

    def block(self, user_id: int) -> None:
        """The user blocks the bot: every send or edit to them gets 403 from now on."""
        self.users[user_id].blocked = True

    def unblock(self, user_id: int) -> None:
        self.users[user_id].blocked = False

    def messages_to(self, user_id: int) -> list[SentMessage]:
        return self.users[user_id].messages

    def calls(self, method: str) -> list[ApiCall]:
        return [c for c in self.all_calls if c.method.lower() == method.lower()]

    def new_callback_query(self, user: FakeUser) -> str:
        query_id = str(secrets.randbelow(9 * 10**18) + 10**18)
        self.callback_queries[query_id] = CallbackQueryRecord(user.id)
        return query_id

    def now(self) -> int:
        return int(self.clock())

    @property
    def current_seq(self) -> int:
        return self._seq

    def next_seq(self) -> int:
        """A change counter ordering message creations and edits fake-wide."""
        self._seq += 1
        return self._seq

    # --- failure injection and checks -------------------------------------------

    def inject_flood(
        self,
        retry_after: int = 2,
        times: int = 1,
        method: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Make the next `times` matching calls fail with 429 "retry after N".

        method=None matches any call acting on a chat (sends, edits, deletes,
        chat actions, callback answers), never getUpdates.
        """
        self._floods.append(FloodRule(retry_after, times, method, chat_id))

    def inject_error(
        self,
        error_code: int,
        description: str,
        *,
        times: int = 1,
        method: str | None = None,
        chat_id: int | None = None,
        when: Callable[[dict], bool] | None = None,
    ) -> None:
        """Make the next `times` matching calls fail with this error, without effect: a 5xx,
        or a 400 for something the fake would accept. `when` narrows the match by the call's
        parameters (e.g. one piece of a split message, by its text)."""
        self._failures.append(FailureRule(ApiError(error_code, description), times, method, chat_id, when))

    def stall_next(self, method: str, chat_id: int | None = None) -> Stall:
        """Hold the next matching call before it takes effect, until `release()`. A call whose
        bot went away meanwhile (its connection closed) is then dropped without effect."""
        stall = Stall(method, chat_id)
        self._stalls.append(stall)
        return stall

    def assert_no_rejections(self, allow: Callable[[Rejection], bool] | None = None) -> None:
        unexpected = [r for r in self.rejections if not (allow and allow(r))]
        if unexpected:
            listing = "\n  ".join(str(r) for r in unexpected)
            raise AssertionError(
                f"Telegram would have rejected {len(unexpected)} call(s):\n  {listing}"
            )

    # --- synchronisation -------------------------------------------------------

    def watch(self, application: Any) -> None:
        """Also wait for this PTB Application's update queue to drain before "quiet".

        Optional: it makes synchronisation exact for handlers that do slow work
        before their first API call. Applications that are not running are skipped.
        """
        self._watched.append(application)

    async def wait_handled(self, update_id: int, timeout: float | None = None) -> None:
        """Return once the bot fetched the update, moved on, and went quiet."""
        limit = self.action_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        queue = self.updates
        while update_id not in queue.delivered:
            if update_id in queue.dropped:
                raise AssertionError(f"update {update_id} was dropped before the bot fetched it")
            self._check_deadline(
                deadline, f"bot did not pick up update {update_id} within {limit:g}s"
            )
            await asyncio.sleep(_STEP)
        fetched_at = queue.delivered[update_id]
        while not queue.is_confirmed(update_id) and self._last_activity <= fetched_at:
            self._check_deadline(
                deadline,
                f"bot fetched update {update_id} but did nothing with it within {limit:g}s",
            )
            await asyncio.sleep(_STEP)
        await self._quiet(deadline, since=fetched_at, what=f"update {update_id}")

    async def settle(self, timeout: float | None = None) -> None:
        """Wait until the bot has handled every queued update and stopped calling the API."""
        last = self.updates.last_id
        if last >= 1 and last not in self.updates.dropped:
            await self.wait_handled(last, timeout)
            return
        limit = self.action_timeout if timeout is None else timeout
        await self._quiet(time.monotonic() + limit, since=0.0, what="settle()")

    async def _quiet(self, deadline: float, since: float, what: str) -> None:
        await self._join_watched(deadline, what)
        while True:
            idle = time.monotonic() - max(self._last_activity, since)
            posting = self._webhook_sender.open_requests if self._webhook_sender else 0
            if self._inflight == 0 and posting == 0 and idle >= self.quiet_seconds:
                return
            self._check_deadline(
                deadline, f"bot kept calling the API after {what}; it never went quiet"
            )
            await asyncio.sleep(max(min(_STEP, self.quiet_seconds - idle), 0.001))

    async def _join_watched(self, deadline: float, what: str) -> None:
        for application in self._watched:
            if not getattr(application, "running", False):
                continue
            try:
                await asyncio.wait_for(
                    application.update_queue.join(), max(deadline - time.monotonic(), 0.001)
                )
            except TimeoutError:
                raise AssertionError(
                    f"application was still processing updates after {what}"
                ) from None

    @staticmethod
    def _check_deadline(deadline: float, message: str) -> None:
        if time.monotonic() > deadline:
            raise AssertionError(message)

    # --- HTTP -----------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        known = METHODS.get(name.lower())
        call = ApiCall(method=known[0] if known else name, params={}, time=time.time())
        self.all_calls.append(call)
        counts_as_activity = call.method != "getUpdates"
        if counts_as_activity:
            self._inflight += 1
            self._last_activity = time.monotonic()
        try:
            result = await self._execute(call, request)
        except ApiError as error:
            return self._reject(call, error)
        except Exception as exc:  # a bug in the fake: make it loud, never a hang
            return self._reject(call, ApiError(500, f"Internal Server Error: fake failed: {exc!r}"))
        finally:
            if counts_as_activity:
                self._inflight -= 1
                self._last_activity = time.monotonic()
        return web.json_response({"ok": True, "result": result})

    async def _execute(self, call: ApiCall, request: web.Request) -> Any:
        """Token, method, parameters, flood control, then the method itself."""
        if request.match_info["token"] != self.token:
            raise ApiError(401, "Unauthorized")
        raw, files = await read_request(request)
        call.params = raw  # until coerced, so every rejection shows what was sent
        known = METHODS.get(call.method.lower())
        if known is None:
            self.unknown_methods.append(call.method)
            raise ApiError(404, "Not Found")
        call.params = coerce_params(call.method, raw, files, self.spec)
        self._check_against_spec(call)
        await self._wait_if_stalled(call, request)
        self._check_injected(call)
        self._check_flood(call)
        result = await known[1](Call(self, call.method, call.params, files, request))
        if call.method in SEND_METHODS:
            self._sends.append((time.monotonic(), call.params.get("chat_id")))
        return result

    def _check_against_spec(self, call: ApiCall) -> None:
        if self.spec is None:
            return
        for name in self.spec.unknown(call.method, call.params):
            if (call.method, name) not in self.unknown_params:
                self.unknown_params.append((call.method, name))
        missing = self.spec.missing_required(call.method, call.params)
        if missing:
            if call.method == "sendMessage" and missing == ["text"]:
                raise bad_request("message text is empty")
            raise bad_request(f"{missing[0]} is required")

    async def _wait_if_stalled(self, call: ApiCall, request: web.Request) -> None:
        stall = next((s for s in self._stalls if s.matches(call.method, call.params)), None)
        if stall is None:
            return
        stall.taken = True
        stall.reached.set()
        await stall.released.wait()
        if request.transport is None or request.transport.is_closing():
            raise ApiError(499, "the bot closed the connection: the call had no effect")

    def _check_injected(self, call: ApiCall) -> None:
        for rule in self._failures:
            if rule.times > 0 and rule.matches(call.method, call.params):
                rule.times -= 1
                raise replace(rule.error)  # a fresh one each time

    def _check_flood(self, call: ApiCall) -> None:
        for rule in self._floods:
            if rule.times > 0 and rule.matches(call.method, call.params):
                rule.times -= 1
                raise _too_many(rule.retry_after)
        if call.method not in SEND_METHODS:
            return
        now = time.monotonic()
        while self._sends and now - self._sends[0][0] >= self.rate_window:
            self._sends.popleft()
        self._check_rate([t for t, _ in self._sends], self.global_rate_limit, now)
        chat_id = call.params.get("chat_id")
        self._check_rate([t for t, c in self._sends if c == chat_id], self.chat_rate_limit, now)

    def _check_rate(self, times: list[float], limit: int | None, now: float) -> None:
        if limit is not None and len(times) >= limit:
            oldest = times[-limit]
            raise _too_many(max(1, math.ceil(self.rate_window - (now - oldest))))

    def _reject(self, call: ApiCall, error: ApiError) -> web.Response:
        call.error_code = error.error_code
        self.rejections.append(
            Rejection(
                call.method,
                call.params,
                error.error_code,
                error.description,
                error.parameters,
                call.time,
            )
        )
        body: dict[str, Any] = {
            "ok": False,
            "error_code": error.error_code,
            "description": error.description,
        }
        if error.parameters:
            body["parameters"] = error.parameters
        return web.json_response(body, status=error.error_code)

    async def _handle_file(self, request: web.Request) -> web.Response:
        """Downloads via base_file_url: the bytes uploaded, or placeholder content."""
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        record = self.files.by_path(request.match_info["path"])
        if record is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(
            body=record.data, content_type=record.mime_type or "application/octet-stream"
        )


def _too_many(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )
