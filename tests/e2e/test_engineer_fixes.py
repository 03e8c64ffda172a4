"""The field engineer's steps over HTTP where the other people involved are concerned: what the
engineer is told when the customer cannot get the bot's messages, an arrival pressed again on
the same trip, and who may still read a maintenance list that waited for staff hours."""
from __future__ import annotations

from datetime import timedelta

from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import TRANSLATORS, assign, enrol, file_request, onboard, t

PHONE = "+8613800138000"


async def _job_of_a_customer_who_blocked_the_bot(fake, ed_id, alice_id):
    """Alice filed a repair, then blocked the bot; the bot learnt it when it told her of the
    assignment (403). Ed accepted the job."""
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, ed_id, "Ed", "engineer")
    alice = fake.add_user(user_id=alice_id, first_name="Alice", language_code="en")
    await onboard(alice, phone=PHONE)
    number = await file_request(alice)
    fake.block(alice_id)
    await assign(dora, number, "Ed")
    await ed.press("Accept")
    return dora, ed, alice, number


async def _reachable(desk, telegram_id: int) -> bool:
    async with desk.db.uow() as uow:
        return (await uow.users.by_telegram_id(telegram_id)).is_reachable


async def test_a_visit_proposed_to_a_customer_the_bot_cannot_reach_tells_the_engineer_to_phone(fake, desk):
    dora, ed, alice, number = await _job_of_a_customer_who_blocked_the_bot(fake, 5801, 5802)
    assert not await _reachable(desk, 5802)
    await ed.press("Propose a visit")
    await ed.press("Tomorrow 09:00")
    assert "I will tell you their answer" not in ed.last.text  # no answer can ever come
    async with desk.db.uow() as uow:  # the time is still recorded on the job
        request = await uow.requests.by_number(number)
        visit = await uow.jobs.latest_visit(request.id)
        planned = visit.planned_at
    assert planned is not None
    when = TRANSLATORS["en"].datetime(planned)
    assert ed.last.text == t("en", "Visit on {time} noted for job {number}, but the customer cannot get messages from this bot: "
                                   "phone them on {phone} to agree it.", time=when, number=number, phone=PHONE)


async def test_waiting_for_a_customer_the_bot_cannot_reach_tells_the_engineer_to_phone(fake, desk):
    dora, ed, alice, number = await _job_of_a_customer_who_blocked_the_bot(fake, 5803, 5804)
    await ed.press("Waiting for customer")
    await ed.send_text("Please send a photo of the nameplate")
    told = [m.text for m in ed.messages[-3:]]
    assert t("en", "The customer of job {number} cannot get messages from this bot, so they did not read this: phone them on {phone}.",
             number=number, phone=PHONE) in told, told


async def test_a_maintenance_list_waiting_for_staff_hours_is_not_sent_to_someone_no_longer_a_dispatcher(fake, desk):
    """The list names customers and their phones: only dispatchers read it (DESIGN: staff see what
    their role needs). Caught up at night it waits for the morning; whoever stopped being a
    dispatcher meanwhile is not sent it."""
    from tests.e2e.test_maintenance import REMINDER_AT, _alice_owns, _maintenance_messages

    dora = fake.users[DISPATCHER_ID]
    dan = await enrol(fake, dora, 5811, "Dan", "dispatcher")
    dora, alice = await _alice_owns(fake)
    await desk.sweep()
    desk.clock.set(REMINDER_AT + timedelta(hours=12, minutes=30))  # the bot was down at 10:00; back at 22:30
    await desk.sweep()
    assert _maintenance_messages(dan) == [] and _maintenance_messages(dora) == []  # staff hours are over: the lists wait

    seen = len(dan.messages)
    await dora.send_text("/staff")  # Dan moves to the field
    await dora.press("Dan")
    await dora.press("➕ Field engineer")
    await dora.press("✅ Dispatcher")
    async with desk.db.uow() as uow:
        assert "dispatcher" not in (await uow.users.by_telegram_id(5811)).role_names

    desk.clock.set(REMINDER_AT + timedelta(hours=22))  # 08:00 the next morning
    await desk.sweep()
    assert len(_maintenance_messages(dora)) == 1  # the dispatcher gets it
    assert _maintenance_messages(dan) == []
    assert not any(PHONE in (m.text or "") for m in dan.messages[seen:])  # nothing names the customer to him
    fake.assert_no_rejections()


async def _arrivals(desk, number) -> int:
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        return sum(1 for e in await uow.requests.events(request.id, include_internal=True) if e.action == "arrived")


async def _trips(desk, number) -> int:
    from sqlalchemy import func, select

    from storage.models import Visit

    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        return await uow.session.scalar(select(func.count()).select_from(Visit).where(Visit.request_id == request.id, Visit.arrived_at.is_not(None)))


async def test_arrived_pressed_again_on_site_is_not_a_second_trip(fake, desk):
    """Person-trips (DESIGN: the month's dispatch cost) count arrivals: pressing “Arrived” again on
    the same trip would count it twice and tell the customer again that the engineer arrived."""
    from tests.e2e.helpers import accepted_job, arrive

    dora, ed, alice, number = await accepted_job(fake, 5821, 5822)
    await arrive(ed, number)
    arrived_text = t("en", "📍 Engineer {name} has arrived (request {number}).", name="Ed", number=number)
    assert [m.text for m in alice.messages].count(arrived_text) == 1

    await ed.press("📍 Arrived")  # the fresh job card still offers it
    answer = ed.callback_answers[-1][1]
    await ed.send_location(34.7467, 113.6254)
    assert (await _trips(desk, number), await _arrivals(desk, number)) == (1, 1)
    assert [m.text for m in alice.messages].count(arrived_text) == 1
    assert answer == t(
        "en", "Your arrival at job {number} is already recorded. Press “🚗 On my way” when you set off for another visit.", number=number)

    # the next day's visit is a trip of its own
    await ed.send_text(number)
    await ed.press("🚗 On my way")
    await ed.press("📍 Arrived")
    await ed.send_location(34.7467, 113.6254)
    assert (await _trips(desk, number), await _arrivals(desk, number)) == (2, 2)
    fake.assert_no_rejections()
