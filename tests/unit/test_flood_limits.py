"""The flood limiter's rules (bot/flood.py) on virtual time: no test waits for real seconds."""
from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import defaultdict

import pytest
from telegram.error import NetworkError, RetryAfter

from bot.flood import NOTIFICATION, NOTIFICATION_NOW, TELEGRAM_LIMITS, FloodLimiter, Window, WouldWait

# PTB warns about RetryAfter's future type when one is constructed; this test builds several.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


class VirtualTime:
    """A clock that jumps to the next sleeper's wake-up once every task is waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._order), wake))
        await wake

    async def run(self, *coroutines):
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while not all(task.done() for task in tasks):
            for _ in range(20):  # let every task run until it waits on the clock
                await asyncio.sleep(0)
            if self._sleepers and not all(task.done() for task in tasks):
                at = self._sleepers[0][0]
                self.now = max(self.now, at)
                while self._sleepers and self._sleepers[0][0] <= self.now:
                    wake = heapq.heappop(self._sleepers)[2]
                    if not wake.done():  # a cancelled sleeper
                        wake.set_result(None)
        return [task.result() for task in tasks]


class Telegram:
    """Records when each call reached it; raises the 429s it is told to."""

    def __init__(self, time: VirtualTime) -> None:
        self.time = time
        self.calls: list[tuple[float, object, object]] = []
        self.floods: dict[object, list[int]] = defaultdict(list)

    async def send(self, chat_id, tag):
        if self.floods[chat_id]:
            raise RetryAfter(self.floods[chat_id].pop(0))
        self.calls.append((self.time.now, chat_id, tag))
        return tag


def _limiter(time: VirtualTime) -> FloodLimiter:
    return FloodLimiter(TELEGRAM_LIMITS, clock=time.clock, sleep=time.sleep)


async def _send(limiter: FloodLimiter, telegram: Telegram, chat_id, tag, kind=NOTIFICATION):
    return await limiter.process_request(telegram.send, (chat_id, tag), {}, "sendMessage", {"chat_id": chat_id}, kind)


def _max_in_window(times: list[float], seconds: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= seconds - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_a_burst_of_1000_notifications_goes_out_at_the_overall_limit_and_one_a_second_per_chat():
    time = VirtualTime()
    limiter, telegram = _limiter(time), Telegram(time)

    async def chat(chat_id: int) -> None:
        for n in range(10):  # each person's notifications one after another, as the sender does
            await _send(limiter, telegram, chat_id, (chat_id, n))

    await time.run(*(chat(1000 + i) for i in range(100)))
    assert len(telegram.calls) == 1000
    assert _max_in_window([at for at, _, _ in telegram.calls], 1.0) == 30
    for chat_id in range(1000, 1100):
        mine = [(at, tag) for at, c, tag in telegram.calls if c == chat_id]
        assert [tag[1] for _, tag in mine] == list(range(10))  # in order
        assert all(later - earlier >= 1.0 for (earlier, _), (later, _) in zip(mine, mine[1:]))
    # 1,000 at 30 a second need 33 1/3 s; the limiter loses no more than a second on top.
    assert 1000 / 30 - 1 <= telegram.calls[-1][0] <= 1000 / 30 + 1


async def test_a_group_gets_at_most_20_messages_a_minute():
    time = VirtualTime()
    limiter, telegram = _limiter(time), Telegram(time)

    async def group() -> None:
        for n in range(45):
            await _send(limiter, telegram, -100123, n)

    await time.run(group())
    times = [at for at, _, _ in telegram.calls]
    assert _max_in_window(times, 60.0) == 20
    assert times[19] < 1.0 and 60.0 <= times[20] < 61.0 and 120.0 <= times[40] < 121.0


async def test_replies_are_not_paced_per_chat_but_notifications_are():
    time = VirtualTime()
    limiter, telegram = _limiter(time), Telegram(time)

    async def conversation() -> None:
        for n in range(3):
            await _send(limiter, telegram, 42, ("reply", n), None)
        for n in range(3):
            await _send(limiter, telegram, 42, ("notice", n))

    await time.run(conversation())
    assert [at for at, _, _ in telegram.calls] == [0.0, 0.0, 0.0, 0.0, 1.0, 2.0]


async def test_shutting_down_fails_the_calls_still_waiting_for_their_slot():
    time = VirtualTime()
    limiter, telegram = _limiter(time), Telegram(time)
    await _send(limiter, telegram, 42, "first")
    waiting = asyncio.ensure_future(_send(limiter, telegram, 42, "second"))  # one a second to this chat
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()
    await limiter.shutdown()
    with pytest.raises(NetworkError):
        await waiting
    assert [tag for _, _, tag in telegram.calls] == ["first"]


async def test_a_reply_overtakes_waiting_notifications():
    time = VirtualTime()
    limiter, telegram = _limiter(time), Telegram(time)

    async def notices(chat_id: int) -> None:
        for n in range(5):
            await _send(limiter, telegram, chat_id, n)

    async def reply_later() -> float:
        await time.sleep(0.5)
        asked = time.now
        await _send(limiter, telegram, 7, "reply", None)
        return asked

    results = await time.run(reply_later(), *(notices(1000 + i) for i in range(60)))
    asked = results[0]
    answered = next(at for at, _, tag in telegram.calls if tag == "reply")
    sent_in_between = [at for at, _, tag in telegram.calls if asked <= at < answered]
    assert answered <= asked + 1.0  # the first slot the overall window frees
    assert sent_in_between == []  # no waiting notification took a slot before it


async def test_a_429_pauses_every_call_for_retry_after_and_the_call_is_retried():
    time = VirtualTime()
    limiter, telegram = _limiter(time), Telegram(time)
    telegram.floods[1] = [3]

    async def first() -> None:
        await _send(limiter, telegram, 1, "flooded")

    async def second() -> None:
        await time.sleep(0.5)
        await _send(limiter, telegram, 2, "other chat")

    await time.run(first(), second())
    sent = {tag: at for at, _, tag in telegram.calls}
    assert sent["flooded"] >= 3.0 and sent["other chat"] >= 3.0


async def test_after_max_retries_the_429_reaches_the_caller():
    time = VirtualTime()
    limiter, telegram = _limiter(time), Telegram(time)
    telegram.floods[1] = [1] * (TELEGRAM_LIMITS.max_retries + 1)
    with pytest.raises(RetryAfter):
        await time.run(_send(limiter, telegram, 1, "never"))
    assert telegram.calls == [] and telegram.floods[1] == []


async def test_an_impatient_notification_waits_a_moment_but_not_for_its_chats_pace():
    time = VirtualTime()
    limiter, telegram = _limiter(time), Telegram(time)
    await time.run(_send(limiter, telegram, 5, "first", NOTIFICATION_NOW))
    with pytest.raises(WouldWait):  # a whole second to wait: left to the background round
        await time.run(_send(limiter, telegram, 5, "second", NOTIFICATION_NOW))
    assert [tag for _, _, tag in telegram.calls] == ["first"]
    time.now += 0.8  # 0.2 s left of the pace: worth waiting
    await time.run(_send(limiter, telegram, 5, "third", NOTIFICATION_NOW))
    assert [(at, tag) for at, _, tag in telegram.calls] == [(0.0, "first"), (1.0, "third")]


def test_a_call_still_waiting_for_its_answer_keeps_its_place_in_the_window():
    """A slow answer must not free the call's place: Telegram may receive it at any moment until then."""
    window = Window(1, 1.0)
    slow = window.record(0.0)
    assert window.wait_time(5.0) == pytest.approx(1.0)  # five seconds out, still counted as made just now
    Window.done(slow, 5.2)
    assert window.wait_time(5.5) == pytest.approx(0.7)  # then it counts from its answer
    assert window.wait_time(6.2) == 0.0
