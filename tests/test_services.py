"""The rules on real databases (SQLite and PostgreSQL), without Telegram."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from bot.config import DEFAULT_POLICY_FILE
from bot.policy import load_policy
from bot.services import dialogs, intake, requests, users
from bot.services.errors import LimitReached, NotAllowed, NotFound, StaleAction, WrongInput
from bot.services.inputs import LocationInput, PhotoInput, TextInput, VoiceInput
from bot.services.validation import MAX_VOICES
from storage.models import Product, ServiceRequest

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = load_policy(DEFAULT_POLICY_FILE)


async def _customer(uow, clock, telegram_id=1001, name="Alice"):
    user = await users.touch(uow, telegram_id, name, None, "en", "en", clock.now())
    draft = await users.start_onboarding(uow, user, clock.now())
    await users.onboarding_input(uow, user, draft, TextInput(name), clock.now())
    await users.onboarding_input(uow, user, draft, TextInput("+86 138 0013 8000"), clock.now())
    done = await users.onboarding_input(uow, user, draft, TextInput("Yellow River Farm"), clock.now())
    return user, done.customer


async def _filled_draft(uow, user, customer, clock, kind="repair"):
    draft, _ = await intake.start(uow, user, clock.now())
    await intake.handle_button(uow, customer, draft, "type", kind, clock.now())
    await intake.handle_button(uow, customer, draft, "unknown", "", clock.now())
    await intake.handle_input(uow, customer, draft, TextInput("Pump trips the breaker after 5 minutes"), clock.now())
    await intake.handle_button(uow, customer, draft, "done", "", clock.now())
    await intake.handle_input(uow, customer, draft, TextInput("Field 7, Yellow River Farm"), clock.now())
    return draft


async def test_a_new_dialog_never_gets_the_id_of_the_one_it_replaced(database, clock):
    """Dialog buttons carry the draft id: a reused id would make an abandoned dialog's buttons live."""
    async with database.uow() as uow:
        user = await users.touch(uow, 1001, "Alice", None, "en", "en", clock.now())
        seen = set()
        for _ in range(3):  # replaced by begin, then ended and begun again
            draft = await dialogs.begin(uow, user.id, "intake", "type", {}, clock.now())
            assert draft.id not in seen
            seen.add(draft.id)
        await dialogs.end(uow, draft)
        await uow.session.flush()
        assert (await dialogs.begin(uow, user.id, "intake", "type", {}, clock.now())).id not in seen
        await uow.commit()


