"""The product registry over HTTP: admins import files, customers claim products, dispatchers decide."""
from __future__ import annotations

import io
import re
import zipfile
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from storage.models import AuditEntry, Draft, Part, Product, ProductClaim
from tests.e2e.conftest import DISPATCHER_ID, SECOND_DISPATCHER_ID
from tests.e2e.helpers import TRANSLATORS, onboard, t

HEADER = "Serial,Model,Customer/Project,Sale date,Commissioning date,Warranty months,Maintenance cycle\n"


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


REGISTRY_XLSX = _xlsx([
    ["Serial", "Model", "Customer/Project", "Sale date", "Commissioning date", "Warranty months", "Maintenance cycle"],
    ["QJ-1001", "QJ 50-120", "Yellow River Farm", date(2025, 5, 10), date(2025, 6, 1), 24, 6],
    ["QJ-1002", "QJ 80-60", "Yellow River Farm", date(2025, 5, 10), None, 12, None],
])


async def _import(admin, file_name: str, data: bytes) -> None:
    await admin.send_text("/import")
    await admin.send_document(file_name, data=data)


async def _products(desk) -> dict[str, tuple]:
    async with desk.db.uow() as uow:
        rows = await uow.session.scalars(select(Product).order_by(Product.serial))
        return {p.serial: (p.model, p.warranty_months, p.customer_id) for p in rows}


async def test_an_admin_imports_a_good_file_and_a_bad_file_changes_nothing(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await dora.send_text("/import")
    assert "Import the product registry or the parts catalog" in dora.last.text and "Cancel" in dora.last.button_texts[-1]
    await dora.send_sticker()
    assert "Please send the file as a document" in dora.last.text
    await dora.send_document("photo.pdf", data=b"%PDF-1.4")
    assert "Only .xlsx and .csv files can be imported" in dora.last.text
    await dora.send_document("registry.xlsx", data=REGISTRY_XLSX)
    assert "Product registry imported: 2 added, 0 updated, 0 unchanged." in dora.last.text
    before = await _products(desk)
    assert before == {"QJ-1001": ("QJ 50-120", 24, None), "QJ-1002": ("QJ 80-60", 12, None)}

    bad_rows = [
        "QJ-1001,QJ 50-120 NEW,,2025-05-10,,36,6",  # row 2: fine on its own, but the file has errors
        "QJ-1003,,Farm,2025/05/10,,12,6",           # row 3: no model, wrong date format
        "QJ-1003,QJ 80,,,,twelve,",                 # row 4: the same serial again, words for months
    ] + [f"QJ-2{i:03d},QJ 80,,2025-13-01,,," for i in range(30)]  # rows 5-34: no 13th month
    await _import(dora, "registry.csv", (HEADER + "\n".join(bad_rows) + "\n").encode())
    report = dora.last.text
    assert "Nothing was imported. Errors found: 34." in report
    assert "Row 3, Model: empty, but required" in report
    assert "Row 3, Sale date: “2025/05/10” is not a date; write it as YYYY-MM-DD" in report
    assert "Row 4, Serial: “QJ-1003” appears again; it is already in row 3" in report
    assert "Row 4, Warranty months: “twelve” is not a whole number of months" in report
    assert "… and 9 more." in report and "Fix the file and send it again" in report
    assert await _products(desk) == before

    await dora.send_document("registry.csv", data=(HEADER + bad_rows[0] + "\n").encode())  # the dialog is still open
    assert "Product registry imported: 0 added, 1 updated, 0 unchanged." in dora.last.text
    assert (await _products(desk))["QJ-1001"] == ("QJ 50-120 NEW", 36, None)
    await _import(dora, "parts.csv", "Код;Наименование;Ед. изм.\nBRG-6204;Подшипник 6204;шт\n".encode())
    assert "Parts catalog imported: 1 added, 0 updated, 0 unchanged." in dora.last.text
    async with desk.db.uow() as uow:
        assert (await uow.parts.by_code("brg-6204")).name == "Подшипник 6204"
    fake.assert_no_rejections()


async def test_files_that_cannot_be_read_are_explained(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await _import(dora, "registry.csv", b"")
    assert "The file is empty." in dora.last.text and "serial, model, customer/project" in dora.last.text
    await dora.send_document("registry.csv", data=b"Nummer,Typ\n1,2\n")
    assert "I could not recognise the header row." in dora.last.text and "code, name, unit" in dora.last.text
    await dora.send_document("big.csv", data=HEADER.encode() + b" " * (2 * 1024 * 1024))
    assert "The file is larger than 2 MB." in dora.last.text
    await dora.press("Cancel")
    assert "Cancelled" in dora.last.text
    await dora.send_document("registry.csv", data=REGISTRY_XLSX)  # no dialog open any more
    assert "Please use the menu below" in dora.last.text
    assert await _products(desk) == {}
    fake.assert_no_rejections()


async def test_a_customer_cannot_import(fake, desk):
    mallory = fake.add_user(user_id=7001, first_name="Mallory", language_code="en")
    await onboard(mallory)
    await mallory.send_text("/import")
    assert mallory.last.text == "Only an admin can do that."
    await mallory.send_document("registry.xlsx", data=REGISTRY_XLSX)
    assert "Please use the menu below" in mallory.last.text
    assert await _products(desk) == {}
    async with desk.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Draft)) == 0
    fake.assert_no_rejections()


