"""Dispatch over HTTP: triage, contact, assignment, decline and reassignment, races, forged buttons."""
from __future__ import annotations

import re

from sqlalchemy import select

from bot.flood import TELEGRAM_LIMITS
from storage.models import AuditEntry
from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard, report_by_phone, t


async def _engineer(fake, admin, user_id: int, name: str):
    engineer = fake.add_user(user_id=user_id, first_name=name, language_code="en")
    await admin.send_text("/invite engineer")
    code = re.search(r"start=(inv_[\w-]+)", admin.last.text).group(1)
    await engineer.send_text(f"/start {code}")
    return engineer


async def test_a_request_from_intake_to_an_accepted_job(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    ed = await _engineer(fake, dora, 5101, "Ed")
    fay = await _engineer(fake, dora, 5102, "Fay")
    await onboard(alice)
    number = await file_request(alice)

    await dora.press("Open to triage")
    assert f"{number}" in dora.last.text and "first contact" in dora.last.text
    await dora.press("Customer contacted")
    await dora.send_text("Called Alice, pump stopped since Monday")
    assert "Customer contacted: Called Alice" in dora.last.text and "⏱ first contact" not in dora.last.text
    await dora.press("Distance…")
    await dora.press("≤ 300 km")
    assert "Distance: ≤ 300 km" in dora.last.text
    await dora.press("Assign")
    await dora.press("Ed")
    assert "Engineer: Ed" in dora.last.text
    assert f"Job {number}" in ed.last.text
    assert f"Engineer Ed is assigned to your request {number}" in alice.last.text

    await ed.press("Decline")
    await ed.send_text("I am on another site all week")
    assert "back with the dispatcher" in ed.last.text
    assert any("Ed declined job" in (m.text or "") and "another site" in m.text for m in dora.messages)

    await dora.send_text("/queue")
    await dora.press(number)
    await dora.press("Assign")
    await dora.press("Fay")
    await fay.press("Accept")
    assert f"You accepted job {number}" in fay.last.text
    await alice.send_text(f"/status {number}")
    assert "Status: In progress" in alice.last.text and "Engineer: Fay" in alice.last.text
    await fay.send_text("/jobs")
    assert number in fay.last.button_texts[0]
    fake.assert_no_rejections()


async def test_the_second_dispatcher_is_told_who_got_there_first(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    alice = fake.add_user(user_id=5002, first_name="Alice", language_code="en")
    await _engineer(fake, dora, 5103, "Ed")
    await _engineer(fake, dora, 5104, "Fay")
    await onboard(alice)
    number = await file_request(alice)
    await dora.send_text("/queue")
    await dora.press(number)
    await dora.press("Assign")
    await wang.send_text("/queue")
    await wang.press(number)
    await wang.press("👷")
    await dora.press("Ed")
    await wang.press("Fay")
    assert wang.callback_answers[-1][1] == t("zh_Hans", "Another dispatcher was first: the request is already assigned to {name}.", name="Ed")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        engineer = await uow.users.get(request.assigned_engineer_id)
        assert engineer.first_name == "Ed" and len(await uow.dispatch.assignments(request.id)) == 1
    fake.assert_no_rejections()


async def test_forged_staff_buttons_change_nothing(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5003, first_name="Alice", language_code="en")
    await _engineer(fake, dora, 5105, "Ed")  # a second engineer, so the forged target is not the only one
    mallory = await _engineer(fake, dora, 5106, "Mallory")
    await onboard(alice)
    number = await file_request(alice)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        request_id, ed_id = request.id, (await uow.users.by_telegram_id(5105)).id
    await alice.press_data(f"1:as:{request_id}:{ed_id}:0")  # a customer assigning
    await mallory.press_data(f"1:dp:{request_id}:warranty:in_warranty")  # an engineer triaging
    await dora.send_text("/queue")
    await dora.press(number)
    await dora.press("Assign")
    await dora.press("Ed")
    await mallory.press_data(f"1:jb:{request_id}:accept")  # someone else's job
    assert all(answer[1] == "This button is no longer valid." for answer in (alice.callback_answers[-1], mallory.callback_answers[-1]))
    async with desk.db.uow() as uow:
        request = await uow.requests.get(request_id)
        assert (request.status, request.warranty) == ("assigned", None)
        audited = list(await uow.session.scalars(select(AuditEntry.actor_telegram_id).where(AuditEntry.action == "not_allowed_button").order_by(AuditEntry.id)))
        assert audited == [5003, 5106, 5106]
    fake.assert_no_rejections()


async def test_the_engineer_hears_of_an_assignment_whose_card_telegram_would_not_update(fake, desk):
    """The assignment is committed before the dispatcher's card is redrawn; when Telegram keeps
    refusing that edit (429 beyond the retries), the engineer and the customer are still told."""
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5091, first_name="Alice", language_code="en")
    ed = await _engineer(fake, dora, 5191, "Ed")
    await onboard(alice)
    number = await file_request(alice)
    await dora.press("Open to triage")
    await dora.press("Assign")
    fake.inject_flood(retry_after=1, times=TELEGRAM_LIMITS.max_retries + 1, method="editMessageText", chat_id=DISPATCHER_ID)
    await dora.press("Ed")
    assert f"Job {number}" in ed.last.text
    assert f"Engineer Ed is assigned to your request {number}" in alice.last.text
    assert not any("Sorry, something went wrong" in (m.text or "") for m in dora.messages)
    fake.assert_no_rejections(allow=lambda r: r.error_code == 429 or r.method == "answerCallbackQuery")


async def _accepted_job_with_a_visit(fake, base: int):
    """Ed accepted Alice's request and she agreed to his visit tomorrow at 09:00."""
    dora = fake.users[DISPATCHER_ID]
    ed = await _engineer(fake, dora, base + 1, "Ed")
    alice = fake.add_user(user_id=base + 3, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press("✅ Accept")
    await ed.press("📅 Propose a visit")
    await ed.press("Tomorrow 09:00")
    await alice.press("✅ That suits me")
    return dora, ed, alice, number


async def test_a_job_in_progress_is_given_to_another_engineer_who_plans_his_own_visit(fake, desk):
    dora, ed, alice, number = await _accepted_job_with_a_visit(fake, 5150)
    bob = await _engineer(fake, dora, 5155, "Bob")
    await dora.send_text(number)
    assert "Engineer: Ed" in dora.last.text
    await dora.press("👷 Reassign", dora.last)
    await dora.press("Bob")
    assert f"Job {number} was given to Bob" in ed.last.text
    assert "Engineer Bob is assigned" in alice.last.text
    await alice.send_text(f"/status {number}")
    assert "Visit planned" not in alice.last.text  # Ed's visit is off

    await bob.press("✅ Accept")
    assert "Visit:" not in await _job_card(bob, number)  # Ed's agreed visit is not Bob's
    await bob.press("📅 Propose a visit")
    await bob.press("In 2 days 09:00")
    await alice.press("✅ That suits me")
    assert number in bob.last.text  # the customer agreed to Bob's visit
    await ed.press("🚗 On my way")  # Ed's old card
    assert ed.callback_answers[-1][1] == "This button is no longer valid."
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        history = await uow.dispatch.assignments(request.id)
        assert [a.outcome for a in history] == ["reassigned", "accepted"]
        assert (await uow.users.get(request.assigned_engineer_id)).first_name == "Bob"
    fake.assert_no_rejections()


async def test_a_resolved_job_is_still_listed_for_its_engineer_and_not_offered_for_reassignment(fake, desk):
    dora, ed, alice, number = await _accepted_job_with_a_visit(fake, 5160)
    await _engineer(fake, dora, 5165, "Bob")
    await report_by_phone(ed)
    await dora.send_text(number)  # a dispatcher opens any request by its number
    assert number in dora.last.text and "Engineer: Ed" in dora.last.text
    assert "👷 Reassign" not in dora.last.button_texts  # the customer's verdict comes first
    await ed.send_text("/jobs")
    assert number in ed.last.button_texts[0]  # listed while the report may still be edited
    await ed.send_text(number)
    assert "✏️ Edit report" in ed.last.button_texts
    fake.assert_no_rejections()


async def test_the_engineer_hears_when_the_dispatcher_closes_his_job(fake, desk):
    dora, ed, alice, number = await _accepted_job_with_a_visit(fake, 5170)
    await dora.send_text(number)
    await dora.press("🗂 Close the request")
    await dora.send_text("Customer bought a new pump")
    assert f"Job {number} is closed by the service department" in ed.last.text and "new pump" in ed.last.text
    await ed.send_text("/jobs")
    assert ed.last.text == "You have no open jobs."
    fake.assert_no_rejections()


async def _job_card(engineer, number: str) -> str:
    await engineer.send_text("/jobs")
    await engineer.press(number)
    return engineer.last.text


async def test_an_engineer_who_blocked_the_bot_is_not_offered_and_the_dispatchers_hear_of_their_jobs(fake, desk):
    from bot.callbacks import AssignButton
    from tests.e2e.helpers import enrol

    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 5101, "Ed", "engineer")
    dan = await enrol(fake, dora, 5102, "Dan", "dispatcher")  # a dispatcher who is not an admin
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    first = await file_request(alice)
    fake.block(ed.id)
    await assign(dora, first, "Ed")  # the job card gets 403: Ed is marked unreachable
    await desk.sweep()
    alert = next(m.text for m in dan.messages if "has blocked the bot" in (m.text or ""))
    assert "Ed" in alert and f"Their open jobs: {first}" in alert

    second = await file_request(alice, description="Second pump leaks")
    await dora.send_text(f"/status {second}")
    await dora.press(t("en", "👷 Assign"))
    assert not any(label.startswith("Ed") for label in dora.last.button_texts)
    async with desk.db.uow() as uow:
        request_id = (await uow.requests.by_number(second)).id
        ed_id = (await uow.users.by_telegram_id(5101)).id
    await dora.press_data(AssignButton(request_id, ed_id, 0).pack())  # a list shown before the block
    assert "Ed has blocked the bot" in dora.callback_answers[-1][1]
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(second)).assigned_engineer_id is None


