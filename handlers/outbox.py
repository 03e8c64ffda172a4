"""The outbox sender: delivers notifications and reminders under Telegram's flood limits.

Every message to somebody other than the person acting is an outbox row written with the change
that caused it (bot/services/notices.py, reminders, maintenance, follow-ups, the monthly
report…). `deliver` sends them:

- A round claims the due rows of up to PEOPLE_PER_ROUND people, each person's oldest
  PER_PERSON_PER_ROUND (with all their deadline reminders when one is among them: those go as
  one digest), and no other sender serves a person while their claim lives (storage:
  `claim_people`), so a person's messages go out in the order they were caused, whichever
  process sends them. The rest waits for the next round, so one long queue never holds up
  the next round, nor costs it more than a short one.
- People are served in parallel (up to CONCURRENT_CHATS): the pace is one message a second per
  chat, so only many chats at once reach the overall ~30 a second. The pacing itself is the
  bot's rate limiter (bot/flood.py); calls made here are marked as notifications for it. The
  time of a person's last message goes into the database with it (storage: ChatPace), so the
  next process to serve them keeps the pace from it too.
- Each message is marked sent as soon as Telegram accepted it, in its own short transaction
  (no transaction stays open while Telegram answers). A long message goes out in pieces; when a
  later piece fails, the pieces that arrived are recorded and a retry goes on after them.
- Nothing is let go once the lease is about to end (LEASE_MARGIN before it): the limiter gives
  such a message back unsent however long it waited (a 429's retry_after can outlast the lease),
  as after the lease another sender may claim it; and rows are given back only while they are
  still under this sender's lease.
- Cancelled mid-burst (shutdown, or the task killed), the message in flight completes and is
  recorded, and the person's other rows are released at once for the next sender: nothing is
  lost or sent twice. A process killed outright cannot know whether Telegram got the message it
  had in flight; after the lease another sender sends that one again (at least once, never lost).
- 429 after the limiter's own retries: the person's rows stay held until `retry_after` has
  passed. 403: the person is marked unreachable, staff are told once (notices.blocked), their
  rows are closed as "blocked", and a deadline reminder among them goes to who stands in for them
  on the clock's chain, naming them (reminders.reroute_unreached; so do rows found for someone
  already unreachable). A row addressed by a role (notices.FOR_ROLE) or an approval card is not
  sent to someone who no longer holds the role (the card goes to who decides the step now). 400: that message is closed as "rejected" and logged (also when
  it is a later piece that Telegram refuses: trying again would not help, and the first pieces
  arrived).
- A network error or timeout: the message is tried again after NETWORK_RETRY. Telegram may have
  delivered it before the answer was lost, so such a message (of a long one, the piece that
  failed) can arrive twice (at least once; an API without idempotency keys allows no better).
  Photos or voice notes that fail after their message went out are logged, not retried: that
  would send the message twice.

The handler wrapper calls `deliver_now` right after its commit for the people it notified, so
notifications arrive at once; anything that would have to wait for the pace (and anybody with a
queue of messages already waiting) is left to the background round (bot/scheduler.py), which
every process runs every second.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot import approval_views, clock_views, escalation_views, notice_views, stock_views
from bot.flood import NOTIFICATION, NOTIFICATION_NOW, FloodLimiter, Notification, WouldWait, retry_after_seconds
from bot.i18n import Translator
from bot.services import approvals, complaints, escalation, followups, maintenance, notices, reminders, statistics, stock
from bot.services.dispatch import is_dispatcher
from bot.services.requests import dispatchers
from bot.views import View
from handlers import approvals as approval_handlers
from handlers import complaints as complaint_handlers
from handlers import followups as followup_handlers
from handlers import maintenance as maintenance_handlers
from handlers import reports as report_handlers
from handlers.common import Deps, PartlySent, send, send_photos
from storage.db import UnitOfWork
from storage.models import Approval, ApprovalPost, OutboxMessage, User
from storage.repositories import PIECES_SENT

log = logging.getLogger(__name__)
CLOSED_BY_TIMEOUT = "closed_by_timeout"  # kind: a report closed because the customer did not answer
CLOSED_BY_TIMEOUT_STAFF = "closed_by_timeout_staff"  # kind: the same, to its engineer and the dispatchers
# What someone who left the staff still gets, as a customer (notices.may_reach); a VIEW addressed
# to them as staff is not queued once they left (its caller checks), other staff kinds are dropped.
_FOR_CUSTOMERS = frozenset({notices.VIEW, maintenance.CUSTOMER_REMINDER, complaints.OUTBOX_KIND, CLOSED_BY_TIMEOUT})
PEOPLE_PER_ROUND = 200
CONCURRENT_CHATS = 64  # people served at once: enough to fill the overall limit at one message a second each
LEASE = timedelta(minutes=5)  # a sender that died holding rows gives them up after this
# Nothing is let go later than this before the lease ends: Telegram may take the call's time-outs
# (~20 s) to receive it, and the lease must still be ours by then.
LEASE_MARGIN = timedelta(seconds=30)
NETWORK_RETRY = timedelta(seconds=30)  # Telegram unreachable: try this person again after
RECORD_ATTEMPTS = 5  # of recording a sent message, each waiting up to the database's busy timeout
# After a commit, people with more messages than this waiting are left to the background round:
# at one message a second per chat the new one could not go out at once anyway, and composing a
# long queue only to give it back would cost every update that adds to it.
IMMEDIATE_MAX_WAITING = 3
# A round sends at most this many messages to one person and gives the rest back for the next
# round: at one a second per chat, a long queue would otherwise keep the round (and everybody
# else's reminders waiting for the next one) going for as many seconds as that queue is long.
PER_PERSON_PER_ROUND = 3


@dataclass
class Parcel:
    """One message to send (a view, maybe with photos or voice notes), covering outbox rows."""

    ids: list[int]
    view: View | None  # None for a monthly report, which is built as it is sent
    photos: tuple[str, ...] = ()
    voices: tuple[str, ...] = ()
    approval_step: tuple[int, int] | None = None  # (approval id, step): remember where the card went
    report: tuple[int, Translator] | None = None  # (month code, reader's translator): the monthly report
    start: int = 0  # pieces of a long message that went out before a later one failed: go on after them


async def deliver(bot: Any, deps: Deps, now: datetime, *, user_ids: Collection[int] | None = None, patient: bool = True) -> int:
    """Send the due outbox rows (of `user_ids` only, when given); returns how many messages went out.

    `patient=False` is the after-commit path: a message that would have to wait for the pace
    longer than a moment is left for the background round instead of holding up the update."""
    gate = asyncio.Semaphore(CONCURRENT_CHATS)
    sent = 0
    while True:
        async with deps.db.uow() as uow:
            claimed = await uow.outbox.claim_people(now, LEASE, PEOPLE_PER_ROUND, user_ids,
                                                    max_waiting=None if patient else IMMEDIATE_MAX_WAITING,
                                                    per_person=PER_PERSON_PER_ROUND, digest_kind=reminders.DEADLINE)
            await uow.commit()
        if not claimed:
            return sent
        by_person: dict[int, list[OutboxMessage]] = {}
        for message in claimed:
            by_person.setdefault(message.user_id, []).append(message)
        # return_exceptions: a cancelled or failing round still lets every person's task finish
        # its message in flight and release the rest before the round ends.
        results = await asyncio.gather(
            *(_serve(bot, deps, person_id, rows, now, patient, gate) for person_id, rows in by_person.items()), return_exceptions=True,
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            raise failures[0]
        sent += sum(results)
        if user_ids is not None:
            return sent  # after a commit: one round for the people just notified
        now = max(now, deps.clock.now())


async def deliver_now(bot: Any, deps: Deps, user_ids: Collection[int]) -> None:
    """Right after a handler's commit: send what it queued, waiting a moment at most for the pace."""
    try:
        await deliver(bot, deps, deps.clock.now(), user_ids=user_ids, patient=False)
    except Exception:  # the update itself is done and committed; the background round retries
        log.exception("immediate delivery failed; the outbox keeps the messages for the next round")


