"""Spare parts over HTTP: the engineer requests parts from the job card, the service manager
approves with the approval buttons, the warehouse issues them, the engineer confirms receipt; the stock,
the ledger and the low-stock alert are checked, and stale or forged presses change nothing."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services import stock
from storage.models import AuditEntry, PartStock, StockMove, Warehouse
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard, report_by_phone, t

PARTS_CSV = (
    "Code,Name,Unit,Price,Safety level,Warehouse,Quantity\n"
    "BRG-6204,Bearing 6204,pc,35.50,3,MAIN,4\n"
    "BRG-6204,Bearing 6204,pc,35.50,3,EAST,0\n"
    "SEAL-1,Shaft seal,pc,12,,MAIN,10\n"
).encode()


def en(message: str, **values) -> str:
    return t("en", message, **values)


async def _stock(desk) -> dict[tuple[int, str], int]:
    async with desk.db.uow() as uow:
        rows = await uow.session.execute(select(PartStock.part_id, Warehouse.code, PartStock.quantity).join(Warehouse))
        return {(part_id, code): quantity for part_id, code, quantity in rows.all()}


async def test_request_parts_issue_and_receipt_over_telegram(fake, desk):
    dora = fake.users[DISPATCHER_ID]  # admin and dispatcher
    ed = await enrol(fake, dora, 5701, "Ed", "engineer")
    wu = await enrol(fake, dora, 5702, "Wu", "warehouse")
    sun = await enrol(fake, dora, 5704, "Sun", "service_manager")
    alice = fake.add_user(user_id=5703, first_name="Alice", language_code="en")

    await dora.send_text("/import")
    await dora.send_document("parts.csv", data=PARTS_CSV)
    assert en("✅ Parts catalog imported: {added} added, {updated} updated, {unchanged} unchanged.", added=2, updated=0, unchanged=0) in dora.last.text
    assert en("Stock quantities changed: {count} (each recorded in the stock ledger).", count=2) in dora.last.text

    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed", "en")
    await ed.press(en("✅ Accept"))
    await ed.send_text("/jobs")
    await ed.press(number)

    # The requisition dialog: search, a wrong quantity, a quantity, send.
    await ed.press(en("🔩 Request parts"))
    assert en("🔩 <b>Parts for job {number}</b>", number=number) in ed.last.text
    await ed.send_sticker()
    assert ed.last.text == en("Please type a part code or name, or use the buttons above.")
    await ed.send_text("x" * 65)
    assert "at most 64 characters" in ed.last.text
    await ed.send_text("bearing")
    await ed.press("BRG-6204 · Bearing 6204")
    await ed.send_text("two")
    assert ed.last.text == en("Please type the quantity as a whole number from 1 to {max}.", max=999)
    await ed.send_text("2")
    assert "BRG-6204 · Bearing 6204 × 2" in ed.last.text
    await ed.send_text("seal-1")  # an exact code: straight to its quantity
    assert ed.last.text == en("How many of “{name}”? Type a whole number from 1 to {max}.", name="SEAL-1 · Shaft seal", max=999)
    await ed.press(en("⬅️ Back"))
    await ed.send_text("SEAL-1")
    await ed.send_text("1")
    assert "SEAL-1 · Shaft seal × 1" in ed.last.text
    await ed.press(en("Remove the last part"))
    assert "SEAL-1" not in ed.last.text and "BRG-6204 · Bearing 6204 × 2" in ed.last.text
    await desk.restart()  # the dialog is a draft row: it continues after a restart
    send_data = next(b["callback_data"] for b in ed.last.buttons if b["text"] == en("📤 Send the requisition"))
    await ed.press(en("📤 Send the requisition"))
    assert en("🔩 Requisition {id} for job {number} sent: {lines}. It waits for approval; the warehouse issues it after that.",
              id=1, number=number, lines="BRG-6204 · Bearing 6204 × 2") in "\n".join(m.text or "" for m in ed.messages[-3:])
    await ed.press_data(send_data)  # a double press of Send
    assert ed.callback_answers[-1][1] == en("This button is no longer valid.")
    assert en("🔩 Parts requisition {id}: {lines} — {status}", id=1, lines="BRG-6204 · Bearing 6204 × 2", status=en("waiting for approval")) in ed.last.text

    await wu.send_text("/issue")
    assert wu.last.text == en("No approved requisitions are waiting to be issued.")
    assert number in sun.last.text and "BRG-6204 × 2" in sun.last.text  # the approval step, posted to the service manager
    await sun.press(en("✅ Approve"))
    assert "Approved by Sun" in ed.last.text
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        requisition = (await stock.requisitions_of(uow, request.id))[0]
        assert requisition.status == stock.APPROVED
        bearing = (await uow.parts.by_code("BRG-6204")).id
        request_id, requisition_id = request.id, requisition.id

    await wu.send_text("/issue")
    assert en("🔩 <b>Requisition {id}</b> for job {number}", id=requisition_id, number=number) in wu.last.text
    assert wu.last.button_texts == [en("Issue from {warehouse}", warehouse="MAIN"), en("🔄 Refresh")]  # EAST holds none
    issue_data = wu.last.buttons[0]["callback_data"]
    await alice.press_data(issue_data)  # a customer forging the warehouse's button
    assert alice.callback_answers[-1][1] == en("This button is no longer valid.")
    await ed.press_data(issue_data)  # the engineer is not the warehouse either
    assert ed.callback_answers[-1][1] == en("This button is no longer valid.")
    assert (await _stock(desk))[(bearing, "MAIN")] == 4

    await wu.press(en("Issue from {warehouse}", warehouse="MAIN"))
    assert en("✅ Requisition {id} for job {number} issued from {warehouse} by {name}: {lines}",
              id=requisition_id, number=number, warehouse="MAIN", name="Wu", lines="BRG-6204 · Bearing 6204 × 2") in wu.last.text
    assert (await _stock(desk))[(bearing, "MAIN")] == 2
    await wu.press_data(issue_data, wu.last)  # pressed again, on the card that now says it was issued
    assert wu.callback_answers[-1][1] == en("Requisition {id} has already been issued.", id=requisition_id)
    assert (await _stock(desk))[(bearing, "MAIN")] == 2

    notice = next(m for m in reversed(ed.messages) if en("✅ Parts received") in m.button_texts)
    assert en("📦 Parts for job {number} were issued from {warehouse} by {name}: {lines}. Press the button when you have them.",
              number=number, warehouse="MAIN", name="Wu", lines="BRG-6204 · Bearing 6204 × 2") in notice.text
    received_data = notice.buttons[0]["callback_data"]
    await ed.press(en("✅ Parts received"), notice)
    assert any(en("Receipt of requisition {id} for job {number} recorded.", id=requisition_id, number=number) in (m.text or "") for m in ed.messages[-2:])
    assert en("received") in ed.last.text and en("✅ Parts received ({id})", id=requisition_id) not in ed.last.button_texts
    await ed.press_data(received_data, notice)
    assert ed.callback_answers[-1][1] == en("Requisition {id} is already {status}.", id=requisition_id, status=en("received"))

    # 2 bearings left, safety level 3: the warehouse is alerted once, when the sweep delivers it.
    await desk.sweep()
    assert any(en("⚠️ Stock of {part} is below its safety level: {total} left in all warehouses, safety level {level}. See /stock.",
                  part="BRG-6204 · Bearing 6204", total=2, level=3) in (m.text or "") for m in wu.messages)
    await wu.send_text("/stock")
    assert wu.last.text.splitlines()[1].startswith("⚠️ BRG-6204 · Bearing 6204")
    await alice.send_text("/stock")
    assert alice.last.text == en("This command is for the warehouse and managers.")

    async with desk.db.uow() as uow:
        moves = list(await uow.session.scalars(select(StockMove).where(StockMove.reason == "issue")))
        assert [(m.part_id, m.change, m.quantity_after, m.request_id, m.requisition_id) for m in moves] == [(bearing, -2, 2, request_id, requisition_id)]
        wu_user = await uow.users.by_telegram_id(5702)
        assert moves[0].user_id == wu_user.id
        assert (await uow.stock.requisition(requisition_id)).status == stock.RECEIVED
        audited = {a for a, in await uow.session.execute(select(AuditEntry.actor_telegram_id).where(AuditEntry.action == "not_allowed_button"))}
        assert {5701, 5703} <= audited
    fake.assert_no_rejections()


async def _job_with_requisition(fake, desk, base: int, quantity: str = "1"):
    """Ed accepted Alice's job and asked for shaft seals; Sun (service manager) holds the approval card."""
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, base + 1, "Ed", "engineer")
    sun = await enrol(fake, dora, base + 2, "Sun", "service_manager")
    alice = fake.add_user(user_id=base + 3, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    await ed.press(en("✅ Accept"))
    await dora.send_text("/import")
    await dora.send_document("parts.csv", data=PARTS_CSV)
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press(en("🔩 Request parts"))
    await ed.send_text("SEAL-1")
    await ed.send_text(quantity)
    await ed.press(en("📤 Send the requisition"))
    card = next(m for m in reversed(sun.messages) if en("✅ Approve") in m.button_texts)
    return dora, ed, sun, alice, number, card


async def _approval_and_clocks(desk, number: str):
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        approval = (await uow.approvals.of_request(request.id))[-1]
        paused = {c.kind: c.pause_reason for c in await uow.requests.clocks(request.id) if c.stopped_at is None}
        return approval.status, paused


async def test_a_withdrawn_requisition_withdraws_its_approval(fake, desk):
    dora, ed, sun, alice, number, card = await _job_with_requisition(fake, desk, 5760)
    assert (await _approval_and_clocks(desk, number))[1]["repair_completed"] == "approval"
    approve = card.buttons[0]["callback_data"]

    await ed.press("Withdraw requisition")
    status, paused = await _approval_and_clocks(desk, number)
    assert status == "withdrawn" and paused["repair_completed"] is None  # the job's clocks run again
    assert "withdrawn" in sun.message(card.message_id).text and not sun.message(card.message_id).buttons
    await sun.send_text("/approvals")
    assert number not in sun.last.text

    await sun.press_data(approve)  # an Approve kept from before
    assert sun.callback_answers[-1][1] == en("This approval was withdrawn: there is nothing left to decide.")
    sun_seen = len(sun.messages)
    desk.clock.advance(timedelta(hours=9))  # past the 8 h approval window: nobody is chased
    await desk.sweep()
    assert not any("approval" in (m.text or "") for m in sun.messages[sun_seen:])
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert [r.status for r in await stock.requisitions_of(uow, request.id)] == ["cancelled"]
    fake.assert_no_rejections()


async def test_a_job_given_to_another_engineer_takes_no_parts_meant_for_the_first(fake, desk):
    dora, ed, sun, alice, number, card = await _job_with_requisition(fake, desk, 5770, quantity="3")
    wu = await enrol(fake, dora, 5775, "Wu", "warehouse")
    await sun.press(en("✅ Approve"), card)
    await enrol(fake, dora, 5776, "Bob", "engineer")

    await dora.send_text(number)
    await dora.press(en("👷 Reassign"))
    await dora.press("Bob")
    assert en("Job {number} was given to {name}; nothing more to do on it for you.", number=number, name="Bob") in ed.last.text
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert [r.status for r in await stock.requisitions_of(uow, request.id)] == ["cancelled"]
    await wu.send_text("/issue")
    assert number not in wu.last.text  # nothing left to issue for Ed
    fake.assert_no_rejections()


async def _requisitions(desk, number: str) -> list[str]:
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        return [r.status for r in await stock.requisitions_of(uow, request.id)]


async def test_parts_not_issued_when_the_report_is_sent_are_no_longer_requested(fake, desk):
    dora, ed, sun, alice, number, card = await _job_with_requisition(fake, desk, 5780, quantity="3")
    wu = await enrol(fake, dora, 5785, "Wu", "warehouse")
    await sun.press(en("✅ Approve"), card)
    await wu.send_text("/issue")
    issue_card = wu.last
    assert number in issue_card.text

    await ed.send_text("/jobs")
    await ed.press(number)
    await report_by_phone(ed)  # fixed without the seals
    assert await _requisitions(desk, number) == ["cancelled"]
    await wu.press(en("Issue from {warehouse}", warehouse="MAIN"), issue_card)  # the card from before
    assert wu.callback_answers[-1][1] == en(
        "Job {number} has its report sent or is closed: its parts are no longer needed. Nothing was issued.", number=number)
    async with desk.db.uow() as uow:
        assert await uow.session.scalar(select(StockMove).where(StockMove.reason == stock.ISSUE)) is None
    await wu.send_text("/issue")
    assert wu.last.text == en("No approved requisitions are waiting to be issued.")


async def test_closing_the_request_ends_its_requisitions_and_their_approvals(fake, desk):
    dora, ed, sun, alice, number, card = await _job_with_requisition(fake, desk, 5790)
    approve = card.buttons[0]["callback_data"]
    await dora.send_text(number)
    await dora.press(en("🗂 Close the request"))
    await dora.send_text("Customer bought a new pump")
    assert await _requisitions(desk, number) == ["cancelled"]
    assert "the request was cancelled or closed" in sun.message(card.message_id).text
    await sun.press_data(approve)
    assert sun.callback_answers[-1][1] == en("This approval was withdrawn: there is nothing left to decide.")
    fake.assert_no_rejections()


async def test_the_warehouse_gets_the_issue_card_when_a_requisition_is_approved(fake, desk):
    dora, ed, sun, alice, number, card = await _job_with_requisition(fake, desk, 5795, quantity="2")
    wu = await enrol(fake, dora, 5799, "Wu", "warehouse")
    await sun.press(en("✅ Approve"), card)
    await desk.sweep()
    issue_card = next(m for m in reversed(wu.messages) if number in (m.text or ""))
    assert en("Issue from {warehouse}", warehouse="MAIN") in issue_card.button_texts
    await wu.press(en("Issue from {warehouse}", warehouse="MAIN"), issue_card)
    assert await _requisitions(desk, number) == ["issued"]
    fake.assert_no_rejections()



async def test_paid_work_quoted_after_the_requisition_gets_its_parts_once_the_customer_accepts(fake, desk):
    dora, ed, sun, alice, number, card = await _job_with_requisition(fake, desk, 5800)
    wu = await enrol(fake, dora, 5805, "Wu", "warehouse")
    await sun.press(en("✅ Approve"), card)
    await desk.sweep()
    issue_card = next(m for m in reversed(wu.messages) if number in (m.text or ""))
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press(en("🔩 Request parts"))  # more parts, picked while...
    await ed.send_text("SEAL-1")
    await ed.send_text("2")
    picked = ed.last
    await dora.send_text(number)  # ...the dispatcher finds the work is not covered: paid, and quoted
    await dora.press(en("Warranty…"))
    await dora.press("warranty expired")
    await dora.press(en("🧮 Quote"))
    await dora.press(en("Parts done ›"))
    await dora.send_text("800")
    await dora.send_text("0")
    await dora.press(en("📤 Send to the customer"))
    offer = alice.last

    await wu.press(en("Issue from {warehouse}", warehouse="MAIN"), issue_card)
    assert wu.callback_answers[-1][1] == en(
        "Job {number} is paid work and the customer has not accepted its quote yet: issue the parts once they do. Nothing was issued.", number=number)
    paid_work = en("This is paid work: it starts after the customer accepts the quote or a fee waiver is approved.")
    await ed.press(en("📤 Send the requisition"), picked)
    assert ed.callback_answers[-1][1] == paid_work
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press(en("🔩 Request parts"))
    assert ed.callback_answers[-1][1] == paid_work
    assert await _requisitions(desk, number) == ["approved"]

    await alice.press(en("✅ Accept"), offer)
    await wu.press(en("Issue from {warehouse}", warehouse="MAIN"), issue_card)  # the card kept its buttons
    await ed.press(en("📤 Send the requisition"), picked)  # the parts picked before were kept
    assert await _requisitions(desk, number) == ["issued", "requested"]
    fake.assert_no_rejections()


async def test_finance_reads_the_stock_with_prices_and_the_monthly_report(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await dora.send_text("/import")
    await dora.send_document("parts.csv", data=PARTS_CSV)
    fay = await enrol(fake, dora, 5801, "Fay", "finance")
    await fay.send_text("/stock")
    assert "SEAL-1" in fay.last.text and fay.last.text != en("This command is for the warehouse and managers.")
    await fay.send_text("/report")
    assert fay.last.text != en("This command is for managers.") and fay.last.buttons  # the month picker
    help_text = await _help_text(fay)  # she checks costs; she approves nothing
    assert "/report" in help_text and "/stock" in help_text and "/approvals" not in help_text
    fake.assert_no_rejections()


async def _help_text(user) -> str:
    await user.send_text("/help")
    return user.last.text


async def test_the_quantity_step_answers_a_sticker_and_a_total_over_the_limit_with_what_to_type(fake, desk):
    dora, ed, sun, alice, number, card = await _job_with_requisition(fake, desk, 5810)
    await ed.send_text("/jobs")
    await ed.press(number)
    await ed.press(en("🔩 Request parts"))
    await ed.send_text("SEAL-1")
    await ed.send_sticker()
    assert ed.last.text == en("Please type the quantity as a whole number from 1 to {max}.", max=999)
    await ed.send_text("１０")  # full-width digits from a Chinese keyboard
    await ed.send_text("SEAL-1")
    await ed.send_text("995")
    assert ed.last.text == en("This part is already in the list with {already}; together at most {max}. Type how many more, up to {left}.",
                              already=10, max=999, left=989)
    await ed.send_text("⬅️ Back")  # the reply keyboard's Back, as the inline one: back to the search
    assert en("Type a part code or name to search the catalog.") in ed.last.text and "SEAL-1 · Shaft seal × 10" in ed.last.text
    await ed.send_text("⬅️ Back")
    assert ed.last.text == en("There is no step to go back to.")
    fake.assert_no_rejections()


async def test_a_parts_import_error_quotes_the_bad_cell_as_it_is_in_the_file(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await dora.send_text("/import")
    await dora.send_document("parts.csv", data=(
        "Code,Name,Unit,Price,Safety level,Warehouse,Quantity\n"
        "BRG-6204,Bearing 6204,pc,35<50,3,MAIN,4\n"
        "SEAL-1,Shaft seal,pc,12,,MAIN,1&2\n"
    ).encode())
    assert "Nothing was imported" in dora.last.text
    assert "“35<50” is not a price" in dora.last.text, dora.last.text
    assert "“1&2” is not a whole number" in dora.last.text
    fake.assert_no_rejections()


async def _restock(dora, row: str) -> None:
    """A stock count of one part in one warehouse, as the admin imports it."""
    await dora.send_text("/import")
    await dora.send_document("count.csv", data=("Code,Name,Warehouse,Quantity\n" + row + "\n").encode())


async def _requisition_id(desk, number: str) -> int:
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        return (await stock.requisitions_of(uow, request.id))[-1].id


def _waiting_notice(requisition_id: int, number: str, missing: int) -> str:
    return en("⏳ Requisition {id} for job {number} is approved but waits for stock; short: {missing}. The warehouse issues it once the parts are in.",
              id=requisition_id, number=number, missing=en("{part}: {missing} short", part="SEAL-1 · Shaft seal", missing=missing))


async def test_parts_no_single_warehouse_holds_are_issued_from_several_after_the_keeper_sees_the_plan(fake, desk):
    dora, ed, sun, alice, number, card = await _job_with_requisition(fake, desk, 5820, quantity="12")  # MAIN holds 10 seals
    wu = await enrol(fake, dora, 5825, "Wu", "warehouse")
    await _restock(dora, "SEAL-1,Shaft seal,EAST,5")
    await sun.press(en("✅ Approve"), card)
    requisition_id = await _requisition_id(desk, number)
    await wu.send_text("/issue")
    issue_card = wu.last
    assert en("No single warehouse holds all of these parts; together they do.") in issue_card.text
    assert issue_card.button_texts == [en("📦 Issue from several warehouses"), en("🔄 Refresh")]

    await wu.press(en("📦 Issue from several warehouses"), issue_card)
    plan = wu.message(issue_card.message_id)  # the card shows the plan before anything is taken
    assert en("{warehouse}: {lines}", warehouse="MAIN", lines="SEAL-1 · Shaft seal × 10") in plan.text
    assert en("{warehouse}: {lines}", warehouse="EAST", lines="SEAL-1 · Shaft seal × 2") in plan.text
    assert plan.button_texts == [en("✅ Issue as planned"), en("⬅️ Back")]
    confirm = plan.buttons[0]["callback_data"]
    await ed.press_data(confirm)  # the engineer cannot issue to himself
    assert ed.callback_answers[-1][1] == en("This button is no longer valid.")

    await _restock(dora, "SEAL-1,Shaft seal,EAST,1")  # a stock count while the keeper reads: 11 in all, 12 needed
    await wu.press_data(confirm, plan)
    assert wu.callback_answers[-1][1] == en("The stock has changed since this plan was shown; nothing was issued. Check the card as it is now.")
    short = wu.message(issue_card.message_id)
    assert en("{part}: {missing} short ({available} in stock, {wanted} needed)", part="SEAL-1 · Shaft seal", missing=1, available=11, wanted=12) in short.text
    assert short.button_texts == [en("🔄 Refresh")]
    await wu.send_text("/issue")  # seen again: the engineer is told only once
    await desk.sweep()
    assert sum(_waiting_notice(requisition_id, number, 1) in (m.text or "") for m in ed.messages) == 1
    assert await _requisitions(desk, number) == ["approved"]

    await _restock(dora, "SEAL-1,Shaft seal,EAST,5")
    await wu.press(en("🔄 Refresh"), issue_card)
    await wu.press(en("📦 Issue from several warehouses"), issue_card)
    await wu.press(en("✅ Issue as planned"), issue_card)
    lines = "; ".join([en("{warehouse}: {lines}", warehouse="MAIN", lines="SEAL-1 · Shaft seal × 10"),
                       en("{warehouse}: {lines}", warehouse="EAST", lines="SEAL-1 · Shaft seal × 2")])
    assert en("✅ Requisition {id} for job {number} issued from several warehouses by {name}: {plan}",
              id=requisition_id, number=number, name="Wu", plan=lines) in wu.message(issue_card.message_id).text
    seal = await _seal_id(desk)
    assert {k: v for k, v in (await _stock(desk)).items() if k[0] == seal} == {(seal, "MAIN"): 0, (seal, "EAST"): 3}
    await wu.press_data(confirm, issue_card)  # the confirmation pressed again
    assert wu.callback_answers[-1][1] == en("Requisition {id} has already been issued.", id=requisition_id)

    notice = next(m for m in reversed(ed.messages) if en("✅ Parts received") in m.button_texts)
    assert en("📦 Parts for job {number} were issued from several warehouses by {name}: {plan}. Press the button when you have them.",
              number=number, name="Wu", plan=lines) in notice.text
    await ed.press(en("✅ Parts received"), notice)
    assert await _requisitions(desk, number) == ["received"]
    async with desk.db.uow() as uow:
        moves = list(await uow.session.scalars(select(StockMove).where(StockMove.reason == stock.ISSUE).order_by(StockMove.id)))
        assert sorted((m.change, m.quantity_after, m.requisition_id) for m in moves) == [(-10, 0, requisition_id), (-2, 3, requisition_id)]
    fake.assert_no_rejections()


async def _seal_id(desk) -> int:
    async with desk.db.uow() as uow:
        return (await uow.parts.by_code("SEAL-1")).id


async def test_an_approved_requisition_the_stock_cannot_cover_tells_the_engineer_once_what_is_short(fake, desk):
    dora, ed, sun, alice, number, card = await _job_with_requisition(fake, desk, 5830, quantity="15")  # 10 seals in all
    wu = await enrol(fake, dora, 5835, "Wu", "warehouse")
    await sun.press(en("✅ Approve"), card)
    await desk.sweep()
    requisition_id = await _requisition_id(desk, number)
    assert sum(_waiting_notice(requisition_id, number, 5) in (m.text or "") for m in ed.messages) == 1
    issue_card = next(m for m in reversed(wu.messages) if number in (m.text or ""))
    assert en("Not enough in all warehouses together; it waits for stock:") in issue_card.text
    assert en("{part}: {missing} short ({available} in stock, {wanted} needed)", part="SEAL-1 · Shaft seal", missing=5, available=10, wanted=15) in issue_card.text
    assert issue_card.button_texts == [en("🔄 Refresh")]

    await wu.send_text("/issue")
    await _restock(dora, "SEAL-1,Shaft seal,EAST,2")  # some arrive, not enough
    await wu.press(en("🔄 Refresh"), issue_card)
    assert en("{part}: {missing} short ({available} in stock, {wanted} needed)", part="SEAL-1 · Shaft seal", missing=3, available=12, wanted=15) \
        in wu.message(issue_card.message_id).text
    await desk.sweep()
    assert sum("⏳" in (m.text or "") for m in ed.messages) == 1  # told once, not on every look at the card
    fake.assert_no_rejections()
