"""Telegram's flood limits, kept on our side so the desk is rarely told "429 Too Many Requests".

Telegram allows a bot about 30 messages a second in all, one a second in a private chat and 20 a
minute in a group (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
`FloodLimiter` is python-telegram-bot's rate limiter for every call the bot makes:

- all calls share the overall window and every group chat its own 20-a-minute window;
- the one-a-second pace in a private chat applies to *notifications* (calls made with
  `rate_limit_args=NOTIFICATION` by the outbox sender). Direct replies to what a person just sent
  are not paced: they follow that person's own typing, and Telegram tolerates such short bursts;
  holding a two-message reply for a second would only make the desk feel slow;
- several processes sending for one bot keep the pace per chat together: the outbox tells the
  limiter when the chat last got a notification from any of them (`Notification.last_sent`,
  carried by the database), and the pace counts from that too;
- waiting replies go before waiting notifications, so a burst of reminders never delays an answer,
  and otherwise whoever asked first goes first;
- a 429 pauses every call for its `retry_after` (plus a margin) and the call is tried again; a
  notification is never let go once its sender's lease on it is ending (`Notification.in_time`):
  after the lease another process may send the same message.

The windows are sliding logs of send times, the same rule Telegram's counters follow, with an
injected clock and sleep so the rules can be tested without waiting.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from telegram.error import NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FloodLimits:
    overall_per_second: int = 30
    private_chat_interval: float = 1.0  # seconds between two notifications to one person
    group_per_minute: int = 20
    max_retries: int = 3  # 429s in a row before a call gives up and the caller keeps the work for later
    time_scale: float = 1.0  # every window divided by this (tests run Telegram's rules faster)

    def shared_by(self, processes: int) -> FloodLimits:
        """One process's share of the overall limit when `processes` send for the same bot. The
        pace per chat stays whole: it counts from the chat's last notification from any process
        (`Notification.last_sent`)."""
        return replace(self, overall_per_second=max(1, self.overall_per_second // processes))

    def scaled(self, factor: float) -> FloodLimits:
        """The same counts in windows `factor` times shorter."""
        return replace(self, time_scale=self.time_scale * factor)


TELEGRAM_LIMITS = FloodLimits()


@dataclass(frozen=True)
class Notification:
    """`rate_limit_args` of a notification: paced per private chat.

    - `max_wait`: raise `WouldWait` instead of waiting longer than that (the sender leaves the
      message to its background round rather than hold up the update that caused it);
    - `in_time`: asked whenever the call is about to go (its first try and each retry after a
      429); once it says False, the call raises `WouldWait` unsent: the outbox's lease on the
      message is ending, and after it another sender may send the same message;
    - `last_sent`: when the chat last got a notification, from whichever process (seconds on the
      wall clock, `FloodLimiter.wall_time`): the pace counts from it as from one sent here;
    - `paced=False`: a later piece of one message, which follows the first at once, ahead of
      waiting notifications like a reply.
    """

    max_wait: float | None = None
    in_time: Callable[[], bool] | None = None
    last_sent: float | None = None
    paced: bool = True

    def rest_of_message(self) -> Notification:
        """The same notification's later pieces: not paced again, not given up for waiting."""
        return replace(self, max_wait=None, last_sent=None, paced=False)


NOTIFICATION = Notification()
NOTIFICATION_NOW = Notification(max_wait=0.25)


class WouldWait(Exception):
    """A notification could not go in the time its sender allows (`max_wait`, `in_time`) or the
    bot is shutting down; nothing was sent."""