async def _serve(bot: Any, deps: Deps, person_id: int, rows: list[OutboxMessage], now: datetime, patient: bool, gate: asyncio.Semaphore) -> int:
    """Send one person's claimed rows in order; returns how many messages went out.

    Cancelled at any point, the message in flight completes and is recorded and every other row
    of the person is released, so the next sender takes them at once."""
    untouched = {row.id for row in rows}  # claimed, neither sent nor closed nor released yet
    lease = now + LEASE  # what the claim set: these rows are ours while their claimed_until says so
    try:
        async with gate:
            async with deps.db.uow() as uow:
                person = await uow.users.get(person_id)
                chat_id, parcels = await _compose(deps, uow, person, rows, now)
                silent = untouched - {row_id for parcel in parcels for row_id in parcel.ids}
                if silent:  # somebody acted meanwhile (or the person cannot be reached): nothing to say
                    if chat_id is None and person is not None and not person.is_reachable:
                        # queued as they were marked unreachable (the block's sender did not see these
                        # rows yet): an answer promised as delivered goes back to its sender, as after
                        # a 403, and their reminders to who stands in for them
                        await notices.answers_undelivered(uow, person.id, now, only=silent)
                        await reminders.reroute_unreached(uow, deps.policy, person, [row for row in rows if row.id in silent], now)
                    await _close(uow, sorted(silent), now, "obsolete" if chat_id else "unreachable")
                last_sent = await uow.outbox.notified_at(person_id) if parcels else None
                await uow.commit()
            untouched -= silent
            send_by = lease - LEASE_MARGIN
            pace = replace(NOTIFICATION if patient else NOTIFICATION_NOW, in_time=lambda: deps.clock.now() < send_by,
                           last_sent=last_sent.timestamp() if last_sent is not None else None)
            sent = 0
            for index, parcel in enumerate(parcels):
                if index == PER_PERSON_PER_ROUND:  # the rest goes back, oldest first, for the next round
                    rest = [row_id for later in parcels[index:] for row_id in later.ids]
                    await _release(deps, rest, None, lease)
                    untouched -= set(rest)
                    break
                in_flight = asyncio.ensure_future(_send_parcel(bot, deps, person_id, chat_id, parcel, pace, lease, now))
                try:
                    outcome = await asyncio.shield(in_flight)
                except asyncio.CancelledError:
                    # let the message in flight complete and be recorded; one still waiting for its
                    # slot at shutdown comes back "busy" (FloodLimiter.give_up_notifications) and is released
                    if await in_flight in ("sent", "rejected"):
                        untouched -= set(parcel.ids)
                    raise
                untouched -= set(parcel.ids)
                if outcome == "sent":
                    sent += 1
                elif outcome != "rejected":  # the rest waits (or is closed) with this one, keeping the order
                    await _stop(deps, person_id, chat_id, parcels[index:], outcome, lease, now)
                    untouched.clear()
                    break
            return sent
    except BaseException:  # cancelled, or a failure (a busy database): the next sender takes the rest at once
        await _release(deps, sorted(untouched), None, lease)
        raise


