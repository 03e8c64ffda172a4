"""Deadlines over HTTP: a reminder with working buttons, /overdue for dispatchers and managers."""
from __future__ import annotations

import re
from datetime import timedelta

from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID
from tests.e2e.helpers import file_request, onboard


async def test_a_reminder_reaches_both_dispatchers_and_its_button_logs_the_contact(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    await wang.send_text("/start")  # Wang writes in Chinese; the bot learns it from this message
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)

    dora_seen = len(dora.messages)
    desk.clock.advance(timedelta(hours=1))
    await desk.sweep()
    assert len(dora.messages) == dora_seen  # 25 % of the 4 h window: nothing to say yet

    desk.clock.advance(timedelta(hours=1))  # half of the first-contact window has gone
    await desk.sweep()
    assert "1 deadline needs your attention" in dora.last.text and number in dora.last.text
    assert "first contact: 2 h 0 min left" in dora.last.text
    assert number in wang.last.text and "1 deadline needs your attention" not in wang.last.text  # in Chinese

    await dora.press("📞 Contacted")
    await dora.send_text("Called Alice; the pump is off until we come")
    assert "Customer contacted: Called Alice" in dora.last.text and "⏱ first contact" not in dora.last.text

    dora_seen = len(dora.messages)
    desk.clock.advance(timedelta(hours=3))  # past the old deadline: stopped clocks stay quiet
    await desk.sweep()
    assert len(dora.messages) == dora_seen
    fake.assert_no_rejections()