class Window:
    """At most `limit` events in any `seconds`-long interval.

    An event counts from when the call was allowed until `seconds` after its answer came back
    (`done`): Telegram counts from when the request reached it, which may be later than we let
    it go, and two calls should never look closer together to Telegram than to us. A call still
    waiting for its answer counts as made just now, however long ago it was let go: a slow
    answer must not let more calls through than Telegram will count in one window.
    """

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self._times: deque[list[Any]] = deque()  # [time, answered] cells, so `done` can move one later

    def wait_time(self, now: float) -> float:
        while self._times and self._times[0][1] and now - self._times[0][0] >= self.seconds:
            self._times.popleft()
        if len(self._times) < self.limit:
            return 0.0
        latest = sorted(cell[0] if cell[1] else max(cell[0], now) for cell in self._times)
        return max(0.0, latest[-self.limit] + self.seconds - now)

    def record(self, now: float) -> list[Any]:
        cell = [now, False]
        self._times.append(cell)
        return cell

    @staticmethod
    def done(cell: list[Any], now: float) -> None:
        cell[0], cell[1] = max(cell[0], now), True

    def idle(self, now: float) -> bool:
        return self.wait_time(now) == 0.0 and not self._times

    def add_answered(self, at: float) -> None:
        """Count an event answered at `at` that was let go elsewhere (by another process), unless
        one at least as late is known here already."""
        if all(cell[0] < at for cell in self._times):
            self._times.append([at, True])


