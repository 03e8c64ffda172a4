"""An engineer's job steps over HTTP where two jobs, or two steps of one, meet: a prompt left
open on one job never records what was meant for another; receiving the parts ends the wait for
them; a requisition being picked is kept aside when another job step interrupts it."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from bot.services import jobs

from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard, t

OUTSIDE_DIALOG = "Please use the menu below, or /help to see what I can do."
LEFT_UNANSWERED = "Nothing was recorded for job {number}: you moved on before answering."


async def _events(desk, number):
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        return [e.action for e in await uow.requests.events(request.id, include_internal=True)]


async def _two_jobs(fake, ed_id, alice_id, bob_id):
    """Alice's job A, accepted by Ed; Bob is onboarded and may file job B."""
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, ed_id, "Ed", "engineer")
    alice = fake.add_user(user_id=alice_id, first_name="Alice", language_code="en")
    bob = fake.add_user(user_id=bob_id, first_name="Bob", language_code="en")
    await onboard(alice)
    await onboard(bob, phone="+8613900139000")
    first = await file_request(alice, description="Pump A trips the breaker")
    await assign(dora, first, "Ed")
    await ed.press("Accept")
    return dora, ed, alice, bob, first


def _location_keyboard(user) -> bool:
    return any(button.get("request_location") for row in user.reply_keyboard or [] for button in row)


# --- 1. a one-answer prompt belongs to the job and the step that opened it --------------------


async def test_a_call_typed_after_accepting_job_b_is_not_logged_on_job_a(fake, desk):
    dora, ed, alice, bob, first = await _two_jobs(fake, 7701, 7702, 7703)
    card_a = next(m for m in reversed(ed.messages) if "📞 Log a call" in m.button_texts)
    await ed.press("📞 Log a call", card_a)
    second = await file_request(bob, description="Pump B leaks")
    await assign(dora, second, "Ed")
    await ed.press("✅ Accept")
    assert t("en", LEFT_UNANSWERED, number=first) in [m.text for m in ed.new_messages]  # told the call on A was not logged
    assert second in ed.last.text
    await ed.send_text("Phoned Bob, he is at home all week")
    assert "call_logged" not in await _events(desk, first), "B's call was logged on job A"
    assert [m.text for m in ed.new_messages] == [t("en", OUTSIDE_DIALOG)]  # a clear answer, not silence

    card_b = next(m for m in reversed(ed.messages) if "📞 Log a call" in m.button_texts and second in m.text)
    await ed.press("📞 Log a call", card_b)
    await ed.send_text("Phoned Bob, he is at home all week")
    assert t("en", "Call logged for job {number}.", number=second) in [m.text for m in ed.new_messages]
    assert "call_logged" in await _events(desk, second)
    assert "call_logged" not in await _events(desk, first)


async def test_a_wait_note_is_not_recorded_after_another_step_of_the_same_job(fake, desk):
    dora, ed, alice, bob, first = await _two_jobs(fake, 7721, 7722, 7723)
    await ed.send_text("/jobs")
    await ed.press(first)
    await ed.press("📦 Waiting for parts")
    await ed.press("🚗 On my way")  # he set off after all
    assert t("en", LEFT_UNANSWERED, number=first) in [m.text for m in ed.new_messages]
    await ed.send_text("On the road, there in an hour")
    assert "waiting_parts" not in await _events(desk, first), "the text was taken as the parts note"
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(first)).waiting_for is None
    assert [m.text for m in ed.new_messages] == [t("en", OUTSIDE_DIALOG)]


async def test_a_location_shared_at_job_b_is_not_job_as_arrival(fake, desk):
    dora, ed, alice, bob, first = await _two_jobs(fake, 7711, 7712, 7713)
    second = await file_request(bob, description="Pump B leaks")
    await assign(dora, second, "Ed")
    await ed.press("✅ Accept")
    await ed.send_text("/jobs")
    await ed.press(first)
    await ed.press("📍 Arrived")
    assert _location_keyboard(ed)
    await ed.send_text("/jobs")
    await ed.press(second)
    assert not _location_keyboard(ed), "the location keyboard of job A stayed"
    assert ed.reply_keyboard, "no menu keyboard put back"
    assert t("en", LEFT_UNANSWERED, number=first) in [m.text for m in ed.new_messages]
    await ed.press("🚗 On my way")
    assert second in bob.last.text
    told_alice = len(alice.messages)
    await ed.send_location(30.0, 120.0)
    assert "arrived" not in await _events(desk, first), "B's location recorded as the arrival at job A"
    assert len(alice.messages) == told_alice  # nobody told Alice the engineer has arrived
    assert [m.text for m in ed.new_messages] == [t("en", OUTSIDE_DIALOG)]

    await ed.press("📍 Arrived")  # on B's card, now at B's site
    await ed.send_location(30.0, 120.0)
    assert t("en", "Arrival at job {number} recorded.", number=second) in [m.text for m in ed.new_messages]
    assert "arrived" in await _events(desk, second)
    assert not _location_keyboard(ed)


# --- 2. the parts in hand end the wait for them ----------------------------------------------

