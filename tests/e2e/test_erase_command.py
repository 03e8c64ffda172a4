"""/erase over HTTP: an admin erases a customer's personal data from the chat, by phone or by
request number, after a card that names them; Cancel, wrong input, unknown customers, staff
accounts, non-admins, double, stale and forged presses change nothing, and a restart in the
middle of the dialog loses nothing."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from bot.callbacks import DialogButton
from bot.erasure_views import masked_phone
from bot.services import erasure
from storage.models import Approval, AuditEntry, Customer, Draft, JobReport, OutboxMessage, Product, RequestEvent, ServiceRequest, User, UserRole
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import TRANSLATORS, assign, enrol, file_request, onboard, report_by_phone, t

ALICE_ID, BOB_ID = 7501, 7502
ALICE_PHONE, BOB_PHONE = "+8613812345678", "+8613900139000"
PROMPT = "Send the customer's phone number (with the country code, e.g. +86 138 0013 8000) or one of their request numbers (SR-…)."
STALE = "This button is no longer valid."
ONLY_ADMIN = "Only an admin can do that."
ERASE, BACK, CANCEL = "🗑 Erase", "⬅️ Back", "✖️ Cancel"


def en(message: str, **values) -> str:
    return t("en", message, **values)


def _done(requests: int) -> str:
    if requests == 1:
        return en("{n} request kept with its number; statistics are unchanged.", n=1)
    return en("{n} requests kept with their numbers; statistics are unchanged.", n=requests)


@dataclass(frozen=True)
class Audited:
    actor_telegram_id: int
    details: dict


async def _customer(desk, phone: str = ALICE_PHONE, *, number: str | None = None) -> Customer:
    """The customer row, read in its own transaction (attributes loaded before it closes)."""
    async with desk.db.uow() as uow:
        if number is not None:
            request = await uow.requests.by_number(number)
            customer = await uow.customers.get(request.customer_id)
        else:
            customer = await uow.customers.by_phone(phone)
        uow.session.expunge(customer)
        return customer


async def _audit(desk, action: str) -> list[Audited]:
    async with desk.db.uow() as uow:
        rows = await uow.session.execute(select(AuditEntry.actor_telegram_id, AuditEntry.details).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [Audited(actor, details) for actor, details in rows.all()]


async def _draft_id(desk) -> int:
    async with desk.db.uow() as uow:
        return await uow.session.scalar(select(Draft.id).where(Draft.kind == erasure.DIALOG))


async def _alice_with_a_request(fake) -> tuple[object, str]:
    alice = fake.add_user(user_id=ALICE_ID, first_name="Alice", language_code="en")
    await onboard(alice, phone=ALICE_PHONE, company="Yellow River Farm")
    return alice, await file_request(alice, description="Pump trips the breaker at the north gate")


def test_the_phone_on_the_card_shows_only_its_ends():
    assert masked_phone("+8613812345678") == "+86 138****5678"
    assert masked_phone("+4915123456789") == "+491******6789"
    assert masked_phone("1234567") == "*****67"
    assert masked_phone(erasure.ERASED) == masked_phone(None) == "—"


async def test_an_admin_erases_a_customer_by_phone_and_a_restart_in_between_loses_nothing(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice, number = await _alice_with_a_request(fake)

    await dora.send_text("/erase")
    assert en(PROMPT) in dora.last.text and en("Request numbers and statistics are kept. This cannot be undone.") in dora.last.text
    assert dora.last.button_texts == [CANCEL]
    await dora.send_sticker()
    assert dora.last.text == en("Please type the customer's phone number or a request number (SR-…) as text.")
    await dora.send_photo()
    assert dora.last.text == en("Please type the customer's phone number or a request number (SR-…) as text.")
    await dora.send_text("1" * 65)
    assert dora.last.text == en("That is too long for a phone or request number (at most {n} characters). Please send it again.", n=64)
    await dora.send_text("+86 100 0000 0000")
    assert dora.last.text == en("No customer found for “{reference}”. Check the phone or request number and send it again.", reference="+86 100 0000 0000")

    await desk.restart()  # the question is a draft row
    await dora.send_text("+86 138 1234 5678")
    card = dora.last
    assert en("Customer: {name}", name="Alice") in card.text
    assert en("Company: {company}", company="Yellow River Farm") in card.text
    assert en("Phone: {phone}", phone="+86 138****5678") in card.text and "12345678" not in card.text
    assert en("Requests: {n} (the number stays, statistics are unchanged)", n=1) in card.text
    assert card.button_texts == [ERASE, BACK, CANCEL]

    await desk.restart()  # so is the card
    await dora.press(ERASE, card)
    [entry] = await _audit(desk, erasure.AUDIT_ACTION)
    assert entry.details["fields"] > 5
    assert dora.message(card.message_id).text == "\n".join([
        en("✅ Personal data erased: {n} values replaced with “[erased]”.", n=entry.details["fields"]), _done(1)])
    assert dora.message(card.message_id).buttons == []

    async with desk.db.uow() as uow:
        customer = await uow.customers.get((await _customer(desk, number=number)).id)
        request = await uow.requests.by_number(number)
        assert (customer.name, customer.phone, customer.company) == (erasure.ERASED,) * 3 and customer.erased_at == desk.clock.now()
        assert request.number == number and request.description == erasure.ERASED and request.site_latitude is None
        assert await uow.users.by_telegram_id(ALICE_ID) is None  # her Telegram account is unlinked
        assert await uow.customers.by_phone(ALICE_PHONE) is None
        assert await uow.session.scalar(select(func.count()).select_from(Draft).where(Draft.kind == erasure.DIALOG)) == 0
        customer_id = customer.id
    assert (entry.actor_telegram_id, entry.details["customer_id"], entry.details["already_erased"]) == (DISPATCHER_ID, customer_id, False)
    fake.assert_no_rejections()


async def test_erase_by_request_number_with_back_then_a_double_press_erases_once(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice, number = await _alice_with_a_request(fake)
    second = await file_request(alice, description="Second pump hums")

    await dora.send_text(f"/erase {second.lower()}")  # the reference given with the command skips the question
    assert en("Requests: {n} (the numbers stay, statistics are unchanged)", n=2) in dora.last.text
    await dora.press(BACK)
    assert en(PROMPT) in dora.last.text
    await dora.send_text(number)
    card = dora.last
    erase_data = card.buttons[0]["callback_data"]
    await dora.press(ERASE, card)
    assert _done(2) in dora.message(card.message_id).text

    await dora.press_data(erase_data, card)  # pressed again (a slow network, an impatient thumb)
    assert dora.callback_answers[-1][1] == en(STALE)
    assert len([m for m in dora.messages if _done(2) in (m.text or "")]) == 1
    assert [e.details["already_erased"] for e in await _audit(desk, erasure.AUDIT_ACTION)] == [False]
    assert [e.actor_telegram_id for e in await _audit(desk, "stale_button")] == [DISPATCHER_ID]

    # Found again by number, the card says when she was erased and offers to erase what came since: nothing did.
    await dora.send_text(f"/erase {number}")
    erased_on = TRANSLATORS["en"].datetime(desk.clock.now())
    assert en("This customer's personal data was already erased on {date}.", date=erased_on) in dora.last.text
    assert dora.last.button_texts == [ERASE, BACK, CANCEL]
    await dora.press(ERASE)
    assert dora.last.text == en("This customer was already erased; nothing changed.")
    assert [(e.details["already_erased"], e.details["fields"] == 0) for e in await _audit(desk, erasure.AUDIT_ACTION)] == [(False, False), (True, True)]
    async with desk.db.uow() as uow:
        assert [r.number for r in await uow.personal_data.requests_of((await _customer(desk, number=number)).id)] == [number, second]
    fake.assert_no_rejections()


async def test_cancel_changes_nothing(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice, number = await _alice_with_a_request(fake)
    await dora.send_text("/erase")
    await dora.press(CANCEL)
    assert dora.last.text == en("Cancelled. Nothing was erased.")
    await dora.send_text(f"/erase {ALICE_PHONE}")
    await dora.press(CANCEL)
    assert dora.last.text == en("Cancelled. Nothing was erased.") and dora.last.buttons == []
    await dora.send_text("+86 138 1234 5678")  # no dialog any more: not taken as a reference
    assert en("Customer: {name}", name="Alice") not in dora.last.text

    customer = await _customer(desk)
    assert (customer.name, customer.phone, customer.erased_at) == ("Alice", ALICE_PHONE, None)
    assert await _audit(desk, erasure.AUDIT_ACTION) == []
    await alice.send_text("/my")
    assert number in alice.last.text
    fake.assert_no_rejections()


async def test_staff_accounts_are_refused_with_the_reason_and_non_admins_get_the_usual_answer(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice, _number = await _alice_with_a_request(fake)
    bob = fake.add_user(user_id=BOB_ID, first_name="Bob", language_code="en")
    await onboard(bob, phone=BOB_PHONE, company="Bob's Mill")

    # Alice, a customer, joins the staff as an engineer: her record is no longer erased this way.
    await dora.send_text("/invite engineer")
    code = re.search(r"start=(inv_[\w-]+)", dora.last.text).group(1)
    await alice.send_text(f"/start {code}")
    await dora.send_text(f"/erase {ALICE_PHONE}")
    assert dora.last.text == en("This is a staff member's account: staff are not erased this way. Withdraw their roles in /staff first.")
    assert dora.last.button_texts == [CANCEL]

    for someone in (alice, bob):  # an engineer, a customer: the same answer as /staff gives them
        await someone.send_text("/erase")
        assert someone.last.text == en(ONLY_ADMIN)
        await someone.send_text(f"/erase {BOB_PHONE}")
        assert someone.last.text == en(ONLY_ADMIN)
        await someone.send_text("/staff")
        assert someone.last.text == en(ONLY_ADMIN)

    assert (await _customer(desk)).name == "Alice" and (await _customer(desk, BOB_PHONE)).name == "Bob"
    assert await _audit(desk, erasure.AUDIT_ACTION) == []
    fake.assert_no_rejections()


async def test_forged_presses_and_a_lost_admin_role_erase_nothing_and_are_audited(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice, _number = await _alice_with_a_request(fake)
    bob = fake.add_user(user_id=BOB_ID, first_name="Bob", language_code="en")
    await onboard(bob, phone=BOB_PHONE, company="Bob's Mill")
    bob_customer = await _customer(desk, BOB_PHONE)

    await dora.send_text(f"/erase {ALICE_PHONE}")
    card = dora.last
    draft_id = await _draft_id(desk)
    # The card's own dialog and step, but Bob's customer id: nobody asked to erase Bob.
    await dora.press_data(DialogButton(draft_id, erasure.CONFIRM, "erase", str(bob_customer.id)).pack(), card)
    assert dora.callback_answers[-1][1:] == (en(STALE), True)
    # Bob presses Dora's button: not his dialog.
    await bob.press_data(card.buttons[0]["callback_data"])
    assert bob.callback_answers[-1][1] == en(STALE)

    # Dora loses the admin role while the card is open: the server asks again and refuses.
    async with desk.db.uow() as uow:
        dora_user = await uow.users.by_telegram_id(DISPATCHER_ID)
        await uow.session.execute(delete(UserRole).where(UserRole.user_id == dora_user.id, UserRole.role == "admin"))
        await uow.commit()
    await dora.press(ERASE, card)
    assert dora.message(card.message_id).text == en(ONLY_ADMIN) and dora.message(card.message_id).buttons == []
    await dora.send_text("/erase")
    assert dora.last.text == en(ONLY_ADMIN)

    assert (await _customer(desk)).name == "Alice" and (await _customer(desk, BOB_PHONE)).name == "Bob"
    assert await _audit(desk, erasure.AUDIT_ACTION) == []
    refused = await _audit(desk, "erase_button_refused")
    assert [(e.actor_telegram_id, e.details["reason"]) for e in refused] == [(DISPATCHER_ID, "not_shown"), (DISPATCHER_ID, "erase")]
    assert [e.actor_telegram_id for e in await _audit(desk, "stale_button")] == [BOB_ID]
    assert await _draft_id(desk) is None
    fake.assert_no_rejections()


# --- what survived erasure once (review findings), each followed the way it happened ---------


async def _erase(dora, reference: str) -> None:
    await dora.send_text(f"/erase {reference}")
    await dora.press(ERASE)
    assert en("✅ Personal data erased: {n} values replaced with “[erased]”.", n=0).split(":")[0] in dora.last.text


async def _events(desk, number: str, action: str) -> list[dict]:
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        query = select(RequestEvent.details).where(RequestEvent.request_id == request.id, RequestEvent.action == action).order_by(RequestEvent.id)
        return list(await uow.session.scalars(query))


async def _contacted_note(fake, desk, first_name: str, note: str) -> str:
    """Alice (by this first name) files a request and the dispatcher notes the call on it."""
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=ALICE_ID, first_name=first_name, language_code="en")
    await onboard(alice, phone=ALICE_PHONE)  # "Use “<first name>”"
    number = await file_request(alice)
    await dora.send_text("/queue")
    await dora.press(number)
    await dora.press("📞 Customer contacted")
    await dora.send_text(note)
    assert [d.get("note") for d in await _events(desk, number, "contacted")] == [note]
    return number


async def test_the_description_a_salesperson_filed_is_erased_from_its_approval_too(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 7201, "Sam", "salesperson")
    await enrol(fake, dora, 7101, "Mia", "marketing_vp")
    alice = fake.add_user(user_id=ALICE_ID, first_name="Alice", language_code="en")
    await onboard(alice)  # +8613800138000, the phone Sam types: the request is hers
    await sam.send_text("/sell")
    await sam.press("Fault repair")
    await sam.send_text("Alice, Yellow River Farm")
    await sam.send_text("+86 138 0013 8000")
    await sam.press("I don't know it")
    await sam.send_text("Pump in the cellar under the widow's cottage stops after an hour")
    await sam.press("📤 Send for approval")
    number = re.search(r"SR-\d{4}-\d{6}", sam.last.text).group(0)

    await _erase(dora, number)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert request.description == erasure.ERASED
        approvals = (await uow.session.execute(select(Approval.kind, Approval.status, Approval.reason).where(Approval.request_id == request.id))).all()
    assert [tuple(a) for a in approvals] == [("sales_request", "pending", erasure.ERASED)]  # the approval stays, without her words
    fake.assert_no_rejections()


async def test_the_engineers_arrival_at_the_site_leaves_no_coordinates_on_the_timeline(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 7602, "Ed", "engineer")
    alice, number = await _alice_with_a_request(fake)
    await assign(dora, number, "Ed")
    await ed.press("✅ Accept")
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press("🚗 On my way")
    await ed.press("📍 Arrived")
    await ed.send_location(34.7467, 113.6254)  # standing at Alice's site
    assert [(d["latitude"], d["longitude"]) for d in await _events(desk, number, "arrived")] == [(34.7467, 113.6254)]

    await _erase(dora, number)
    assert [(d["latitude"], d["longitude"]) for d in await _events(desk, number, "arrived")] == [(None, None)]  # the entry stays
    fake.assert_no_rejections()


async def test_a_staff_note_with_the_phone_written_without_the_country_code_is_erased(fake, desk):
    number = await _contacted_note(fake, desk, "Alice", "Called 138 1234 5678, gate code 4471")  # as a Chinese mobile is written
    await _erase(fake.users[DISPATCHER_ID], number)
    assert [d.get("note") for d in await _events(desk, number, "contacted")] == [erasure.ERASED]


async def test_a_two_character_chinese_name_is_cut_out_of_a_staff_note(fake, desk):
    number = await _contacted_note(fake, desk, "王芳", "王芳说只能晚上六点以后来")  # "Wang Fang says only after 6 pm"
    await _erase(fake.users[DISPATCHER_ID], number)
    assert (await _customer(desk, number=number)).name == erasure.ERASED
    assert [d.get("note") for d in await _events(desk, number, "contacted")] == [erasure.ERASED + "说只能晚上六点以后来"]


async def test_a_two_character_chinese_name_that_is_also_a_word_leaves_the_rest_of_a_staff_note(fake, desk):
    # 高峰 (Gao Feng) is also "peak": the technical record stays, only the word is cut out
    number = await _contacted_note(fake, desk, "高峰", "晚上用电高峰时电压低，水泵跳闸；下周二上午上门")
    await _erase(fake.users[DISPATCHER_ID], number)
    assert [d.get("note") for d in await _events(desk, number, "contacted")] == ["晚上用电" + erasure.ERASED + "时电压低，水泵跳闸；下周二上午上门"]


async def test_the_customers_audit_rows_lose_her_telegram_id_and_what_she_typed_but_the_erasure_is_recorded(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    async with desk.db.uow() as uow:
        uow.session.add(Product(serial="QJ-1001", model="QJ 50-120"))
        await uow.commit()
    alice, number = await _alice_with_a_request(fake)
    await alice.send_text("SR-2025-000777")  # not hers: audited with the number she typed
    await alice.send_text("/products")
    await alice.press("➕ Claim a product by serial")
    await alice.send_text("QJ-7777")  # not in the registry: audited with the serial she typed
    await alice.send_text("qj-1001")
    assert "has been sent to the service department" in alice.last.text
    mine = await _audit(desk, "request_not_found") + await _audit(desk, "claim_unknown_serial") + await _audit(desk, "product_claimed")
    assert [e.actor_telegram_id for e in mine] == [ALICE_ID] * 3
    assert (mine[0].details["number"], mine[1].details["serial"]) == ("SR-2025-000777", "QJ-7777")

    await _erase(dora, number)
    user_id = (await _customer(desk, number=number)).user_id
    async with desk.db.uow() as uow:
        placeholder = await uow.session.scalar(select(User.telegram_id).where(User.id == user_id))
        assert await uow.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.actor_telegram_id == ALICE_ID)) == 0
    after = await _audit(desk, "request_not_found") + await _audit(desk, "claim_unknown_serial") + await _audit(desk, "product_claimed")
    assert placeholder < 0 and [e.actor_telegram_id for e in after] == [placeholder] * 3  # the same placeholder as her user row
    assert (after[0].details["number"], after[1].details["serial"]) == (erasure.ERASED, erasure.ERASED)
    assert after[2].details == mine[2].details  # ids only: the claim and the product stay counted
    [entry] = await _audit(desk, erasure.AUDIT_ACTION)  # the record that the erasure happened is kept as written
    assert (entry.actor_telegram_id, entry.details["already_erased"]) == (DISPATCHER_ID, False)
    fake.assert_no_rejections()


async def test_an_engineers_open_report_keeps_his_work_but_not_the_customers_words_and_tells_her_nothing(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 7602, "Ed", "engineer")
    alice, number = await _alice_with_a_request(fake)
    await assign(dora, number, "Ed")
    await ed.press("✅ Accept")
    await ed.press("Solved by phone")
    await ed.send_text("No water")
    await ed.send_text("Valve closed")
    await ed.press("Misuse or operating error")
    await ed.send_text("Told her to open the valve")
    await ed.press("No parts were used")
    await ed.send_text("0.5")
    await ed.send_text("She says her late husband always closed it")  # the customer's words, typed by the engineer
    summary = ed.last
    heard = len(alice.messages)

    await _erase(dora, number)  # while Ed's report waits on its summary card
    async with desk.db.uow() as uow:
        [data] = [d.data for d in await uow.session.scalars(select(Draft).where(Draft.kind == "report"))]
    assert (data["opinion"], data["symptom"], data["solution"], data["hours"]) == (erasure.ERASED, "No water", "Told her to open the valve", "0.5")

    await ed.press("Send the report", summary)
    user_id = (await _customer(desk, number=number)).user_id
    async with desk.db.uow() as uow:
        reports = (await uow.session.execute(select(JobReport.customer_opinion, JobReport.symptom, JobReport.labour_hours))).all()
        unsent = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.user_id == user_id, OutboxMessage.sent_at.is_(None))
        waiting = await uow.session.scalar(unsent)
        assert await uow.session.scalar(select(User.is_reachable).where(User.id == user_id)) is False
    assert [(opinion, symptom, float(hours)) for opinion, symptom, hours in reports] == [(erasure.ERASED, "No water", 0.5)]
    assert waiting == 0 and len(alice.messages) == heard  # nothing queued or sent to the erased account
    fake.assert_no_rejections()


async def test_erasure_after_a_profile_change_also_erases_the_old_phone_in_staff_notes(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=9712, first_name="Alice", language_code="en")
    await onboard(alice, name="Alice Wu", phone="+8613812345678")
    number = await file_request(alice)
    await dora.send_text(f"/status {number}")
    await dora.press("📞 Customer contacted")
    await dora.send_text("Called her: only on 138 1234 5678 after 6 pm")
    await alice.send_text("/profile")
    await alice.press("✏️ Phone")
    await alice.send_text("+86 139 0000 0001")
    await _erase(dora, number)
    assert [d.get("note") for d in await _events(desk, number, "contacted")] == [erasure.ERASED]
    changes = await _audit(desk, "customer_details_changed")
    assert [e.details["was"] for e in changes] == [erasure.ERASED]  # the old number is not kept either


# --- several records with one phone, and what is recorded after an erasure (review findings) ---


SALES_PHONE = "+86 138 0013 8000"


async def _sales_record_then_own_record(fake, dora) -> tuple[str, str]:
    """Sam files for Alice's phone (a record without a chat); Alice then registers typing that
    phone (a typed number links nothing: a second record) and files a request of her own."""
    sam = await enrol(fake, dora, 7201, "Sam", "salesperson")
    await sam.send_text("/sell")
    await sam.press("Fault repair")
    await sam.send_text("Alice")
    await sam.send_text(SALES_PHONE)
    await sam.press("I don't know it")
    await sam.send_text("Pump in the cellar stops after an hour")
    await sam.press("📤 Send for approval")
    filed = re.search(r"SR-\d{4}-\d{6}", sam.last.text).group(0)
    alice = fake.add_user(user_id=ALICE_ID, first_name="Alice", language_code="en")
    await alice.send_text("/start")
    await alice.press(alice.first_name)
    await alice.send_text(SALES_PHONE)
    await alice.send_text("Yellow River Farm")
    own = await file_request(alice, description="Pump at the north gate of Yellow River Farm trips")
    return filed, own


async def test_erase_by_phone_leaves_the_customers_own_record_when_sales_filed_one_for_the_same_phone(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    filed, own = await _sales_record_then_own_record(fake, dora)
    await dora.send_text(f"/erase {SALES_PHONE}")
    card = dora.last
    # Both records are listed for the admin to judge; one press erases them all.
    assert en("They may be one person (filed by a salesperson, then registered) or people who share a phone: check before erasing.") in card.text
    assert en("• {name}, {phone}: {n} request, the newest {number}", name="Alice", phone="+86 138****8000", n=1, number=filed) in card.text
    assert en("• {name}, {phone}: {n} request, the newest {number}", name="Alice", phone="+86 138****8000", n=1, number=own) in card.text
    assert en("To erase only one of them, send one of its request numbers instead.") in card.text
    assert card.button_texts == ["🗑 Erase all 2 records", BACK, CANCEL]
    await dora.press("🗑 Erase all 2 records", card)
    assert "Personal data erased" in dora.last.text and en("{n} customer records erased.", n=2) in dora.last.text
    async with desk.db.uow() as uow:
        left = (await uow.session.execute(select(Customer.id, Customer.name, Customer.phone, Customer.company)
                                          .where(Customer.phone == "+8613800138000"))).all()
        description = await uow.session.scalar(select(ServiceRequest.description).where(ServiceRequest.number == own))
        reasons = list(await uow.session.scalars(select(Approval.reason)))
    assert left == [] and description == erasure.ERASED, (left, description)
    assert reasons == [erasure.ERASED]  # the description Sam filed for her
    assert len(await _audit(desk, erasure.AUDIT_ACTION)) == 2  # one row per record
    fake.assert_no_rejections()


async def test_erasing_one_record_by_request_number_says_that_others_have_the_same_phone(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    filed, own = await _sales_record_then_own_record(fake, dora)
    await dora.send_text(f"/erase {filed}")
    warning = en("⚠️ {n} other customer record has the same phone and is not erased; to erase them all, send the phone number instead.", n=1)
    assert warning in dora.last.text and en("Customer: {name}", name="Alice") in dora.last.text
    await dora.press(ERASE)
    assert en("{n} request kept with its number; statistics are unchanged.", n=1) in dora.last.text
    own_record = await _customer(desk, number=own)  # the admin chose this one record: the other stays
    assert (own_record.name, own_record.company, own_record.erased_at) == ("Alice", "Yellow River Farm", None)
    await dora.send_text(f"/erase {SALES_PHONE}")  # now only her own record has the phone
    assert en("Company: {company}", company="Yellow River Farm") in dora.last.text and warning not in dora.last.text
    fake.assert_no_rejections()


async def test_a_salespersons_open_form_for_the_customers_phone_goes_with_the_erasure(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 7201, "Sam", "salesperson")
    alice, number = await _alice_with_a_request(fake)
    await sam.send_text("/sell")
    await sam.press("Fault repair")
    await sam.send_text("Alice Wu")
    await sam.send_text("+86 138 1234 5678")
    await sam.press("I don't know it")
    await sam.send_text("Second pump in the widow's cellar hums")
    summary = sam.last  # the form waits on "Send for approval"

    await _erase(dora, ALICE_PHONE)
    async with desk.db.uow() as uow:
        forms = list(await uow.session.scalars(select(Draft.data).where(Draft.kind == "sales_request")))
    assert forms == []  # it held nothing but her name, phone and words
    await sam.press("📤 Send for approval", summary)
    assert sam.callback_answers[-1][1] == en(STALE)
    async with desk.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(ServiceRequest)) == 1  # nothing filed for "[erased]"
    fake.assert_no_rejections()


async def test_what_staff_record_about_an_erased_customer_afterwards_can_never_be_erased(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, 7602, "Ed", "engineer")
    alice = fake.add_user(user_id=ALICE_ID, first_name="Alice", language_code="en")
    await onboard(alice, phone=ALICE_PHONE)
    number = await file_request(alice, description="Pump trips the breaker")
    await assign(dora, number, "Ed")
    await ed.press("✅ Accept")
    await dora.send_text(f"/erase {number}")
    assert en("⚠️ {n} open request goes on: the customer is no longer told about it, and their details on it become “[erased]”.", n=1) in dora.last.text
    await dora.press(ERASE)
    assert "Personal data erased" in dora.last.text
    await ed.send_text("/jobs")
    await ed.press(number)
    await report_by_phone(ed, solution="Told her to open the valve", opinion="Mrs Alice Wu says her late husband always closed it")
    async with desk.db.uow() as uow:
        assert await uow.session.scalar(select(JobReport.customer_opinion)) == "Mrs Alice Wu says her late husband always closed it"
    await dora.send_text(f"/erase {number}")
    await dora.press(ERASE)
    assert dora.last.text == en("✅ This customer was already erased; {n} value recorded since was replaced with “[erased]”.", n=1)
    async with desk.db.uow() as uow:
        opinion = await uow.session.scalar(select(JobReport.customer_opinion))
        symptom = await uow.session.scalar(select(JobReport.symptom))
    assert (opinion, symptom) == (erasure.ERASED, "No water"), (opinion, dora.last.text)
    assert [(e.details["already_erased"], e.details["fields"]) for e in await _audit(desk, erasure.AUDIT_ACTION)][1] == (True, 1)
    fake.assert_no_rejections()