def retry_after_seconds(error: RetryAfter) -> float:
    """`retry_after` in seconds, whichever type this PTB version gives (it is moving to timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def is_group(chat_id: Any) -> bool:
    """Groups and channels have negative ids (or an @username); people have positive ones."""
    return isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0)


@dataclass
class _Ticket:
    """A caller waiting for a slot; `granted` receives the window cells once it may go."""

    priority: int  # 0 for replies (and the later pieces of a message under way), 1 for notifications
    order: int
    chat: Window | None
    granted: asyncio.Future
    in_time: Callable[[], bool] | None = None

    def chat_wait(self, now: float) -> float:
        return self.chat.wait_time(now) if self.chat is not None else 0.0

    def too_late(self) -> bool:
        return self.in_time is not None and not self.in_time()


class FloodLimiter(BaseRateLimiter[Notification]):
    RETRY_MARGIN = 0.1  # seconds added to retry_after: Telegram counts from its own receipt

    def __init__(
        self,
        limits: FloodLimits = TELEGRAM_LIMITS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.limits, self._clock, self._sleep, self._wall = limits, clock, sleep, wall
        self._overall = Window(limits.overall_per_second, 1.0 / limits.time_scale)
        self._chats: dict[Any, Window] = {}
        self._paused_until = 0.0
        self._waiting: list[_Ticket] = []
        self._tickets = itertools.count()
        self._timer: asyncio.Task | None = None
        self._timer_at = 0.0
        self._giving_up = False  # shutting down: see give_up_notifications

    async def initialize(self) -> None:
        pass  # nothing to open: the windows live in memory

    def wall_time(self) -> float:
        """Now in seconds on the wall clock, which every process reads alike: what the outbox
        records as a chat's last notification, for `Notification.last_sent`."""
        return self._wall()

    async def shutdown(self) -> None:
        """Fail the calls still waiting for a slot: with the timer gone nobody would grant them,
        and a caller awaiting one (the outbox round) would hold up the shutdown for ever."""
        if self._timer is not None:
            self._timer.cancel()
        waiting, self._waiting = self._waiting, []
        for ticket in waiting:
            if not ticket.granted.done():
                ticket.granted.set_exception(NetworkError("the bot is shutting down"))
        self._chats.clear()

    def give_up_notifications(self) -> None:
        """At shutdown: notifications waiting for a slot (a 429 pause can last a minute) and any
        asked for later raise WouldWait, so the outbox releases them for the next process at once
        instead of the shutdown waiting out Telegram's retry_after. Replies still wait their turn."""
        self._giving_up = True
        for ticket in [waiting for waiting in self._waiting if waiting.priority == 1]:
            self._waiting.remove(ticket)
            if not ticket.granted.done():
                ticket.granted.set_exception(WouldWait())

    async def acquire(self, chat_id: Any, notification: Notification | None) -> list[list[Any]]:
        """Wait (or raise WouldWait) until a call to `chat_id` fits every limit, then count it;
        returns the window cells to mark `done` when the call has been answered.

        Slots are handed out by `_grant` in order: replies first, then whoever asked first.
        Without that order some chats would be starved early and their notifications bunch up
        at the end, where only the one-a-second pace applies."""
        if notification is not None and notification.paced and self._giving_up:
            raise WouldWait()
        chat = self._chat_window(chat_id, notification)
        if chat is not None and notification is not None and notification.last_sent is not None:
            # sent by another process (or by this one, which knows it already): count it here too
            ago = min(max(self._wall() - notification.last_sent, 0.0), chat.seconds)
            chat.add_answered(self._clock() - ago)
        ticket = _Ticket(
            1 if notification is not None and notification.paced else 0, next(self._tickets), chat,
            asyncio.get_running_loop().create_future(), notification.in_time if notification is not None else None,
        )
        if ticket.too_late():
            raise WouldWait()
        self._waiting.append(ticket)
        self._grant()
        if not ticket.granted.done() and notification is not None and notification.max_wait is not None:
            now = self._clock()
            if max(self._paused_until - now, self._overall.wait_time(now), ticket.chat_wait(now)) > notification.max_wait:
                self._waiting.remove(ticket)
                raise WouldWait()
        try:
            return await ticket.granted
        except asyncio.CancelledError:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            raise

    def _grant(self) -> None:
        """Hand the free slots to the waiting callers, then sleep until the next one frees."""
        now = self._clock()
        while self._waiting and self._paused_until <= now and self._overall.wait_time(now) <= 0:
            ready = [ticket for ticket in self._waiting if ticket.chat_wait(now) <= 0]
            if not ready:
                break
            ticket = min(ready, key=lambda waiting: (waiting.priority, waiting.order))
            self._waiting.remove(ticket)
            if ticket.too_late():  # waited past its lease (a long 429 pause): it must not go now
                if not ticket.granted.done():
                    ticket.granted.set_exception(WouldWait())
                continue
            cells = [self._overall.record(now)]
            if ticket.chat is not None:
                cells.append(ticket.chat.record(now))
            if not ticket.granted.done():
                ticket.granted.set_result(cells)
        if self._waiting:
            soonest = min(ticket.chat_wait(now) for ticket in self._waiting)
            self._wake_in(max(self._paused_until - now, self._overall.wait_time(now), soonest, 0.0005))

    def _wake_in(self, delay: float) -> None:
        at = self._clock() + delay
        if self._timer is not None and not self._timer.done():
            if self._timer_at <= at:
                return  # an earlier wake-up is already set
            self._timer.cancel()
        self._timer_at = at
        self._timer = asyncio.ensure_future(self._wake_after(delay))

    async def _wake_after(self, delay: float) -> None:
        await self._sleep(delay)
        self._timer = None
        self._grant()

    def _chat_window(self, chat_id: Any, notification: Notification | None) -> Window | None:
        if chat_id is None:
            return None
        if is_group(chat_id):
            window = Window(self.limits.group_per_minute, 60.0 / self.limits.time_scale)
        elif notification is not None and notification.paced:
            window = Window(1, self.limits.private_chat_interval / self.limits.time_scale)
        else:
            return None
        window = self._chats.setdefault(chat_id, window)
        if len(self._chats) > 10_000:  # forget chats that have been quiet for their whole window
            now = self._clock()
            for key in [key for key, old in self._chats.items() if old.idle(now) and key != chat_id]:
                del self._chats[key]
        return window

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Notification | None,
    ) -> Any:
        chat_id = data.get("chat_id")
        for attempt in range(self.limits.max_retries + 1):
            cells = await self.acquire(chat_id, rate_limit_args)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_after_seconds(exc)
                self._paused_until = max(self._paused_until, self._clock() + seconds + self.RETRY_MARGIN)
                log.warning("Telegram flood control on %s: pausing all calls for %s s (attempt %s)", endpoint, seconds, attempt + 1)
                if attempt == self.limits.max_retries:
                    raise
            finally:
                for cell in cells:
                    Window.done(cell, self._clock())
        raise AssertionError("unreachable")