async def test_a_customer_claims_a_product_and_a_dispatcher_confirms_it(fake, desk):
    dora, wang = fake.users[DISPATCHER_ID], fake.users[SECOND_DISPATCHER_ID]
    await wang.send_text("/start")  # until then the bot cannot know Wang reads Chinese
    await _import(dora, "registry.xlsx", REGISTRY_XLSX)
    alice = fake.add_user(user_id=7002, first_name="Alice", language_code="en")
    mallory = fake.add_user(user_id=7003, first_name="Mallory", language_code="en")
    await onboard(alice)

    await alice.send_text("/products")
    assert "You have no registered products yet" in alice.last.text
    await alice.press("Claim a product by serial")
    assert "Type the serial number from the product's nameplate" in alice.last.text
    await alice.send_photo()
    assert "Please type the serial number as text" in alice.last.text
    await alice.send_text("#!")
    assert "A serial number has letters, digits and dashes" in alice.last.text
    await alice.send_text("ZZ-404")
    assert "No product with serial number ZZ-404 is in our registry" in alice.last.text
    await alice.send_text("qj-1001")
    assert "Your claim for QJ 50-120 · QJ-1001 has been sent to the service department" in alice.last.text
    card = dora.last
    assert "Product claim" in card.text and "Alice, +8613800138000" in card.text and "Yellow River Farm" in card.text
    assert t("zh_Hans", "📦 <b>Product claim</b>") in wang.last.text

    await alice.tap_reply_button("My products")
    assert "Waiting for a dispatcher to confirm: QJ-1001" in alice.last.text
    async with desk.db.uow() as uow:
        claim_id = await uow.session.scalar(select(ProductClaim.id))
    await mallory.send_text("/start")
    await mallory.press_data(f"1:clm:{claim_id}:confirm")  # a customer forging the dispatcher's button
    assert mallory.callback_answers[-1][1] == "This button is no longer valid."
    assert (await _products(desk))["QJ-1001"][2] is None

    await dora.press("Confirm", card)
    assert "Decision: confirmed by Dora" in dora.message(card.message_id).text and dora.message(card.message_id).buttons == []
    assert "QJ 50-120 · QJ-1001 is now registered to you" in alice.last.text
    await wang.press("✅")
    zh = TRANSLATORS["zh_Hans"]
    assert wang.callback_answers[-1][1] == t("zh_Hans", "This claim is already decided ({status}) by {name}; nothing was changed.", status=zh("confirmed"), name="Dora")
    async with desk.db.uow() as uow:
        claim = await uow.session.get(ProductClaim, claim_id)
        alice_customer = await uow.customers.by_user_id((await uow.users.by_telegram_id(7002)).id)
        assert (claim.status, (await uow.products.by_serial("QJ-1001")).customer_id) == ("confirmed", alice_customer.id)
        audited = list(await uow.session.scalars(select(AuditEntry.actor_telegram_id).where(AuditEntry.action == "not_allowed_button")))
        assert audited == [7003]

    await alice.send_text("/products")
    assert "QJ 50-120 · QJ-1001" in alice.last.text
    assert "Warranty until Jun 1, 2027" in alice.last.text and "Next maintenance: Jun 1, 2026" in alice.last.text
    await alice.send_text("/new")
    await alice.press("Fault repair")
    assert any("QJ-1001" in text for text in alice.last.button_texts)
    fake.assert_no_rejections()


