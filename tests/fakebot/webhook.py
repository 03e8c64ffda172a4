"""Webhook delivery: while a webhook is set, updates are POSTed to it instead of waiting for getUpdates.

As Telegram does: one update per request, with the secret token in the
`X-Telegram-Bot-Api-Secret-Token` header. A chat's updates go one at a time and in order: the
next only after the previous was answered 2xx. Different chats' updates go at once, up to
`max_connections` requests open (setWebhook, 1–100, default 40). A 2xx answer confirms the
update; anything else (or a connection failure) leaves it queued and it is retried, still ahead
of that chat's later updates. `last_error` keeps what went wrong, as getWebhookInfo reports it.
getUpdates is refused with 409 while a webhook is set.

A `LoadBalancer` (FakeTelegram.balance) stands for a load balancer in front of several bot
processes: the webhook URL is then the balancer's public address, and each update is posted to
the backend(s) the balancer picks — round-robin by default, or both at once when a test says so
(a balancer retrying an update whose first delivery timed out while it was still being handled).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp

from .validation import ApiError, bad_request

if TYPE_CHECKING:
    from .polling import UpdateQueue

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
WEBHOOK_ACTIVE = ApiError(
    409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
RETRY_SECONDS = 0.2  # Telegram backs off for longer; tests need no more than "later"
DEFAULT_MAX_CONNECTIONS = 40


@dataclass
class WebhookTarget:
    url: str
    secret_token: str | None
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class LoadBalancer:
    """Backends behind the webhook URL; `route(update)` names the backend indices to post to.

    Without a route: round-robin, one backend per update (a failed backend's update goes to the
    next one on retry). A route naming several backends posts the update to all of them at once;
    it counts as delivered when any of them answers 2xx.
    """

    backends: list[str]
    route: Callable[[dict], Sequence[int]] | None = None
    received: dict[int, list[int]] = field(default_factory=dict)  # update id -> backends that answered 2xx
    _turn: int = 0

    def pick(self, update: dict) -> list[int]:
        if self.route is not None:
            return list(dict.fromkeys(self.route(update)))
        index = self._turn % len(self.backends)
        self._turn += 1
        return [index]


def check_webhook_params(url: str, secret_token: str | None) -> None:
    """setWebhook's own rules (the fake also accepts http, as a local Bot API server does)."""
    if not url.startswith(("https://", "http://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if secret_token is not None and not (1 <= len(secret_token) <= 256 and set(secret_token) <= SECRET_ALPHABET):
        raise bad_request("secret token contains unallowed characters")


def chat_of(update: dict) -> object:
    """What Telegram keeps in order: the update's chat (a button press: the chat of its message),
    else its sender; an update with neither is ordered with nothing else."""
    for kind, payload in update.items():
        if not isinstance(payload, dict):
            continue
        chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
        if chat:
            return ("chat", chat["id"])
        if payload.get("from"):
            return ("user", payload["from"]["id"])
    return ("update", update["update_id"])


class WebhookSender:
    """Posts queued updates to the target until stopped: per chat in order, chats at once."""

    def __init__(self, queue: UpdateQueue, target: WebhookTarget, balancer: LoadBalancer | None = None) -> None:
        self.queue, self.target, self.balancer = queue, target, balancer
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._posting: dict[object, asyncio.Task] = {}  # chat -> its update's delivery, awaiting the answer
        self._retry_at: dict[object, float] = {}  # chat -> when its failed update may be posted again
        self._changed = asyncio.Event()

    @property
    def open_requests(self) -> int:
        return len(self._posting)

    def start(self) -> None:
        self.queue.listeners.append(self._changed.set)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fake-webhook-sender")

    async def stop(self) -> None:
        self._stopping = True
        if self._changed.set in self.queue.listeners:
            self.queue.listeners.remove(self._changed.set)
        task, self._task = self._task, None
        # Python 3.11's wait_for can swallow a cancel that races with its wakeup: insist until done.
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.1)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                task.result()

    async def _run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            try:
                while not self._stopping:
                    self._changed.clear()
                    for update in self._ready():
                        self._begin(session, update)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), self._next_retry_in())
            finally:  # stopped: connections close, unanswered updates stay queued
                posting = list(self._posting.values())
                for delivery in posting:
                    delivery.cancel()
                await asyncio.gather(*posting, return_exceptions=True)

    def _ready(self) -> list[dict]:
        """Each chat's first queued update, unless that chat waits for an answer or a retry."""
        now, ready, seen = time.monotonic(), [], set()
        room = self.target.max_connections - len(self._posting)
        for update in self.queue.pending():
            chat = chat_of(update)
            if chat in seen:
                continue
            seen.add(chat)
            if chat in self._posting or self._retry_at.get(chat, 0.0) > now:
                continue
            if len(ready) >= room:
                break
            ready.append(update)
        return ready

    def _next_retry_in(self) -> float:
        waits = [at - time.monotonic() for at in self._retry_at.values()]
        return max(min(waits, default=1.0), 0.001)

    def _begin(self, session: aiohttp.ClientSession, update: dict) -> None:
        chat = chat_of(update)
        self._retry_at.pop(chat, None)
        self._posting[chat] = asyncio.get_running_loop().create_task(self._deliver(session, update, chat))

    async def _deliver(self, session: aiohttp.ClientSession, update: dict, chat: object) -> None:
        try:
            delivered = await (self._balance(session, update) if self.balancer else self._post(session, update, self.target.url))
            if delivered:
                self.queue.confirm_one(update["update_id"])
            else:
                self._retry_at[chat] = time.monotonic() + RETRY_SECONDS
        finally:
            del self._posting[chat]
            self._changed.set()

    async def _balance(self, session: aiohttp.ClientSession, update: dict) -> bool:
        """Post to the backends the balancer picks, all at once; delivered if any took it."""
        picked = self.balancer.pick(update)
        answers = await asyncio.gather(*(self._post(session, update, self.balancer.backends[i]) for i in picked))
        took = [index for index, ok in zip(picked, answers) if ok]
        self.balancer.received.setdefault(update["update_id"], []).extend(took)
        return bool(took)

    async def _post(self, session: aiohttp.ClientSession, update: dict, url: str) -> bool:
        headers = {"Content-Type": "application/json"}
        if self.target.secret_token:
            headers[SECRET_HEADER] = self.target.secret_token
        self.queue.mark_delivered(update["update_id"])
        try:
            async with session.post(url, data=json.dumps(update), headers=headers) as response:
                if 200 <= response.status < 300:
                    return True
                error = f"Wrong response from the webhook: {response.status} {response.reason}"
        except aiohttp.ClientError as exc:
            error = f"Connection failed: {exc.__class__.__name__}"
        except TimeoutError:
            error = "Read timeout expired"
        self.target.last_error_date, self.target.last_error_message = int(time.time()), error
        return False