async def _send_parcel(bot: Any, deps: Deps, person_id: int, chat_id: int, parcel: Parcel, pace: Notification,
                       lease: datetime, now: datetime) -> str | timedelta:
    """Send and record one parcel: "sent", "rejected", "blocked", "busy", or how long to hold it."""
    try:
        message = await _send_message(bot, deps, chat_id, parcel, pace, lease)
    except WouldWait:
        return "busy"
    except Forbidden:
        return "blocked"
    except RetryAfter as exc:
        log.warning("outbox: Telegram still asks to wait after retries; holding the messages for %s s", retry_after_seconds(exc))
        return timedelta(seconds=retry_after_seconds(exc))
    except BadRequest as exc:
        log.error("outbox message rejected by Telegram (after %s of its pieces went out): %s", parcel.start, exc)
        async with deps.db.uow() as uow:
            await _close(uow, parcel.ids, now, "rejected")
            await uow.commit()
        return "rejected"
    except TelegramError as exc:
        log.warning("outbox message not sent (%s); retrying in %s s", exc, NETWORK_RETRY.total_seconds())
        return NETWORK_RETRY
    answered = datetime.fromtimestamp(_wall_time(bot), timezone.utc)
    await _record_sent(deps, person_id, chat_id, parcel, message.message_id if message is not None else None, answered, now)
    await _send_attachments(bot, chat_id, parcel)  # after the record: waiting out a 429 here cannot outlast the lease of a sent message
    return "sent"


