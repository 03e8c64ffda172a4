"""A staff member's own profile over HTTP, and dispatch using what they entered."""
from __future__ import annotations

from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import enrol, file_request, onboard


async def test_region_and_skills_from_the_profile_rank_the_engineer_first(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await enrol(fake, dora, 5701, "Ann", "engineer")
    bo = await enrol(fake, dora, 5702, "Bo", "engineer")
    await bo.send_text("/profile")
    await bo.press("Region")
    await bo.send_sticker()  # wrong kind of input: the question again
    assert "Type the region or city you work in" in bo.last.text
    await bo.send_text("x" * 101)
    assert "at most 100 characters" in bo.last.text
    await bo.send_text("Zhengzhou")
    await bo.press("Skills")
    await bo.send_text("submersible pumps, switch cabinets")
    assert "Region: Zhengzhou" in bo.last.text and "Skills (product lines): submersible pumps, switch cabinets" in bo.last.text
    await bo.press("Go off duty")
    assert "On duty: no" in bo.last.text
    await bo.press("Go on duty")

    alice = fake.add_user(user_id=5703, first_name="Alice", language_code="en")
    await onboard(alice)
    await alice.send_text("/new")
    await alice.press("Fault repair")
    await alice.press("I don't know the serial number")
    await alice.send_text("The submersible pumps stop at noon")
    await alice.press("Skip, no photos")
    await alice.send_text("Farm 9, Zhengzhou outskirts")
    await alice.press("Confirm and send")
    await dora.press("Open to triage")
    await dora.press("Assign")
    assert dora.last.button_texts[0].startswith("Bo 📍🔧")
    fake.assert_no_rejections()


async def test_a_customer_changes_their_phone_name_and_company_and_forged_buttons_are_refused(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=5704, first_name="Alice", language_code="en")
    await onboard(alice)  # +8613800138000, Yellow River Farm
    number = await file_request(alice)
    await alice.send_text("/profile")
    assert "Phone: +8613800138000" in alice.last.text and "Company or project: Yellow River Farm" in alice.last.text
    await alice.press_data("1:pf:region")  # a staff field, forged
    assert alice.callback_answers[-1][1] == "This button is no longer valid."

    await alice.press("✏️ Phone")
    await alice.send_sticker()
    assert "share your phone number with the button below" in alice.last.text
    await alice.send_text("139 0000 0001")  # no country code: engineers' phones would not match it
    assert "with the country code" in alice.last.text
    await alice.send_text("+86 139 0000 0001")
    assert alice.new_messages[-2].text == "Saved."
    assert "Phone: +8613900000001" in alice.last.text

    await alice.press("✏️ Name")
    await alice.send_text("/cancel")
    await alice.send_text("Alice Wu")  # after /cancel this is not a name
    await alice.send_text("/profile")
    assert "Name: Alice" in alice.last.text and "Alice Wu" not in alice.last.text
    await alice.press("✏️ Name")
    await alice.send_text("Alice Wu")
    await alice.press("✏️ Company")
    await alice.press("Remove the company")
    assert "Name: Alice Wu" in alice.last.text and "Company or project: —" in alice.last.text

    await dora.send_text(f"/status {number}")  # staff read the new details
    assert "+8613900000001" in dora.last.text and "Alice Wu" in dora.last.text
    fake.assert_no_rejections()


async def test_profile_registers_someone_not_yet_registered(fake, desk):
    lin = fake.add_user(user_id=5705, first_name="Lin", language_code="en")
    await lin.send_text("/profile")
    assert "What is your name?" in lin.last.text


async def test_a_customer_who_joined_the_staff_changes_their_customer_phone_from_their_profile(fake, desk):
    import re

    dora = fake.users[DISPATCHER_ID]
    lin = fake.add_user(user_id=9742, first_name="Lin", language_code="en")
    await onboard(lin, phone="+8613812345678", company="Lin Farm")
    await file_request(lin)
    await dora.send_text("/invite salesperson")
    code = re.search(r"start=(inv_[\w-]+)", dora.last.text).group(1)
    await lin.send_text(f"/start {code}")
    await lin.send_text("/profile")
    await lin.press("👤 My details as a customer")
    assert "Company or project: Lin Farm" in lin.last.text
    await lin.press("✏️ Phone")
    await lin.send_text("+86 139 0000 0001")
    async with desk.db.uow() as uow:
        customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(9742)).id)
        assert customer.phone == "+8613900000001"
    fake.assert_no_rejections()