async def test_overdue_lists_missed_deadlines_for_dispatchers_and_managers_only(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    late = await file_request(alice)
    desk.clock.advance(timedelta(hours=3, minutes=30))  # 30 min before the 4 h deadline: at risk
    soon = await file_request(alice, description="Cabinet fan is noisy")

    await dora.send_text("/overdue")
    assert "0 overdue, 1 at risk" in dora.last.text and late in dora.last.text and soon not in dora.last.text

    desk.clock.advance(timedelta(hours=1))
    await dora.send_text("/overdue")
    assert "1 overdue, 0 at risk" in dora.last.text
    assert re.search(rf"{late} · Fault repair · first contact: overdue by 0 h 30 min", dora.last.text)

    sam = fake.add_user(user_id=7001, first_name="Sam", language_code="en")
    await dora.send_text("/invite service_manager")
    code = re.search(r"start=(inv_[\w-]+)", dora.last.text).group(1)
    await sam.send_text(f"/start {code}")
    await sam.send_text("/overdue")
    assert late in sam.last.text
    await sam.press(late)
    assert late in sam.last.text and "⏱ first contact" in sam.last.text
    assert not any("Assign" in text for text in sam.last.button_texts)  # a manager looks, the dispatcher acts

    await alice.send_text("/overdue")
    assert "for dispatchers and managers" in alice.last.text
    fake.assert_no_rejections()


async def test_a_dispatcher_who_blocked_the_bot_is_marked_unreachable_and_not_tried_again(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    fake.block(SECOND_DISPATCHER_ID)
    wang_seen = len(wang.messages)  # the new-request notice, sent before he blocked the bot

    desk.clock.advance(timedelta(hours=2))  # 50 %: both dispatchers are due a reminder
    await desk.sweep()
    assert any(number in m.text and "deadline needs your attention" in m.text for m in dora.messages[-2:])
    blocked = [r for r in fake.rejections if r.error_code == 403]
    assert [int(r.params["chat_id"]) for r in blocked] == [SECOND_DISPATCHER_ID]
    alerts = [m.text for m in dora.messages if "has blocked the bot" in (m.text or "")]
    assert len(alerts) == 1 and f"#{SECOND_DISPATCHER_ID}" in alerts[0]  # Dora, the other admin, is told once (he never wrote: no name yet)
    async with desk.db.uow() as uow:
        assert (await uow.users.by_telegram_id(SECOND_DISPATCHER_ID)).is_reachable is False
        rows = await uow.outbox.of_user((await uow.users.by_telegram_id(SECOND_DISPATCHER_ID)).id)
        assert [(row.sent_at is not None, row.failure) for row in rows] == [(True, None), (True, "blocked")]  # the new-request notice, then the reminder

    desk.clock.advance(timedelta(hours=1, minutes=12))  # 80 %: Dora again, Wang is not tried
    await desk.sweep()
    assert len([r for r in fake.rejections if r.error_code == 403]) == 1
    assert len(wang.messages) == wang_seen
    assert len([m for m in dora.messages if "has blocked the bot" in (m.text or "")]) == 1
    fake.assert_no_rejections(allow=lambda r: r.error_code == 403)


async def test_a_contacted_request_nobody_assigns_or_an_assignment_never_answered_still_has_deadlines(fake, desk):
    from tests.e2e.helpers import assign, enrol

    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5521, "Ed", "engineer")
    alice = fake.add_user(user_id=5523, first_name="Alice", language_code="en")
    await onboard(alice)
    waiting = await file_request(alice)  # contacted, then nobody assigns it
    await dora.send_text(waiting)
    await dora.press("📞 Customer contacted", dora.last)
    await dora.send_text("Called, will send someone")
    ignored = await file_request(alice, description="Second pump leaks")  # assigned, Ed never answers
    await dora.send_text(ignored)
    await dora.press("📞 Customer contacted", dora.last)
    await dora.send_text("Called")
    await assign(dora, ignored, "Ed")
    assert "repair completed" in dora.last.text and "on-site arrival" in dora.last.text  # the card of the assigned one

    def told(user, number: str, clock: str) -> bool:
        return any(number in (m.text or "") and f"{clock}:" in (m.text or "") and "deadline" in (m.text or "") for m in user.messages)

    async def after(hours: int) -> None:  # a sweep every 6 hours
        for _ in range(hours // 6):
            desk.clock.advance(timedelta(hours=6))
            await desk.sweep()

    await after(18)  # past half of the 24 h arrival window: the engineer who has not answered is reminded
    assert told(ed, ignored, "on-site arrival") and not told(dora, ignored, "on-site arrival")
    await after(12)  # the arrival deadline is missed: the dispatcher hears of it
    assert told(dora, ignored, "on-site arrival")
    assert not told(dora, waiting, "repair completed")
    await after(3 * 24)  # past half of the 7 days: with no engineer, the dispatcher is reminded of the waiting one
    assert told(dora, waiting, "repair completed")
    await after(4 * 24)  # a week after the report both repairs are overdue
    await dora.send_text("/overdue")
    overdue = dora.last.text
    assert re.search(rf"🔴 {waiting} · Fault repair · repair completed: overdue by", overdue), overdue
    assert re.search(rf"🔴 {ignored} · Fault repair · repair completed: overdue by", overdue), overdue
    assert re.search(rf"🔴 {ignored} · Fault repair · on-site arrival: overdue by", overdue), overdue


REGISTRY_HEADER = "Serial,Model,Customer/Project,Sale date,Commissioning date,Warranty months,Maintenance cycle\n"


async def test_a_request_in_warranty_by_the_registry_runs_the_solution_clock_without_a_ruling(fake, desk):
    from tests.e2e.helpers import assign, enrol

    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5561, "Ed", "engineer")
    await dora.send_text("/import")
    await dora.send_document("registry.csv", data=(REGISTRY_HEADER + "QJ-5001,QJ 50-120,Farm,2025-12-20,2026-01-02,24,\n").encode())
    alice = fake.add_user(user_id=5563, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/products")
    await alice.press("➕ Claim a product by serial")
    await alice.send_text("QJ-5001")
    await dora.press("✅ Confirm", dora.last)
    await alice.send_text("/new")
    await alice.press("Fault repair")
    await alice.press(next(b for b in alice.last.button_texts if "QJ-5001" in b))
    await alice.send_text("Pump trips the breaker after 5 minutes")
    await alice.press("Skip, no photos")
    await alice.send_location(34.7466, 113.6253)
    await alice.press("✅ Confirm and send")
    number = re.search(r"SR-\d{4}-\d{6}", alice.last.text).group(0)
    await dora.send_text(number)
    assert "Warranty: in warranty" in dora.last.text  # the registry's reading, no ruling yet
    await assign(dora, number, "Ed")
    assert "⏱ solution decided" in dora.last.text
    await ed.press("✅ Accept")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert request.warranty is None
        running = sorted(c.kind for c in await uow.requests.clocks(request.id) if c.stopped_at is None)
    assert running == ["first_contact", "onsite_arrival", "repair_completed", "solution_decided"], running
    await dora.send_text(number)
    await dora.press("Warranty…", dora.last)
    await dora.press("warranty expired")  # overruled: no solution clock for paid work
    assert "⏱ solution decided" not in dora.last.text
    fake.assert_no_rejections()


async def test_a_manager_told_of_a_breach_gets_no_dispatcher_buttons(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sam = fake.add_user(user_id=7002, first_name="Sam", language_code="en")
    await dora.send_text("/invite service_manager")
    code = re.search(r"start=(inv_[\w-]+)", dora.last.text).group(1)
    await sam.send_text(f"/start {code}")
    alice = fake.add_user(user_id=5002, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    desk.clock.advance(timedelta(hours=4, minutes=10))  # first contact missed: the service manager is told
    await desk.sweep()
    told = next(m for m in reversed(sam.messages) if number in (m.text or ""))
    assert "deadline needs your attention" in told.text
    assert told.button_texts == [f"Open {number}"]  # "📞 Contacted" is the dispatcher's to press
    reminded = next(m for m in reversed(dora.messages) if number in (m.text or "") and m.buttons)
    assert "📞 Contacted" in reminded.button_texts
    fake.assert_no_rejections()