async def _send_message(bot: Any, deps: Deps, chat_id: int, parcel: Parcel, pace: Notification, lease: datetime) -> Any:
    """The parcel's message. When a later piece of a long one fails, the pieces that went out are
    recorded (a retry goes on after them), then the piece's own failure is raised."""
    try:
        if parcel.report is not None:
            month_code, translator = parcel.report
            return await report_handlers.send_queued(bot, deps, chat_id, translator, month_code, pace, start=parcel.start)
        return await send(bot, chat_id, parcel.view, rate_limit_args=pace, start=parcel.start)
    except PartlySent as partial:
        parcel.start = partial.pieces
        async with deps.db.uow() as uow:
            await uow.outbox.note_pieces_sent(parcel.ids, partial.pieces, lease)
            await uow.commit()
        raise partial.error from partial


def _wall_time(bot: Any) -> float:
    """The rate limiter's wall clock (ChatPace is on it), or the system's for a stand-in bot."""
    limiter = getattr(bot, "rate_limiter", None)
    return limiter.wall_time() if isinstance(limiter, FloodLimiter) else time.time()


async def _record_sent(deps: Deps, person_id: int, chat_id: int, parcel: Parcel, message_id: int | None, answered: datetime,
                       now: datetime) -> None:
    """Telegram has the message (`answered`, on the wall clock): not recording it would send it
    again once the lease ends, so a busy database (SQLite held by an update waiting out a 429) is
    waited for, not given up on."""
    attempt = 1
    while True:
        try:
            async with deps.db.uow() as uow:
                await _close(uow, parcel.ids, now)
                await uow.outbox.note_notified(person_id, answered)
                if parcel.approval_step is not None and message_id is not None:
                    approval_id, step = parcel.approval_step
                    await uow.approvals.add_post(ApprovalPost(approval_id=approval_id, step=step, user_id=person_id, chat_id=chat_id, message_id=message_id))
                await uow.commit()
            return
        except TimeoutError:
            if attempt == RECORD_ATTEMPTS:
                raise
            attempt += 1
            log.warning("outbox: a sent message could not be recorded yet (the database is busy); trying again")


async def _send_attachments(bot: Any, chat_id: int, parcel: Parcel) -> None:
    """The photos and voice notes after their message (part of the same notification: not paced
    again). The message is out, so a failure here does not send the parcel again (the person
    would get the card twice, buttons and all): it is logged, and the request keeps the files."""
    try:
        if parcel.photos:
            await send_photos(bot, chat_id, parcel.photos)
        for voice in parcel.voices:
            await bot.send_voice(chat_id, voice)
    except TelegramError as exc:
        log.warning("outbox: a message went out but its attachments did not (%s: %s); not sent again", type(exc).__name__, exc)


async def _stop(deps: Deps, person_id: int, chat_id: int, rest: list[Parcel], outcome: str | timedelta, lease: datetime, now: datetime) -> None:
    """This person's remaining messages after a failure: closed (blocked), released (busy) or held
    (held rows keep the person's later, unclaimed ones back too: nobody claims a person with a live lease)."""
    if outcome == "blocked":
        async with deps.db.uow() as uow:
            # every unsent row of theirs, not only those of this round: none can be delivered now
            await notices.answers_undelivered(uow, person_id, now)  # promised as delivered: its sender is told
            await notices.blocked(uow, chat_id, now)
            unsent = [row for row in await uow.outbox.of_user(person_id) if row.sent_at is None]
            person = await uow.users.get(person_id)
            if person is not None:  # a reminder to them goes to who stands in for them, saying whom it missed
                await reminders.reroute_unreached(uow, deps.policy, person, unsent, now)
            await _close(uow, [row.id for row in unsent], now, "blocked")
            await uow.commit()
        return
    await _release(deps, [row_id for parcel in rest for row_id in parcel.ids], None if outcome == "busy" else now + outcome, lease)