async def test_onboarding_stores_the_customer_and_project(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        await uow.commit()
    async with database.uow() as uow:
        stored = await uow.customers.by_user_id(user.id)
        assert (stored.name, stored.phone, stored.company) == ("Alice", "+8613800138000", "Yellow River Farm")
        assert (await uow.customers.first_project(stored.id)).name == "Yellow River Farm"
        assert await dialogs.current(uow, user.id) is None


async def test_request_numbers_are_sequential_per_year_and_restart_in_a_new_year(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        numbers = []
        for _ in range(3):
            draft = await _filled_draft(uow, user, customer, clock)
            numbers.append((await intake.submit(uow, user, customer, draft, POLICY, clock.now(), SHANGHAI)).number)
        clock.set(clock.now().replace(year=2027))
        draft = await _filled_draft(uow, user, customer, clock)
        numbers.append((await intake.submit(uow, user, customer, draft, POLICY, clock.now(), SHANGHAI)).number)
        await uow.commit()
    assert numbers == ["SR-2026-000001", "SR-2026-000002", "SR-2026-000003", "SR-2027-000001"]


async def test_concurrent_submissions_never_share_a_number(database, clock):
    async with database.uow() as uow:
        customers = [await _customer(uow, clock, telegram_id=2000 + i, name=f"C{i}") for i in range(6)]
        await uow.commit()

    async def submit(user, customer):
        async with database.uow() as uow:
            user = await uow.users.get(user.id)
            customer = await uow.customers.get(customer.id)
            draft = await _filled_draft(uow, user, customer, clock)
            request = await intake.submit(uow, user, customer, draft, POLICY, clock.now(), SHANGHAI)
            await uow.commit()
            return request.number

    numbers = await asyncio.gather(*(submit(u, c) for u, c in customers))
    assert sorted(numbers) == [f"SR-2026-{i:06d}" for i in range(1, 7)]


async def test_submitted_request_has_timeline_photos_and_first_contact_deadline(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        draft = await _filled_draft(uow, user, customer, clock)
        dialogs.move(draft, intake.PHOTOS, clock.now())
        await intake.handle_input(uow, customer, draft, PhotoInput("photo-1"), clock.now())
        await intake.handle_button(uow, customer, draft, "done", "", clock.now())
        await intake.handle_input(uow, customer, draft, LocationInput(35.1, 113.2), clock.now())
        request = await intake.submit(uow, user, customer, draft, POLICY, clock.now(), SHANGHAI)
        await uow.commit()
    async with database.uow() as uow:
        card = await requests.card(uow, await uow.requests.get(request.id))
        assert card.request.status == "new"
        assert [e.action for e in card.events] == ["created"]
        assert card.photo_count == 1
        assert (card.request.site_latitude, card.request.site_longitude) == (35.1, 113.2)
        # first contact within 4 hours, and the 7-day repair promise from the report on
        assert [(c.kind, c.due_at - c.started_at) for c in card.clocks] == [("first_contact", timedelta(hours=4)), ("repair_completed", timedelta(days=7))]


async def test_a_consultation_promises_an_answer_within_eight_hours(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        draft = await _filled_draft(uow, user, customer, clock, kind="consultation")
        request = await intake.submit(uow, user, customer, draft, POLICY, clock.now(), SHANGHAI)
        clocks = await uow.requests.clocks(request.id)
        assert [(c.kind, c.due_at - clock.now()) for c in clocks] == [("consultation_answer", timedelta(hours=8))]


async def test_voice_notes_at_the_description_are_capped_and_can_be_removed_there_only(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        draft, _ = await intake.start(uow, user, clock.now())
        await intake.handle_button(uow, customer, draft, "type", "repair", clock.now())
        await intake.handle_button(uow, customer, draft, "unknown", "", clock.now())
        for n in range(MAX_VOICES):
            await intake.handle_input(uow, customer, draft, VoiceInput(f"voice-{n}"), clock.now())
        with pytest.raises(LimitReached) as refused:
            await intake.handle_input(uow, customer, draft, VoiceInput("one-too-many"), clock.now())
        assert (refused.value.limit, refused.value.what) == (MAX_VOICES, "voices")
        assert draft.data["voices"] == [f"voice-{n}" for n in range(MAX_VOICES)]
        assert await intake.handle_button(uow, customer, draft, "clear_voices", "", clock.now()) == intake.VOICES_CLEARED
        assert (draft.step, draft.data["voices"]) == (intake.DESCRIPTION, [])
        await intake.handle_input(uow, customer, draft, VoiceInput("voice-kept", caption="Pump trips the breaker"), clock.now())
        assert draft.step == intake.PHOTOS
        with pytest.raises(StaleAction):  # an old description prompt's button, pressed after the step moved on
            await intake.handle_button(uow, customer, draft, "clear_voices", "", clock.now())
        assert draft.data["voices"] == ["voice-kept"]


async def test_wrong_kind_of_input_is_refused_without_changing_the_draft(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        draft, _ = await intake.start(uow, user, clock.now())
        with pytest.raises(WrongInput):
            await intake.handle_input(uow, customer, draft, TextInput("repair please"), clock.now())
        await intake.handle_button(uow, customer, draft, "type", "repair", clock.now())
        await intake.handle_button(uow, customer, draft, "unknown", "", clock.now())
        with pytest.raises(WrongInput):
            await intake.handle_input(uow, customer, draft, LocationInput(1, 2), clock.now())
        assert draft.step == intake.DESCRIPTION and "description" not in draft.data


async def test_a_bare_photo_in_the_description_step_is_kept_and_text_is_still_asked(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        draft, _ = await intake.start(uow, user, clock.now())
        await intake.handle_button(uow, customer, draft, "type", "repair", clock.now())
        await intake.handle_button(uow, customer, draft, "unknown", "", clock.now())
        notice = await intake.handle_input(uow, customer, draft, PhotoInput("p1"), clock.now())
        assert notice == intake.PHOTO_KEPT_NEED_TEXT and draft.step == intake.DESCRIPTION
        await intake.handle_input(uow, customer, draft, VoiceInput("v1", caption="Noise from the motor"), clock.now())
        assert draft.step == intake.PHOTOS
        assert draft.data["photos"] == ["p1"] and draft.data["voices"] == ["v1"]
        assert draft.data["description"] == "Noise from the motor"


async def test_photos_are_capped_at_ten(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        draft = await _filled_draft(uow, user, customer, clock)
        dialogs.move(draft, intake.PHOTOS, clock.now())
        for i in range(10):
            await intake.handle_input(uow, customer, draft, PhotoInput(f"p{i}"), clock.now())
        with pytest.raises(LimitReached):
            await intake.handle_input(uow, customer, draft, PhotoInput("p10"), clock.now())
        assert len(draft.data["photos"]) == 10


async def test_editing_one_field_returns_to_the_summary(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        draft = await _filled_draft(uow, user, customer, clock)
        assert draft.step == intake.CONFIRM
        await intake.handle_button(uow, customer, draft, "edit", "", clock.now())
        await intake.handle_button(uow, customer, draft, "field", intake.DESCRIPTION, clock.now())
        await intake.handle_input(uow, customer, draft, TextInput("Corrected description"), clock.now())
        assert draft.step == intake.CONFIRM and draft.data["description"] == "Corrected description"
        await intake.handle_button(uow, customer, draft, "back", "", clock.now())
        assert draft.step == intake.SITE


async def test_only_the_customers_own_registered_product_can_be_chosen(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        _, other = await _customer(uow, clock, telegram_id=1002, name="Bob")
        mine = await uow.products.add(Product(serial="QJ-1", model="QJ pump", customer_id=customer.id, warranty_end=date(2027, 1, 1)))
        theirs = await uow.products.add(Product(serial="QJ-2", model="QJ pump", customer_id=other.id))
        draft, _ = await intake.start(uow, user, clock.now())
        await intake.handle_button(uow, customer, draft, "type", "repair", clock.now())
        with pytest.raises(StaleAction):
            await intake.handle_button(uow, customer, draft, "product", str(theirs.id), clock.now())
        await intake.handle_input(uow, customer, draft, TextInput("qj-2"), clock.now())
        assert draft.data["serial"] == "QJ-2" and draft.data["product_id"] is None  # typed serial kept, owner not revealed
        await intake.handle_button(uow, customer, draft, "back", "", clock.now())
        await intake.handle_button(uow, customer, draft, "product", str(mine.id), clock.now())
        assert draft.data["product_id"] == mine.id


async def test_another_customers_request_is_not_found(database, clock):
    async with database.uow() as uow:
        alice, alice_c = await _customer(uow, clock)
        _, bob_c = await _customer(uow, clock, telegram_id=1002, name="Bob")
        request = await intake.submit(uow, alice, alice_c, await _filled_draft(uow, alice, alice_c, clock), POLICY, clock.now(), SHANGHAI)
        with pytest.raises(NotFound):
            await requests.own_request(uow, bob_c, request.id)
        with pytest.raises(NotFound):
            await requests.own_request_by_number(uow, bob_c, request.number)
        assert (await requests.own_request_by_number(uow, alice_c, request.number)).id == request.id


async def test_cancel_is_allowed_until_an_engineer_starts(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        first = await intake.submit(uow, user, customer, await _filled_draft(uow, user, customer, clock), POLICY, clock.now(), SHANGHAI)
        second = await intake.submit(uow, user, customer, await _filled_draft(uow, user, customer, clock), POLICY, clock.now(), SHANGHAI)
        await requests.cancel(uow, user, first, clock.now())
        assert first.status == "cancelled"
        assert all(c.stopped_at is not None for c in await uow.requests.clocks(first.id))
        with pytest.raises(NotAllowed):
            await requests.cancel(uow, user, first, clock.now())
        second.status, second.engineer_started = "in_progress", True
        with pytest.raises(NotAllowed):
            await requests.cancel(uow, user, second, clock.now())
        events = await uow.requests.events(first.id, include_internal=True)
        assert events[-1].action == "cancelled" and events[-1].details == {"before": "new", "after": "cancelled"}


async def test_requests_page_newest_first_five_per_page(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        for _ in range(7):
            await intake.submit(uow, user, customer, await _filled_draft(uow, user, customer, clock), POLICY, clock.now(), SHANGHAI)
            clock.advance(timedelta(minutes=1))
        first = await requests.page_of(uow, customer, 0)
        last = await requests.page_of(uow, customer, 5)
        assert (first.total, first.pages) == (7, 2)
        assert [r.number[-1] for r in first.items] == ["7", "6", "5", "4", "3"]
        assert last.page == 1 and [r.number[-1] for r in last.items] == ["2", "1"]


class StatementLog:
    """The SQL statements a block sends (SQLite's BEGIN IMMEDIATE included), to count round trips."""

    def __init__(self, database) -> None:
        self.engine, self.statements = database.engine.sync_engine, []

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append(statement)

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self.statements

    def __exit__(self, *exc_info) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


async def test_an_update_finds_its_user_roles_customer_and_dialog_in_one_statement(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        await uow.users.add_role(user, "engineer")
        draft, _ = await intake.start(uow, user, clock.now())
        await uow.commit()
    async with database.uow() as uow:
        await uow.session.execute(select(1))  # the transaction is open (BEGIN is not the point here)
        with StatementLog(database) as statements:
            again = await users.touch(uow, 1001, "Alice", None, "en", "en", clock.now())
            found_customer = await users.customer_of(uow, again)
            found_draft = await dialogs.current(uow, again.id)
        assert len(statements) == 1, statements
        assert again.role_names == {"engineer"}
        assert (found_customer.id, found_draft.id) == (customer.id, draft.id)


async def test_a_dialog_begun_or_ended_within_an_update_is_seen_at_once(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        await uow.commit()
    async with database.uow() as uow:
        user = await users.touch(uow, 1001, "Alice", None, "en", "en", clock.now())
        assert await dialogs.current(uow, user.id) is None
        first, _ = await intake.start(uow, user, clock.now())
        assert await dialogs.current(uow, user.id) is first
        second = await dialogs.begin(uow, user.id, "comment", "text", {}, clock.now())  # replaces the first
        assert await dialogs.current(uow, user.id) is second and second.id != first.id
        await dialogs.end(uow, second)
        assert await dialogs.current(uow, user.id) is None
        customer = await users.customer_of(uow, user)
        customer.user_id = None  # unlinked in this update: no longer theirs
        assert await users.customer_of(uow, user) is None
        await uow.commit()
    async with database.uow() as uow:  # and what was committed agrees
        user = await users.touch(uow, 1001, "Alice", None, "en", "en", clock.now())
        assert await dialogs.current(uow, user.id) is None and await users.customer_of(uow, user) is None


async def test_a_page_of_requests_and_their_number_come_in_one_statement(database, clock):
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        empty = await requests.page_of(uow, customer, 0)
        assert (empty.items, empty.page, empty.pages, empty.total) == ([], 0, 1, 0)
        for _ in range(6):
            await intake.submit(uow, user, customer, await _filled_draft(uow, user, customer, clock), POLICY, clock.now(), SHANGHAI)
            clock.advance(timedelta(minutes=1))
        with StatementLog(database) as statements:
            second = await requests.page_of(uow, customer, 1)
        assert len(statements) == 1, statements
        assert (second.page, second.pages, second.total, [r.number[-1] for r in second.items]) == (1, 2, 6, ["1"])


async def test_an_update_gets_its_turn_between_the_batches_of_a_long_sweep(database, clock):
    """A loop of transactions that commits and begins again at once (the sweep's batches) must not
    starve an update that asks meanwhile: on SQLite it waited in the busy handler's sleeps and
    could pass the busy timeout; now transactions take turns in the order they asked."""
    order: list[str] = []

    async def sweep_batches() -> None:
        for batch in range(15):
            async with database.uow() as uow:
                await uow.app_state.set("test:batch", str(batch))
                await asyncio.sleep(0.03)  # the batch's work, holding the write lock
                await uow.commit()
            order.append(f"batch {batch}")

    async def update() -> None:
        async with database.uow() as uow:
            await uow.updates.claim(4242, clock.now())
            await uow.commit()
        order.append("update")

    sweeping = asyncio.create_task(sweep_batches())
    while not order:  # the loop is under way
        await asyncio.sleep(0.005)
    await update()
    await sweeping
    assert order.index("update") <= 3, order  # after the batch that held the lock when it asked


async def test_a_duplicate_update_is_claimed_once(database, clock):
    async with database.uow() as uow:
        assert await uow.updates.claim(77, clock.now()) is True
        assert await uow.updates.claim(77, clock.now()) is False
        await uow.commit()


async def test_nothing_is_committed_when_the_unit_of_work_fails(database, clock):
    with pytest.raises(RuntimeError):
        async with database.uow() as uow:
            user, customer = await _customer(uow, clock)
            await intake.submit(uow, user, customer, await _filled_draft(uow, user, customer, clock), POLICY, clock.now(), SHANGHAI)
            raise RuntimeError("boom")
    async with database.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(ServiceRequest)) == 0
        assert await uow.users.by_telegram_id(1001) is None


async def test_sending_a_request_with_a_typed_serial_does_not_look_the_registry_up_again(database, clock):
    """The registry's warranty matters to the deadline clocks only once the in-warranty solution clock
    could start (at the assignment): the intake's commit, benchmarked, reads no product."""
    async with database.uow() as uow:
        user, customer = await _customer(uow, clock)
        draft, _ = await intake.start(uow, user, clock.now())
        await intake.handle_button(uow, customer, draft, "type", "repair", clock.now())
        await intake.handle_input(uow, customer, draft, TextInput("ZZ-404-0001"), clock.now())
        await intake.handle_input(uow, customer, draft, TextInput("Pump trips the breaker after 5 minutes"), clock.now())
        await intake.handle_button(uow, customer, draft, "done", "", clock.now())
        await intake.handle_input(uow, customer, draft, TextInput("Field 7, Yellow River Farm"), clock.now())
        await uow.commit()
        user_id, customer_id = user.id, customer.id
    async with database.uow() as uow:
        user, customer = await uow.users.get(user_id), await uow.customers.get(customer_id)
        draft = await uow.drafts.of_user(user_id)
        with StatementLog(database) as statements:
            await intake.submit(uow, user, customer, draft, POLICY, clock.now(), SHANGHAI)
            await uow.commit()
    assert [s for s in statements if "FROM products" in s] == [], statements