REGISTRY_HEADER = "Serial,Model,Customer/Project,Sale date,Commissioning date,Warranty months,Maintenance cycle\n"


async def test_the_warranty_on_the_card_is_read_on_the_day_the_fault_was_reported(fake, desk):
    from datetime import timedelta

    dora = fake.users[DISPATCHER_ID]
    await dora.send_text("/import")  # 12 months from 2025-03-02: in warranty through 2026-03-02, today
    await dora.send_document("registry.csv", data=(REGISTRY_HEADER + "QJ-5001,QJ 50-120,Farm,2025-02-20,2025-03-02,12,\n").encode())
    alice = fake.add_user(user_id=7301, first_name="Alice", language_code="en")
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
    desk.clock.advance(timedelta(hours=23))  # the dispatcher opens it the next morning
    await dora.send_text(f"/status {number}")
    assert "Warranty: in warranty" in dora.last.text


async def test_a_typed_serial_the_registry_knows_is_shown_to_staff_with_its_warranty(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await dora.send_text("/import")
    await dora.send_document("registry.csv", data=(REGISTRY_HEADER + "QJ-5003,QJ 50-120,Yellow River Farm,2025-09-01,2025-09-20,24,\n").encode())
    alice = fake.add_user(user_id=7303, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/new")
    await alice.press("Fault repair")
    await alice.send_text("qj-5003")  # from the nameplate; she never claimed it
    await alice.send_text("Pump trips the breaker after 5 minutes")
    await alice.press("Skip, no photos")
    await alice.send_location(34.7466, 113.6253)
    await alice.press("✅ Confirm and send")
    number = re.search(r"SR-\d{4}-\d{6}", alice.last.text).group(0)
    await dora.send_text(f"/status {number}")
    card = dora.last.text
    assert "not in the registry" not in card and "Warranty: in warranty" in card
    assert "In the registry: QJ 50-120 · QJ-5003, registered to Yellow River Farm; not linked to this customer." in card


async def test_the_engineer_sees_the_whole_description_the_customer_wrote(fake, desk):
    """The job card kept the first 600 characters on one line; the intake takes 2000 "with any
    error codes shown". Whole, in emoji (two units each) the card is longer than one message:
    it comes in pieces, and Accept (on the last) redraws it in pieces too (an edit cannot split)."""
    from tests.e2e.helpers import enrol

    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 7403, "Ed", "engineer")
    alice = fake.add_user(user_id=5402, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, description="🔥" * 1950 + "\nDisplay shows error code E-042.")  # 1,981 characters
    await assign(dora, number, "Ed")
    job = [m for m in ed.messages if m.text and ("🔥" in m.text or "✅ Accept" in m.button_texts)]
    assert len(job) >= 2 and "✅ Accept" in job[-1].button_texts
    assert sum(m.text.count("🔥") for m in job) == 1950
    assert any(line == "Display shows error code E-042." for m in job for line in m.text.split("\n"))  # its own line

    await ed.press("✅ Accept", job[-1])
    redrawn = "\n".join(m.text or "" for m in ed.new_messages)
    assert redrawn.count("🔥") == 1950 and "E-042" in redrawn and any("📞 Log a call" in m.button_texts for m in ed.new_messages)
    fake.assert_no_rejections()


async def test_a_long_description_with_a_line_of_spaces_reaches_the_dispatchers_whole(fake, desk):
    """A pasted log: many '&' (each "&amp;" in HTML), a line of spaces, more '&'. Measured on the
    markup the summary was split, the spaces alone in a piece: Telegram refused that blank
    message and the customer got the apology at the summary."""
    alice = fake.add_user(user_id=5401, first_name="Alice", language_code="en")
    await onboard(alice)
    description = "ab" + "&" * 816 + "\n \n" + "&" * 819  # 1,640 characters, within the 2000 allowed
    number = await file_request(alice, description=description)  # through the summary
    assert not any("went wrong" in (m.text or "") for m in alice.messages)
    fake.assert_no_rejections()
    told = [m for m in fake.messages_to(DISPATCHER_ID) if m.text and number in m.text]
    assert len(told) == 1 and told[0].text.count("&") == 816 + 819  # one message: 1,640 characters as Telegram counts
    assert told[0].buttons


async def _long_waiver_rejected_by_one_of_two(fake) -> tuple:
    """Texts within their limits in characters, in emoji (two units each): the redrawn card is
    over 4096. Returns Max's copy of the card after Mia rejected, and the request number."""
    from tests.e2e.helpers import enrol
    from tests.e2e.test_approvals import _ask_waiver

    dora = fake.users[DISPATCHER_ID]
    mia = await enrol(fake, dora, 7101, "Mia", "marketing_vp")
    max_ = await enrol(fake, dora, 7102, "Max", "marketing_vp")
    alice = fake.add_user(user_id=5001, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice, description="🔥" * 400)
    await _ask_waiver(dora, number, "10000", "🙏" * 1000)  # a comment: at most 1000 characters
    mia_card, max_card = mia.last, max_.last
    assert "✅ Approve" in max_card.button_texts
    await mia.press("❌ Reject", mia_card)
    await mia.send_text("🚫" * 1000)
    return max_.message(max_card.message_id), number


async def test_a_long_rejection_still_redraws_the_other_approvers_copy(fake, desk):
    """Telegram refused the over-long edit, and Max's copy kept its Approve / Reject buttons."""
    copy, number = await _long_waiver_rejected_by_one_of_two(fake)
    assert copy.button_texts == [] and copy.edits == 1
    assert number in copy.text and "🚫" in copy.text and "…" in copy.text  # cut to fit, the decision still shown
    fake.assert_no_rejections()


async def test_an_approvers_copy_telegram_will_not_redraw_at_least_loses_its_buttons(fake, desk, monkeypatch):
    from handlers import common

    monkeypatch.setattr(common, "fit_html", lambda text, limit=4096: text)  # not cut: Telegram refuses the edit
    copy, _ = await _long_waiver_rejected_by_one_of_two(fake)
    assert copy.button_texts == [] and "🚫" not in copy.text  # the text stays, but no Approve / Reject is left to press
    fake.assert_no_rejections(allow=lambda r: r.method == "editMessageText" and "too long" in r.description)


async def test_a_stale_engineer_list_does_not_give_the_job_to_an_engineer_who_went_off_duty(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await _engineer(fake, dora, 5201, "Ed")
    await _engineer(fake, dora, 5202, "Fay")
    alice = fake.add_user(user_id=5203, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await dora.press("Open to triage")
    await dora.press("👷 Assign")
    listing = dora.last
    await ed.send_text("/duty")  # off duty after the list was drawn
    ed_seen = len(ed.messages)
    await dora.press(next(b for b in listing.button_texts if b.startswith("Ed")), listing)
    assert dora.callback_answers[-1][1] == "Ed is off duty now, so no new jobs go to them. Please choose another engineer."
    assert [b for b in dora.last.button_texts if b.startswith(("Ed", "Fay"))] == [next(b for b in listing.button_texts if b.startswith("Fay"))]
    assert len(ed.messages) == ed_seen  # no job card reached him
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (request.status, request.assigned_engineer_id) == ("new", None)
        assert await uow.dispatch.assignments(request.id) == []
    fake.assert_no_rejections()


async def test_reassign_does_not_offer_or_accept_the_engineer_who_has_the_job(fake, desk):
    dora, ed, alice, number = await _accepted_job_with_a_visit(fake, 5210)
    await dora.send_text(number)
    await dora.press("👷 Reassign", dora.last)
    assert dora.last.text.startswith("No engineer is available")  # Ed has it; nobody else to offer
    told = sum("Engineer Ed is assigned" in (m.text or "") for m in alice.messages)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        request_id, ed_id = request.id, request.assigned_engineer_id
    await dora.send_text(number)
    await dora.press_data(f"1:as:{request_id}:{ed_id}:{ed_id}")  # an older list that still named him
    assert dora.callback_answers[-1][1] == "Ed already has this job. Please choose another engineer."
    assert dora.last.text.startswith("No engineer is available")  # the list redrawn
    async with desk.db.uow() as uow:
        request = await uow.requests.get(request_id)
        assert (request.status, request.assigned_engineer_id) == ("in_progress", ed_id)
        assert [a.outcome for a in await uow.dispatch.assignments(request_id)] == ["accepted"]
    assert sum("Engineer Ed is assigned" in (m.text or "") for m in alice.messages) == told
    fake.assert_no_rejections()


async def test_the_queue_counts_and_pages_every_waiting_request_soonest_deadline_first(fake, desk, monkeypatch):
    from datetime import timedelta

    from bot.services import dispatch

    monkeypatch.setattr(dispatch, "QUEUE_SIZE", 3)  # pages of 3 instead of 30: the same paging, fewer intakes
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5223, first_name="Alice", language_code="en")
    await onboard(alice)
    oldest = await file_request(alice, description="The oldest request, already contacted")
    await dora.send_text(oldest)
    await dora.press("📞 Customer contacted", dora.last)
    await dora.send_text("Called, needs a visit")
    numbers = []
    for i in range(4):
        desk.clock.advance(timedelta(minutes=1))
        numbers.append(await file_request(alice, description=f"Pump number {i} leaks"))
    await dora.send_text("/queue")
    first_page = dora.last
    assert first_page.text.split("\n")[0] == "Queue: 5 without an engineer, most urgent first · page 1 of 2"
    # the first-contact deadlines come first, oldest first; the contacted one has only its repair deadline
    assert [b.split(" · ")[0] for b in first_page.button_texts if b.startswith("SR-")] == numbers[:3]
    await dora.press("Next ›", first_page)
    assert dora.last.text.split("\n")[0] == "Queue: 5 without an engineer, most urgent first · page 2 of 2"
    assert [b.split(" · ")[0] for b in dora.last.button_texts if b.startswith("SR-")] == [numbers[3], oldest]
    assert oldest in dora.last.text and "‹ Previous" in dora.last.button_texts
    fake.assert_no_rejections()


async def test_old_card_buttons_of_a_closed_request_refuse_before_asking_for_a_note(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    alice = fake.add_user(user_id=5233, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    old_cards = []
    for _ in range(2):
        await dora.send_text(number)
        old_cards.append(dora.last)
    await wang.send_text(number)
    await wang.press(t("zh_Hans", "🗂 Close the request"), wang.last)
    await wang.send_text("重复的请求")
    for label, old_card in zip(("📞 Customer contacted", "🗂 Close the request"), old_cards):
        dora_seen = len(dora.messages)
        await dora.press(label, old_card)
        assert dora.callback_answers[-1][1] == "This request is closed or cancelled meanwhile; nothing can be recorded on it."
        assert len(dora.messages) == dora_seen  # no prompt for a note that would be thrown away
        assert old_card.button_texts == ["🔄 Refresh"] and "Closed" in old_card.text.split("\n")[0]  # the card as it is now
        async with desk.db.uow() as uow:
            assert await uow.drafts.of_user((await uow.users.by_telegram_id(DISPATCHER_ID)).id) is None
    fake.assert_no_rejections()


async def _accepted_quote(fake, desk, base: int):
    """Ed's job ruled expired, quoted, and the quote accepted by Alice."""
    from storage.models import Part

    async with desk.db.uow() as uow:
        uow.session.add(Part(code=f"QJ-{base}", name="Impeller", unit="pcs", price=120_000))
        await uow.commit()
    dora = fake.users[DISPATCHER_ID]
    ed = await _engineer(fake, dora, base + 1, "Ed")
    alice = fake.add_user(user_id=base + 3, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await dora.press("Open to triage")
    await dora.press("Warranty…")
    await dora.press("warranty expired")
    await dora.press("Assign")
    await dora.press("Ed")
    await ed.press("✅ Accept")
    await ed.press("🧮 Quote")
    await ed.send_text(f"qj-{base}")
    await ed.send_text("1")
    await ed.press("Parts done ›")
    await ed.send_text("600")
    await ed.send_text("350")
    await ed.press("📤 Send to the customer")
    await alice.press("✅ Accept", alice.last)
    return dora, ed, alice, number


async def test_a_ruling_change_tells_the_customer_of_a_void_accepted_quote_and_the_engineer_of_his_gate(fake, desk):
    dora, ed, alice, number = await _accepted_quote(fake, desk, 5240)
    alice_seen, ed_seen = len(alice.messages), len(ed.messages)
    await dora.send_text(number)
    await dora.press("Warranty…", dora.last)
    await dora.press("in warranty")  # pressed by mistake: the accepted quote is void
    told = [m.text for m in alice.messages[alice_seen:]]
    assert len(told) == 1 and told[0].startswith(f"Good news: request {number} is covered by warranty. The quote of ")
    assert told[0].endswith(" no longer applies; you pay nothing for this work.")
    assert len(ed.messages) == ed_seen  # his work was cleared before and still is
    await dora.press("Warranty…")
    await dora.press("warranty expired")  # put back: paid again, and no quote in force
    assert ed.last.text == (f"Job {number} is now paid work: it goes on after the customer accepts a quote "
                            "or a fee waiver is approved.")
    # the customer, told they pay nothing, hears of the correction before any new quote
    assert alice.last.text == (f"Correction on request {number}: on review, the work is not covered by warranty after all. "
                               "You will receive a quote to accept before any paid work starts.")
    assert len(alice.messages) == alice_seen + 2
    await ed.press("🚗 On my way")
    assert "paid work" in ed.callback_answers[-1][1]
    await dora.press("Warranty…")
    await dora.press("in warranty")
    assert ed.last.text == f"Job {number} is ruled in warranty: no quote is needed, the work can go on."
    fake.assert_no_rejections()


# --- a request number typed at a note or reason prompt opens that request -------------------------
# Staff type numbers to open cards; taken as the open prompt's answer, one would close, decline or
# reject for good with "SR-…" as the reason.


async def test_a_number_typed_at_the_close_prompt_opens_that_request_and_closes_nothing(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5921, first_name="Alice", language_code="en")
    await onboard(alice)
    first = await file_request(alice, description="Pump trips the breaker")
    second = await file_request(alice, description="Second pump leaks")
    await dora.send_text(first)
    await dora.press("🗂 Close the request")  # asked for the reason; she thinks better of it
    await dora.send_text(second)
    assert second in dora.last.text and "Second pump leaks" in dora.last.text
    assert any(m.text == t("en", "Cancelled. Nothing was sent.") for m in dora.messages[-2:])
    assert not any("closed by the service department" in (m.text or "") for m in alice.messages)
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(first)).status != "closed"
    await dora.send_text("Typed later, not a reason")  # the prompt is gone: nothing takes this as a reason
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(first)).status != "closed"


async def test_a_job_number_typed_at_the_decline_prompt_opens_it_and_declines_nothing(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await _engineer(fake, dora, 5931, "Ed")
    alice = fake.add_user(user_id=5932, first_name="Alice", language_code="en")
    await onboard(alice)
    first = await file_request(alice, description="Pump trips the breaker")
    second = await file_request(alice, description="Second pump leaks")
    await assign(dora, first, "Ed")
    await ed.press("✖️ Decline")  # asked for a reason; he changes his mind
    await assign(dora, second, "Ed")
    await ed.send_text(first)  # "typing a job's number opens it"
    assert first in ed.last.text and "✅ Accept" in ed.last.button_texts
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(first)).assigned_engineer_id is not None
    assert not any("changing" in (m.text or "").lower() for m in alice.messages)


async def test_a_number_typed_at_the_reject_prompt_rejects_nothing(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    mia = await enrol(fake, dora, 5961, "Mia", "marketing_vp")
    sam = await enrol(fake, dora, 5962, "Sam", "salesperson")
    await sam.send_text("/sell")
    await sam.press("Fault repair")
    await sam.send_text("Bob")
    await sam.send_text("+8613800138077")
    await sam.press("I don't know it")
    await sam.send_text("Pump broken at the farm")
    await sam.press("📤 Send for approval")
    number = re.search(r"SR-\d{4}-\d{6}", sam.last.text).group(0)
    seen = len(sam.messages)
    card = next(m for m in reversed(mia.messages) if "❌ Reject" in m.button_texts)
    await mia.press("❌ Reject", card)  # asked for the reason; she reads on instead
    await mia.send_text(number)  # and types the number to look at the request
    assert number in mia.last.text
    assert not any("reject" in (m.text or "").lower() for m in sam.messages[seen:])
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(number)).status == "awaiting_approval"


async def test_a_priority_pressed_on_an_old_card_does_not_undo_a_newer_one(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5091, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await dora.send_text(number)
    old_card = dora.last
    await dora.send_text(number)  # a second card of the same request (a colleague's, say)
    await dora.press("Priority → high", dora.last)
    await dora.press("Priority → urgent", dora.last)
    await dora.press("Priority → high", old_card)  # drawn while it was normal
    assert dora.callback_answers[-1][1] == "The priority was changed meanwhile; the card shows it as it is now."
    assert "Priority → normal" in old_card.button_texts  # redrawn: urgent now, its button steps on to normal
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(number)).priority == "urgent"
    fake.assert_no_rejections()


async def test_refresh_on_a_card_nothing_changed_says_so(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5241, first_name="Alice", language_code="en")
    await onboard(alice)
    await file_request(alice)
    await dora.press("Open to triage")
    card = dora.last
    await dora.press("🔄 Refresh", card)
    assert dora.callback_answers[-1][1] == "Nothing has changed since."
    assert dora.last is card  # nothing new sent
    fake.assert_no_rejections(allow=lambda r: "not modified" in r.description)  # Telegram's answer to the same card