async def _close(uow: UnitOfWork, ids: list[int], now: datetime, failure: str | None = None) -> None:
    """Mark rows done (sent, or why not) and forget the texts they carried."""
    await uow.outbox.finish(ids, now, failure)
    await uow.outbox.forget_texts(ids, notices.VIEW)


async def _release(deps: Deps, ids: list[int], until: datetime | None, lease: datetime) -> None:
    """Give claimed rows back to the next sender (at once, or held until `until`), those still
    under this sender's `lease`."""
    if ids:
        async with deps.db.uow() as uow:
            await uow.outbox.release(ids, until, lease)
            await uow.commit()


# --- what each kind of row says, as of sending ---------------------------------------------------


def _parcel_from_payload(message: OutboxMessage) -> Parcel:
    payload = message.payload
    return Parcel([message.id], View.from_payload(payload), tuple(payload.get("photos", ())), tuple(payload.get("voices", ())))


async def _compose(deps: Deps, uow: UnitOfWork, user: User | None, messages: list[OutboxMessage], now: datetime) -> tuple[int | None, list[Parcel]]:
    """The chat to write to (None: the person cannot be reached) and what to send, in order.

    Rows left out of every parcel have nothing left to say (somebody acted meanwhile, or it was
    staff news for someone who has left since)."""
    if user is None or not await notices.may_reach(uow, user):
        return None, []
    messages = await _for_holders(uow, user, messages, now)  # a staff kind for a role they no longer hold: passed on
    if not user.is_active:  # left the staff: a customer again, who gets only what customers get
        messages = [m for m in messages if m.kind in _FOR_CUSTOMERS]
    messages = [m for m in messages if notices.still_for(user, m)]  # addressed by a role they no longer hold: not theirs
    _ = Translator(user.language, deps.settings.timezone)
    parcels: list[Parcel] = []
    deadline_rows = [m for m in messages if m.kind == reminders.DEADLINE]
    unreached_rows: dict[int, list[OutboxMessage]] = {}  # reminders passed on to them, by whom they missed: one message each
    for m in messages:
        if m.kind == reminders.UNREACHED:
            unreached_rows.setdefault(m.payload.get("person_id", 0), []).append(m)
    for message in messages:
        view = None
        if message.kind == notices.VIEW:
            parcels.append(_parcel_from_payload(message))
        elif message.kind == notices.APPROVAL:
            if parcel := await _approval_card(deps, uow, user, message, _, now):
                parcels.append(parcel)
        elif message.kind == reminders.DEADLINE and message is deadline_rows[0]:  # all of them as one digest
            items = await reminders.deadline_items(uow, deps.policy, user, deadline_rows, now)
            if items:
                missed = await _missed_by(uow, deadline_rows, {item.clock.id for item in items})
                parcels.append(Parcel([m.id for m in deadline_rows], clock_views.digest(_, items, now, dispatcher=is_dispatcher(user), missed=missed)))
        elif message.kind == reminders.UNREACHED and message is unreached_rows[message.payload.get("person_id", 0)][0]:
            group = unreached_rows[message.payload.get("person_id", 0)]
            missed = await uow.users.get(message.payload.get("person_id", 0))
            items = await reminders.deadline_items(uow, deps.policy, user, group, now) if missed is not None else []
            if items:
                parcels.append(Parcel([m.id for m in group], clock_views.unreached_digest(_, missed, items, now, dispatcher=is_dispatcher(user))))
        elif message.kind == notices.UNREACHABLE:
            found = await notices.unreachable(uow, message.payload["person_id"], user)
            view = notice_views.unreachable_alert(_, found) if found else None
        elif message.kind == notices.ANSWER_UNDELIVERED:
            found = await notices.undelivered_answer(uow, message.payload["complaint_id"])
            view = notice_views.answer_undelivered(_, *found) if found else None
        elif message.kind == stock.STOCK_LOW and await stock.still_low(uow, message.payload["part_id"]):
            view = stock_views.stock_low(_, message.payload)  # restocked meanwhile: nothing to say
        elif message.kind in maintenance.OUTBOX_KINDS:
            view = await maintenance_handlers.compose(uow, user, message, _)
        elif message.kind == followups.DIGEST:
            view = await followup_handlers.digest_view(uow, user, message, _)
        elif message.kind == complaints.OUTBOX_KIND:
            view = await complaint_handlers.compose(uow, user, message, _)  # an answer held over quiet hours
        elif message.kind == statistics.OUTBOX_KIND and statistics.may_read(user):
            parcels.append(Parcel([message.id], None, report=(message.payload["month"], _)))
        elif message.kind == CLOSED_BY_TIMEOUT:
            view = notice_views.closed_by_timeout(_, message.payload["number"], message.payload["hours"])
        elif message.kind == CLOSED_BY_TIMEOUT_STAFF:
            view = notice_views.closed_by_timeout_for_staff(_, message.payload["number"], message.payload["hours"])
        elif message.kind == escalation.CASE_CLOSED:  # rendered as sent: said only while the case stays closed and unanswered
            found = await escalation.closed_case(uow, message.payload["escalation_id"])
            view = escalation_views.case_closed(_, *found) if found else None
        elif message.kind == escalation.CASE_REPLACED:
            found = await escalation.replaced_case(uow, message.payload["escalation_id"])
            view = escalation_views.case_replaced(_, *found) if found else None
        if view is not None:
            parcels.append(Parcel([message.id], view))
    by_id = {message.id: message for message in messages}
    for parcel in parcels:  # a long message whose first pieces went out before: on from there
        parcel.start = max(by_id[row_id].payload.get(PIECES_SENT, 0) for row_id in parcel.ids)
    return user.telegram_id, parcels


