"""The update queue behind getUpdates, with Telegram's confirmation semantics.

An update stays queued until a getUpdates call passes an offset above its id,
so a bot that is killed after fetching but before confirming gets the same
update again when it restarts. Only one long poll may be open: a newer
getUpdates ends the older one with 409 Conflict, as Telegram does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from .validation import ApiError

ALL_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
# What Telegram sends when allowed_updates was never set or set to [].
DEFAULT_UPDATE_TYPES = ALL_UPDATE_TYPES - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


class UpdateQueue:
    """Pending updates, long-poll waiting, and a record of what was delivered when."""

    def __init__(self, first_update_id: int = 1) -> None:
        self._pending: list[dict] = []
        self._next_id = first_update_id
        self._wakeup = asyncio.Event()
        self._generation = 0
        self.allowed: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.delivered: dict[int, float] = {}  # update_id -> monotonic time first handed out
        self.confirmed_below = first_update_id  # every id below this is confirmed
        self.dropped: set[int] = set()
        self.stopping = False
        self.listeners: list[Callable[[], None]] = []  # told of every new update (the webhook sender)

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def last_id(self) -> int:
        return self._next_id - 1

    def push(self, kind: str, payload: dict) -> int | None:
        """Queue an update of type `kind`; None if the bot's allowed_updates filters it out."""
        update_id = self._next_id
        self._next_id += 1
        if kind not in self.allowed:
            self.dropped.add(update_id)
            return None
        self._pending.append({"update_id": update_id, kind: payload})
        self._wake()
        return update_id

    def drop_pending(self) -> None:
        """deleteWebhook(drop_pending_updates=True): forget everything queued."""
        self.dropped.update(u["update_id"] for u in self._pending)
        self._pending.clear()
        self.confirmed_below = self._next_id

    # --- webhook delivery (tests/fakebot/webhook.py) ---------------------------

    def pending(self) -> list[dict]:
        return list(self._pending)

    def mark_delivered(self, update_id: int) -> None:
        self.delivered.setdefault(update_id, time.monotonic())

    def is_confirmed(self, update_id: int) -> bool:
        if update_id < self.confirmed_below:
            return True
        return update_id in self.delivered and all(u["update_id"] != update_id for u in self._pending)

    def confirm_one(self, update_id: int) -> None:
        """The webhook answered 2xx: this update is done with (others of other chats may still wait)."""
        self._pending = [u for u in self._pending if u["update_id"] != update_id]
        self.confirmed_below = max(self.confirmed_below, self._pending[0]["update_id"] if self._pending else self._next_id)

    def release(self) -> None:
        """Server shutdown: end every open long poll now."""
        self.stopping = True
        self._wake()

    def _wake(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()
        for listener in self.listeners:
            listener()

    def _apply_offset(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset < 0:
            keep = self._pending[offset:]
            self.dropped.update(
                u["update_id"] for u in self._pending[: len(self._pending) - len(keep)]
            )
            self._pending = keep
            return
        self._pending = [u for u in self._pending if u["update_id"] >= offset]
        self.confirmed_below = max(self.confirmed_below, offset)

    async def poll(
        self,
        offset: int | None,
        limit: int | None,
        timeout: float | None,
        allowed: list[str] | None,
        abandoned: Callable[[], bool],
    ) -> list[dict]:
        """One getUpdates call: confirm, then return pending updates or wait for some."""
        self._apply_offset(offset)
        if allowed is not None:
            self.allowed = frozenset(allowed) or DEFAULT_UPDATE_TYPES
        self._generation += 1
        mine = self._generation
        self._wake()  # an older long poll sees the new generation and ends
        limit = min(max(limit or 100, 1), 100)
        deadline = time.monotonic() + max(float(timeout or 0), 0.0)
        while True:
            wakeup = self._wakeup
            if self._generation != mine:
                if await _gone_soon(abandoned):
                    return []
                raise ApiError(409, CONFLICT)
            batch = self._pending[:limit]
            remaining = deadline - time.monotonic()
            if batch or self.stopping or remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)
        if abandoned():
            return []
        now = time.monotonic()
        for update in batch:
            self.delivered.setdefault(update["update_id"], now)
        return list(batch)


async def _gone_soon(abandoned: Callable[[], bool], grace: float = 0.05) -> bool:
    """A poller cancelled by its own bot (e.g. PTB's Updater.stop) is not a conflict.

    Its client closes the connection just before the bot's final getUpdates
    arrives; give the close a moment to be noticed before answering 409.
    """
    deadline = time.monotonic() + grace
    while not abandoned():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True