PARTS_CSV = (
    "Code,Name,Unit,Price,Safety level,Warehouse,Quantity\n"
    "BRG-6204,Bearing 6204,pc,35.50,,MAIN,4\n"
    "SEAL-1,Shaft seal,pc,12,,MAIN,10\n"
).encode()


async def _parts_job(fake, ids, *staff):
    """Ed's accepted job for Alice (ids: Ed, Alice, then one per `staff` (name, role) enrolled too),
    with the parts catalog imported."""
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, ids[0], "Ed", "engineer")
    others = [await enrol(fake, dora, staff_id, name, role) for staff_id, (name, role) in zip(ids[2:], staff)]
    alice = fake.add_user(user_id=ids[1], first_name="Alice", language_code="en")
    await dora.send_text("/import")
    await dora.send_document("parts.csv", data=PARTS_CSV)
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("✅ Accept")
    return ed, others, alice, number


STOREKEEPER_AND_MANAGER = (("Wu", "warehouse"), ("Sun", "service_manager"))


async def _waiting_for_parts(fake, ids):
    """Ed's job waiting for parts (ids: Ed, Wu, Sun, Alice)."""
    ed, (wu, sun), alice, number = await _parts_job(fake, (ids[0], ids[3], ids[1], ids[2]), *STOREKEEPER_AND_MANAGER)
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("📦 Waiting for parts")
    await ed.send_text("Bearing 6204 needed, requesting it now")
    return ed, wu, sun, alice, number


async def _requisition(ed, sun, code: str) -> None:
    await ed.press("🔩 Request parts")
    await ed.send_text(code)
    await ed.send_text("1")
    await ed.press("📤 Send the requisition")
    await sun.press("✅ Approve")


async def _waits(desk, number):
    """(what the request waits for, since when its repair clock is paused)."""
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        clock = next(c for c in await uow.requests.clock_rows(request.id) if c.kind == "repair_completed")
        return request.waiting_for, clock.paused_since


async def test_parts_received_ends_the_wait_for_parts(fake, desk):
    ed, wu, sun, alice, number = await _waiting_for_parts(fake, (7901, 7902, 7904, 7903))
    await _requisition(ed, sun, "BRG-6204")
    desk.clock.advance(timedelta(hours=2))
    await wu.send_text("/issue")
    await wu.press("Issue from MAIN")
    notice = next(m for m in reversed(ed.messages) if "✅ Parts received" in m.button_texts)
    await ed.press("✅ Parts received", notice)
    assert await _waits(desk, number) == (None, None)
    assert "⏸" not in ed.last.text  # the job card no longer says it waits
    assert t("en", "▶️ Work on request {number} continues.", number=number) in [m.text for m in alice.new_messages]

    desk.clock.advance(timedelta(days=3))
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("📅 Propose a visit")
    await ed.press("Tomorrow 09:00")
    await alice.press("✅ That suits me")
    assert await _waits(desk, number) == (None, None)


async def test_the_wait_for_parts_lasts_until_the_last_requisition_is_received(fake, desk):
    ed, wu, sun, alice, number = await _waiting_for_parts(fake, (7911, 7912, 7914, 7913))
    await _requisition(ed, sun, "BRG-6204")
    await _requisition(ed, sun, "SEAL-1")
    await wu.send_text("/issue")
    await wu.press("Issue from MAIN")  # the first requisition's card
    first = next(m for m in reversed(ed.messages) if "✅ Parts received" in m.button_texts)
    await ed.press("✅ Parts received", first)
    waiting_for, paused_since = await _waits(desk, number)
    assert waiting_for == "parts" and paused_since is not None  # the seal is still to come
    assert "work_resumed" not in await _events(desk, number)

    await wu.send_text("/issue")
    await wu.press("Issue from MAIN")
    second = next(m for m in reversed(ed.messages) if "✅ Parts received" in m.button_texts)
    await ed.press("✅ Parts received", second)
    assert await _waits(desk, number) == (None, None)
    assert (await _events(desk, number)).count("work_resumed") == 1


# --- 3. a requisition being picked is kept aside ---------------------------------------------


async def test_a_requisition_being_picked_survives_a_logged_call(fake, desk):
    ed, _, alice, number = await _parts_job(fake, (7971, 7972))
    card = next(m for m in reversed(ed.messages) if "📞 Log a call" in m.button_texts)
    await ed.press("🔩 Request parts", card)
    await ed.send_text("BRG-6204")
    await ed.send_text("2")
    await ed.send_text("SEAL-1")
    await ed.send_text("3")
    await ed.press("📞 Log a call", card)
    await ed.send_text("Customer asks when the parts come")
    assert "call_logged" in await _events(desk, number)
    await ed.press("🔩 Request parts", card)
    assert "BRG-6204 · Bearing 6204 × 2" in ed.last.text
    assert "SEAL-1 · Shaft seal × 3" in ed.last.text
    await ed.press("📤 Send the requisition")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        [requisition] = await uow.stock.requisitions_of_request(request.id)
        assert sorted(line.quantity for line in requisition.lines) == [2, 3]
    await ed.press("🔩 Request parts", card)  # sent: the next one starts empty
    assert "BRG-6204" not in ed.last.text