async def _missed_by(uow: UnitOfWork, rows: list[OutboxMessage], clock_ids: set[int]) -> list[User]:
    """Whom the same reminders could not reach (reminders.MISSED), of the clocks still in the digest."""
    missed: dict[int, User] = {}
    for row in rows:
        if row.payload.get("clock_id") in clock_ids:
            for person_id in row.payload.get(reminders.MISSED, []):
                if person_id not in missed and (person := await uow.users.get(person_id)) is not None:
                    missed[person_id] = person
    return list(missed.values())


async def _approval_card(deps: Deps, uow: UnitOfWork, user: User, message: OutboxMessage, _: Translator, now: datetime) -> Parcel | None:
    """An approval step's card, unless the step was decided before the card could go out, or the
    reader may no longer decide it (their role withdrawn meanwhile): then it is not theirs to read,
    and whoever decides the step now and has no card of it yet is sent one."""
    approval = await uow.approvals.get(message.payload["approval_id"])
    if approval is None or approval.status not in approvals.OPEN or approval.step != message.payload["step"]:
        return None
    if not approvals.may_decide(deps.policy, user, approval):
        await _pass_card_on(deps, uow, approval, now)
        return None
    request = await uow.requests.get(approval.request_id)
    requester = await uow.users.get(approval.requested_by_id)
    view = approval_views.approver_card(_, approval, request, requester, await approvals.questions_and_answers(uow, approval),
                                        reason=await approval_handlers.reason_for(uow, _, approval))
    return Parcel([message.id], view, approval_step=(approval.id, approval.step))


async def _pass_card_on(deps: Deps, uow: UnitOfWork, approval: Approval, now: datetime) -> None:
    """An open step's card that its reader may no longer decide: each approver of the step who
    holds no card of it and has none coming gets one (keyed per step and person: once)."""
    posted = {post.user_id for post in await uow.approvals.posts(approval.id, approval.step)}
    for approver in await approvals.approvers(uow, deps.policy, approval):
        if approver.id in posted:
            continue
        coming = [row for row in await uow.outbox.of_user(approver.id) if row.kind == notices.APPROVAL and row.failure is None
                  and row.payload.get("approval_id") == approval.id and row.payload.get("step") == approval.step]
        if not coming:
            await notices.queue(uow, approver, notices.APPROVAL, {"approval_id": approval.id, "step": approval.step},
                                f"{notices.APPROVAL}:{approval.id}:{approval.step}:{approver.id}", now)