async def test_claiming_a_product_someone_else_has_does_not_reveal_them(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await _import(dora, "registry.xlsx", REGISTRY_XLSX)
    alice = fake.add_user(user_id=7004, first_name="Alice", language_code="en")
    bob = fake.add_user(user_id=7005, first_name="Bob", language_code="en")
    await onboard(alice)
    await onboard(bob, company=None)
    await alice.send_text("/products")
    await alice.press("Claim a product by serial")
    await alice.send_text("QJ-1002")
    await dora.press("Confirm")

    await bob.send_text("/products")
    await bob.press("Claim a product by serial")
    await bob.press("Cancel")
    assert "Cancelled" in bob.last.text
    await bob.send_text("/products")
    await bob.press("Claim a product by serial")
    await bob.send_text("QJ-1002")
    told = bob.last.text
    assert "has been sent to the service department" in told and "Alice" not in told
    assert "Now registered to another customer: Alice, +8613800138000" in dora.last.text
    await bob.send_text("/products")
    await bob.press("Claim a product by serial")
    await bob.send_text("QJ-1002")
    assert "already waiting for a dispatcher" in bob.last.text
    await dora.press("Reject")
    assert "Decision: rejected by Dora" in dora.last.text
    assert "Your claim for QJ 80-60 · QJ-1002 was not confirmed" in bob.last.text
    async with desk.db.uow() as uow:
        product = await uow.products.by_serial("QJ-1002")
        owner = await uow.customers.get(product.customer_id)
        assert owner.name == "Alice"
        statuses = list(await uow.session.scalars(select(ProductClaim.status).order_by(ProductClaim.id)))
        assert statuses == ["confirmed", "rejected"]
    fake.assert_no_rejections()


async def test_a_newcomers_products_registers_them_and_then_shows_their_products(fake, desk):
    bob = fake.add_user(user_id=5111, first_name="Bob", language_code="en")
    await bob.send_text("/products")
    assert "What is your name?" in bob.last.text
    await bob.press("Bob")
    await bob.share_contact(phone="+8613800138012", own=True)
    await bob.press("Skip")
    assert "you are registered" in bob.messages[-2].text
    assert "You have no registered products yet" in bob.last.text
    assert "➕ Claim a product by serial" in bob.last.button_texts


async def test_confirming_one_claim_closes_the_others_and_a_later_transfer_tells_the_old_owner(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await dora.send_text("/import")
    await dora.send_document("registry.csv", data=(HEADER + "QJ-7001,QJ 50-120,Yellow River Farm,2025-09-01,2025-09-20,24,6\n").encode())
    alice = fake.add_user(user_id=7111, first_name="Alice", language_code="en")
    bob = fake.add_user(user_id=7112, first_name="Bob", language_code="en")
    await onboard(alice)
    await onboard(bob, phone="+8613900139000", company="Other Farm")
    for customer in (alice, bob):
        await customer.send_text("/products")
        await customer.press("➕ Claim a product by serial")
        await customer.send_text("QJ-7001")
    alice_card, bob_card = [m for m in dora.messages if "Product claim" in (m.text or "")][-2:]
    await dora.press("✅ Confirm", alice_card)
    assert "now registered to you" in alice.last.text
    assert "was not confirmed" in bob.last.text  # his claim was closed with hers
    await dora.press("✅ Confirm", bob_card)  # a card left from before
    assert dora.callback_answers[-1][1] == "This claim is already decided (rejected) by Dora; nothing was changed."
    await alice.send_text("/products")
    assert "QJ-7001" in alice.last.text

    await bob.send_text("/products")  # a new claim, decided knowingly: the product moves, Alice is told
    await bob.press("➕ Claim a product by serial")
    await bob.send_text("QJ-7001")
    await dora.press("✅ Confirm", dora.last)
    assert "now registered to you" in bob.last.text
    assert "is no longer registered to you" in alice.last.text
    fake.assert_no_rejections()


async def test_a_serial_typed_on_a_chinese_keyboard_in_full_width_is_claimed(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await _import(dora, "registry.csv", (HEADER + "QJ-5002,QJ 50-120,Farm,2025-02-20,2025-03-02,12,\n").encode())
    alice = fake.add_user(user_id=7302, first_name="Alice", language_code="zh-hans")
    await onboard(alice, language="zh_Hans")
    await alice.send_text("/products")
    await alice.press(alice.last.button_texts[-1])  # ➕ claim by serial
    await alice.send_text("ＱＪ－５００２")  # the full-width mode (全角) of a Chinese input method
    assert alice.last.text == t("zh_Hans", "📨 Your claim for {product} has been sent to the service department. You will get a message when a dispatcher has decided.", product="QJ 50-120 · QJ-5002")
    assert "Product claim" in dora.last.text and "QJ-5002" in dora.last.text
    fake.assert_no_rejections()


async def test_a_parts_file_with_cyrillic_codes_in_any_case_imports_again_as_the_same_parts(fake, desk):
    if desk.db.engine.dialect.name != "sqlite":
        # PostgreSQL upper-cases by the database's locale (README): the test cluster's is "C", ASCII only.
        pytest.skip("case-insensitive codes beyond ASCII follow the PostgreSQL database's locale")
    dora = fake.users[DISPATCHER_ID]
    parts = "Код;Наименование;Цена\nпн-6204;Подшипник 6204;35,50\n"
    await _import(dora, "parts.csv", parts.encode())
    assert "Parts catalog imported: 1 added, 0 updated, 0 unchanged." in dora.last.text
    await _import(dora, "parts.csv", parts.encode())  # the same file again: it used to fail on the unique code
    assert "Parts catalog imported: 0 added, 0 updated, 1 unchanged." in dora.last.text
    await _import(dora, "parts.csv", "Код;Наименование\nПН-6204;Подшипник 6204 (новый)\n".encode())
    assert "Parts catalog imported: 0 added, 1 updated, 0 unchanged." in dora.last.text  # not a second part
    async with desk.db.uow() as uow:
        assert [(p.code, p.name, p.price) for p in await uow.session.scalars(select(Part))] == [("пн-6204", "Подшипник 6204 (новый)", 3550)]
    fake.assert_no_rejections()


def _chinese_excel_dates(data: bytes) -> bytes:
    """The workbook as Excel in a Chinese locale saves it: date cells in the built-in format 31
    (yyyy"年"m"月"d"日"), which has no format string in the file, so they read as day numbers."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/styles.xml":
                text = content.decode()
                custom = re.search(r'<numFmt numFmtId="(\d+)" formatCode="yyyy-mm-dd"\s*/>', text)
                content = text.replace(custom.group(0), "").replace(f'numFmtId="{custom.group(1)}"', 'numFmtId="31"').encode()
            target.writestr(item, content)
    return out.getvalue()


async def test_a_registry_saved_by_a_chinese_excel_imports_its_dates(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    await _import(dora, "登记表.xlsx", _chinese_excel_dates(REGISTRY_XLSX))
    assert "Product registry imported: 2 added, 0 updated, 0 unchanged." in dora.last.text
    async with desk.db.uow() as uow:
        pump = await uow.products.by_serial("QJ-1001")
        assert (pump.sale_date, pump.commissioning_date, pump.warranty_end) == (date(2025, 5, 10), date(2025, 6, 1), date(2027, 6, 1))
    fake.assert_no_rejections()


async def test_an_import_error_quotes_the_bad_cell_as_it_is_in_the_file(fake, desk):
    """The cell was escaped twice: “A&amp;B” is not a serial number."""
    dora = fake.users[DISPATCHER_ID]
    await _import(dora, "registry.csv", (HEADER + "A&B,QJ 80,,2025-05-10,,12,\n").encode())
    assert "Nothing was imported" in dora.last.text
    assert "“A&B” is not a serial number" in dora.last.text, dora.last.text
    fake.assert_no_rejections()