async def test_a_kept_requisition_is_dropped_when_the_job_leaves_the_engineer(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed, _, alice, number = await _parts_job(fake, (7981, 7982, 7984), ("Fay", "engineer"))
    card = next(m for m in reversed(ed.messages) if "📞 Log a call" in m.button_texts)
    await ed.press("🔩 Request parts", card)
    await ed.send_text("BRG-6204")
    await ed.send_text("2")
    await ed.press("📞 Log a call", card)  # the requisition is kept aside
    await ed.send_text("Customer asks when the parts come")
    for engineer in ("Fay", "Ed"):  # reassigned, then given back
        await dora.send_text(number)
        await dora.press("👷 Reassign", dora.last)
        await dora.press(engineer)
    await ed.press("✅ Accept")
    card = next(m for m in reversed(ed.messages) if "📞 Log a call" in m.button_texts)
    await ed.press("🔩 Request parts", card)
    assert "BRG-6204" not in ed.last.text, "an outdated requisition came back"


async def test_tomorrow_pressed_after_midnight_means_the_day_after_the_one_the_choices_were_shown(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 7731, "Ed", "engineer")
    alice = fake.add_user(user_id=7732, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    shanghai = desk.settings.timezone
    late_evening = datetime.combine(desk.clock.now().astimezone(shanghai).date(), time(23, 50), tzinfo=shanghai)
    desk.clock.set(late_evening.astimezone(timezone.utc))
    await ed.send_text(number)
    await ed.press("📅 Propose a visit")
    desk.clock.advance(timedelta(minutes=20))  # he taps the choice just after midnight
    await ed.press("Tomorrow 09:00")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        planned = (await jobs.current_visit(uow, request)).planned_at
    assert planned.astimezone(shanghai) == datetime.combine(late_evening.date() + timedelta(days=1), time(9), tzinfo=shanghai)
    fake.assert_no_rejections()


async def test_a_refused_press_keeps_the_note_prompt(fake, desk):
    dora, ed, alice, bob, first = await _two_jobs(fake, 7741, 7742, 7743)
    await ed.send_text("/jobs")
    await ed.press(first)
    card = ed.last
    await ed.press("⏸ Waiting for customer", card)
    await ed.send_text("The customer is away until Monday")
    card = next(m for m in reversed(ed.messages) if "▶️ Resume work" in m.button_texts)
    await ed.press("📞 Log a call", card)
    stale = next(m for m in ed.messages if "📦 Waiting for parts" in m.button_texts)
    await ed.press("📦 Waiting for parts", stale)  # an older card's button: the job already waits, refused
    assert ed.callback_answers[-1][1] == "That step does not fit the job's current state. Open the job again with /jobs."
    assert t("en", LEFT_UNANSWERED, number=first) not in [m.text for m in ed.new_messages]
    await ed.send_text("Phoned the customer, back on Monday")
    assert "call_logged" in await _events(desk, first), "a refused stale press ended the call prompt"
    fake.assert_no_rejections()


async def test_refreshing_the_job_card_keeps_the_arrival_prompt(fake, desk):
    dora, ed, alice, bob, first = await _two_jobs(fake, 7751, 7752, 7753)
    await ed.send_text("/jobs")
    await ed.press(first)
    card = ed.last
    await ed.press("📍 Arrived", card)
    assert _location_keyboard(ed)
    await ed.press("🔄 Refresh", card)  # only looks at the card again
    assert _location_keyboard(ed), "the 📍 keyboard was taken away by a refresh"
    await ed.send_location(30.0, 120.0)
    assert "arrived" in await _events(desk, first), "the arrival shared right after a refresh was not recorded"
    fake.assert_no_rejections(allow=lambda r: "not modified" in r.description)


async def test_parts_issued_before_the_wait_do_not_end_a_wait_for_other_parts(fake, desk):
    ed, (wu, sun), alice, number = await _parts_job(fake, (7961, 7963, 7962, 7964), *STOREKEEPER_AND_MANAGER)
    await ed.send_text("/jobs")
    await ed.press(number)
    await _requisition(ed, sun, "BRG-6204")
    await wu.send_text("/issue")
    await wu.press("Issue from MAIN")  # the bearing is on its way to Ed
    desk.clock.advance(timedelta(hours=1))
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("📦 Waiting for parts")
    await ed.send_text("The compressor is ordered from the factory, about two weeks")
    assert (await _waits(desk, number))[0] == "parts"
    told = len(alice.messages)
    notice = next(m for m in reversed(ed.messages) if "✅ Parts received" in m.button_texts)
    await ed.press("✅ Parts received", notice)  # the bearing, issued before the wait began
    waiting_for, paused_since = await _waits(desk, number)
    assert waiting_for == "parts" and paused_since is not None, "the wait for the compressor ended with the bearing"
    assert not any("continues" in (m.text or "") for m in alice.messages[told:])
    fake.assert_no_rejections()