# --- who each staff kind is for, as of sending ----------------------------------------------------


@dataclass(frozen=True)
class _Reach:
    """Who a staff kind of row is for, checked as it is sent. `holds`: the reader still holds the
    role it reached them by (else it is not theirs to read: it names customers, parts, complaints).
    `holders_now`: where the work still needs doing, who holds that role now (they get it instead;
    None: news only, dropped). `person_at`: the reader's id among the key's ':'-parts, replaced by
    each new reader's, so the producer's key per person stands and nobody gets it twice."""

    holds: Callable[[User], bool]
    holders_now: Callable[[UnitOfWork, OutboxMessage], Awaitable[list[User]]] | None = None
    person_at: int = -1


def _has_role(*roles: str) -> Callable[[User], bool]:
    return lambda user: user.is_active and bool(user.role_names & set(roles))


async def _complaint_readers_now(uow: UnitOfWork, message: OutboxMessage) -> list[User]:
    """An answer promised as delivered that was not: the complaint's supervisors now must give it."""
    found = await complaints.for_delivery(uow, message.payload.get("complaint_id", 0))
    return await complaints.supervisors(uow, found[0]) if found is not None else []


async def _warehouse_now(uow: UnitOfWork, message: OutboxMessage) -> list[User]:
    if not await stock.still_low(uow, message.payload.get("part_id", 0)):
        return []  # restocked meanwhile: nothing to do
    return await uow.users.active_with_role(stock.ROLE_WAREHOUSE)


async def _callers_now(uow: UnitOfWork, message: OutboxMessage) -> list[User]:
    """Whom followups.plan_digests would tell today: the callback role, and the dispatchers once calls are overdue."""
    _, overdue = await uow.follow_ups.count_due(date.fromisoformat(message.payload["day"]))
    return await uow.users.active_with_role(followups.ROLE_CALLBACK) + (await dispatchers(uow) if overdue else [])


async def _dispatchers_now(uow: UnitOfWork, message: OutboxMessage) -> list[User]:
    return await dispatchers(uow)


# (The timeout's note to staff names the role it reaches each reader by, notices.FOR_ROLE: a
# dispatcher who is also the job's engineer is one reader by two roles, which a table per kind cannot tell.)
_REACH: dict[str, _Reach] = {
    # the complaint's supervisor (the service managers when there was none)
    notices.ANSWER_UNDELIVERED: _Reach(_has_role(complaints.SUPERVISOR, "service_manager"), _complaint_readers_now),
    stock.STOCK_LOW: _Reach(_has_role(stock.ROLE_WAREHOUSE), _warehouse_now),
    followups.DIGEST: _Reach(followups.may_read, _callers_now, person_at=1),
    maintenance.DISPATCHER_LIST: _Reach(is_dispatcher, _dispatchers_now, person_at=1),
    escalation.CASE_CLOSED: _Reach(escalation.is_expert),
    escalation.CASE_REPLACED: _Reach(escalation.is_expert),
    statistics.OUTBOX_KIND: _Reach(statistics.may_read),
}


async def _for_holders(uow: UnitOfWork, user: User, messages: list[OutboxMessage], now: datetime) -> list[OutboxMessage]:
    """The rows still for `user`: a staff kind (`_REACH`) only while they hold its role; one they
    no longer do goes, where the work still needs doing, to whoever holds the role now and has no
    row of it yet (keyed as its producer keys it per person: once each)."""
    kept = []
    for message in messages:
        reach = _REACH.get(message.kind)
        if reach is None or reach.holds(user):
            kept.append(message)
            continue
        parts = message.key.split(":")
        if reach.holders_now is None or len(parts) < 2 or parts[reach.person_at] != str(user.id):
            continue
        payload = {k: v for k, v in message.payload.items() if k not in (PIECES_SENT, notices.FOR_ROLE)}
        for holder in await reach.holders_now(uow, message):
            if holder.id != user.id:
                parts[reach.person_at] = str(holder.id)
                await notices.queue(uow, holder, message.kind, payload, ":".join(parts), now, not_before=max(message.not_before, now))
    return kept
