"""Product registry rules: reading and validating import files (pure), importing, and claims."""
from __future__ import annotations

import io
import logging
import re
import zipfile
from datetime import date, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import func, select

from bot.callbacks import BadCallback, ClaimButton, ProductsButton, parse
from bot.services import registry, users
from bot.services.errors import InvalidValue, LimitReached, NotAllowed, NotFound
from storage.models import AuditEntry, Part, Product, ProductClaim
from tests.test_services import _customer

HEADER = "serial,model,customer/project,sale date,commissioning date,warranty months,maintenance cycle\n"


def _csv(text: str, *, bom: bool = False) -> bytes:
    return (("\ufeff" if bom else "") + text).encode()


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _problems(parsed: registry.ParsedFile) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.problem) for e in parsed.errors]


# --- reading files ------------------------------------------------------------------------


def test_a_good_csv_is_read_with_dates_months_and_upper_case_serials():
    parsed = registry.parse_file("registry.csv", _csv(HEADER + "qj-1001,QJ 50-120,Yellow River Farm,2025-05-10,2025-06-01,24,6\nQJ-1002,QJ 80,,,,,\n"))
    assert parsed.kind == registry.PRODUCTS and parsed.errors == ()
    first, second = parsed.rows
    assert (first.row, first.serial, first.model, first.owner_name) == (2, "QJ-1001", "QJ 50-120", "Yellow River Farm")
    assert (first.sale_date, first.commissioning_date, first.warranty_months, first.maintenance_cycle_months) == (date(2025, 5, 10), date(2025, 6, 1), 24, 6)
    assert (second.serial, second.owner_name, second.sale_date, second.warranty_months) == ("QJ-1002", None, None, None)


def test_semicolons_bom_russian_headers_and_unknown_columns():
    text = "Серийный номер;Модель;Клиент/проект;Дата продажи;Гарантия, мес;Примечание\nSN-77;Насос 3;Ферма;2024-12-31;12;тест\n"
    parsed = registry.parse_file("реестр.CSV", _csv(text, bom=True))
    assert parsed.errors == () and parsed.ignored == ("Примечание",)
    assert parsed.columns == {"serial", "model", "owner_name", "sale_date", "warranty_months"}
    assert (parsed.rows[0].serial, parsed.rows[0].model, parsed.rows[0].warranty_months) == ("SN-77", "Насос 3", 12)


def test_chinese_headers_are_matched_and_blank_rows_skipped_keeping_file_row_numbers():
    text = "序列号,型号,客户/项目,调试日期,保修期（月）,保养周期（月）\n\nA-100,水泵,黄河农场,2025-01-15,18,3\n"
    parsed = registry.parse_file("产品.csv", _csv(text))
    assert parsed.errors == () and parsed.rows[0].row == 3
    assert (parsed.rows[0].commissioning_date, parsed.rows[0].maintenance_cycle_months) == (date(2025, 1, 15), 3)


def test_every_bad_cell_is_reported_with_row_and_column():
    text = HEADER + "\n".join([
        "QJ-1,Pump,,2025-02-30,,12,",   # row 2: no such day
        ",Pump,,,,,",                   # row 3: serial missing
        "QJ-2,,,,,,",                   # row 4: model missing
        "QJ-3,Pump,,25/05/2025,,1.5,0",  # row 5: date format, months not whole, cycle out of range
        "qj-1,Pump,,,,,",               # row 6: the same serial as row 2 (case does not matter)
        "QJ#4,Pump,,,,,",               # row 7: a serial nobody can type into the claim dialog
        "QJ-5," + "M" * 129 + ",,1970-01-01,,300,",  # row 8: model too long, date implausible, warranty too long
        "QJ-6,Pump,,,,twelve,",         # row 9: words for a number
    ]) + "\n"
    parsed = registry.parse_file("bad.csv", _csv(text))
    assert _problems(parsed) == [
        (2, "sale date", "bad_date"),
        (3, "serial", "required"),
        (4, "model", "required"),
        (5, "sale date", "bad_date"), (5, "warranty months", "not_whole"), (5, "maintenance cycle", "range"),
        (6, "serial", "duplicate"),
        (7, "serial", "bad_serial"),
        (8, "model", "too_long"), (8, "sale date", "date_range"), (8, "warranty months", "range"),
        (9, "warranty months", "not_whole"),
    ]
    assert parsed.errors[6].other_row == 2 and parsed.errors[8].high == registry.MODEL_MAX
    assert [row.serial for row in parsed.rows] == []  # no bad row passes; row 2 had a bad date too


def test_a_real_xlsx_with_date_cells_and_numeric_serials():
    data = _xlsx([
        ["Serial", "Model", "Customer", "Sale date", "Commissioning date", "Warranty", "Maintenance cycle"],
        [100234, "QJ 50", "Farm", datetime(2025, 3, 1), date(2025, 4, 2), 12, 6.0],
        ["QJ-9", "QJ 80", None, "2025-03-05", None, 24, None],
        [None, None, None, None, None, None, None],
        ["QJ-10", "QJ 80", None, 20250510, None, 12.5, None],
    ])
    parsed = registry.parse_file("registry.xlsx", data)
    assert parsed.rows[0] == registry.ProductRow(2, "100234", "QJ 50", "Farm", date(2025, 3, 1), date(2025, 4, 2), 12, 6)
    assert parsed.rows[1].sale_date == date(2025, 3, 5)
    assert _problems(parsed) == [(5, "Sale date", "bad_date"), (5, "Warranty", "not_whole")]  # 20250510 is no day of Excel's


def _xlsx_patched(rows: list[list[object]], patch) -> bytes:
    """An .xlsx written by openpyxl, then one of its parts changed as another program writes it."""
    source, out = zipfile.ZipFile(io.BytesIO(_xlsx(rows))), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, patch(item.filename, source.read(item.filename)))
    return out.getvalue()


def _with_builtin_date_format(num_fmt_id: int):
    """Excel in a Chinese, Japanese or Korean locale styles date cells with a built-in format
    (e.g. 31 = yyyy"年"m"月"d"日") that has no <numFmt> entry, so openpyxl reads them as numbers."""
    def patch(name: str, data: bytes) -> bytes:
        if name != "xl/styles.xml":
            return data
        text = data.decode()
        custom = re.search(r'<numFmt numFmtId="(\d+)" formatCode="yyyy-mm-dd"\s*/>', text)
        return text.replace(custom.group(0), "").replace(f'numFmtId="{custom.group(1)}"', f'numFmtId="{num_fmt_id}"').encode()
    return patch


@pytest.mark.parametrize("num_fmt_id", [27, 31, 36, 50, 57, 58])
def test_date_cells_in_an_east_asian_excel_date_format_are_dates(num_fmt_id):
    rows = [["序列号", "型号", "销售日期", "调试日期", "保修期（月）"], ["QJ-1001", "QJ 50-120", date(2025, 5, 10), datetime(2025, 6, 1, 14, 30), 24]]
    data = _xlsx_patched(rows, _with_builtin_date_format(num_fmt_id))
    assert b"2025" not in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")  # stored as day numbers
    parsed = registry.parse_file("登记表.xlsx", data)
    assert parsed.errors == ()
    assert (parsed.rows[0].sale_date, parsed.rows[0].commissioning_date) == (date(2025, 5, 10), date(2025, 6, 1))


def test_a_number_in_a_date_column_is_a_day_of_excel_only_within_the_date_limits():
    parsed = registry.parse_file("registry.xlsx", _xlsx([
        ["Serial", "Model", "Sale date", "Commissioning date"],
        ["QJ-1", "Pump", 45787, 45809.6],           # 2025-05-10, 2025-06-01 14:24
        ["QJ-2", "Pump", 29221, 73415],             # the first and last day allowed: 1980-01-01, 2100-12-31
        ["QJ-3", "Pump", 12, 29220],                # months typed in the wrong column; 1979-12-31
        ["QJ-4", "Pump", 73416, True],              # 2101-01-01; a checkbox
        ["QJ-5", "Pump", date(1975, 3, 1), None],   # a real date cell before the limit
    ]))
    assert [(r.serial, r.sale_date, r.commissioning_date) for r in parsed.rows] == [
        ("QJ-1", date(2025, 5, 10), date(2025, 6, 1)), ("QJ-2", date(1980, 1, 1), date(2100, 12, 31)),
    ]
    assert [(e.row, e.column, e.problem, e.value) for e in parsed.errors] == [
        (4, "Sale date", "bad_date", "12"), (4, "Commissioning date", "bad_date", "29220"),
        (5, "Sale date", "bad_date", "73416"), (5, "Commissioning date", "bad_date", "True"),
        (6, "Sale date", "date_range", "1975-03-01"),
    ]
    csv_number = registry.parse_file("registry.csv", _csv("serial,model,sale date\nQJ-1,Pump,45787\n"))
    assert _problems(csv_number) == [(2, "sale date", "bad_date")]  # typed text: dates are YYYY-MM-DD


def test_a_price_computed_by_an_excel_formula_is_the_price_excel_shows():
    """=1.1*3 shows 3.30; Excel stores the double with 17 digits, 3.3000000000000003, and openpyxl
    reads it back as that float. Rounded to Excel's 15 significant digits it is 3.3."""
    def formula(name: str, data: bytes) -> bytes:
        if name != "xl/worksheets/sheet1.xml":
            return data
        return data.replace(b"<v>3.3</v>", b"<f>1.1*3</f><v>3.3000000000000003</v>").replace(b"<v>0.3</v>", b"<f>0.1+0.2</f><v>0.30000000000000004</v>")
    parsed = registry.parse_file("parts.xlsx", _xlsx_patched([
        ["code", "name", "price", "safety level"],
        ["BRG-6204", "Bearing 6204", 3.3, 2.9999999999999996],  # a formula's 3, too
        ["SEAL-20", "Seal", 0.3, None], ["ORING-5", "O-ring", 1.005, None], ["PIN-3", 3.3000000000000003, 2.5, None],
    ], formula))
    assert [(r.code, r.name, r.price, r.safety_level) for r in parsed.rows] == [
        ("BRG-6204", "Bearing 6204", 330, 3), ("SEAL-20", "Seal", 30, None), ("PIN-3", "3.3", 250, None),
    ]
    assert [(e.row, e.column, e.problem, e.value) for e in parsed.errors] == [(4, "price", "bad_price", "1.005")]  # still 2 decimals at most


def _xlsx_with_text_in_a_number_cell(text: str) -> bytes:
    def patch(name: str, data: bytes) -> bytes:
        if name != "xl/worksheets/sheet1.xml":
            return data
        patched = data.replace(b'<c r="C2" t="n"><v>1</v></c>', f'<c r="C2" t="n"><v>{text}</v></c>'.encode())
        assert text.encode() in patched
        return patched
    return _xlsx_patched([["serial", "model", "owner"], ["QJ-1001", "QJ 50-120", 1]], patch)


def test_an_unreadable_worksheet_is_logged_without_the_cells_text(caplog):
    """A damaged sheet's error message quotes the cell: a customer's name and address stay out of the log."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(registry.FileRefused) as refused:
        registry.parse_file("registry.xlsx", _xlsx_with_text_in_a_number_cell("Zhang Weilin, No. 17 Lotus Lane"))
    assert refused.value.reason == "unreadable"
    logged = [r.getMessage() for r in caplog.records if r.name == registry.log.name]
    assert logged == ["unreadable worksheet: ValueError"]
    assert not any("Zhang" in r.getMessage() or "Lotus" in r.getMessage() or "Lotus" in (r.exc_text or "") for r in caplog.records)


def test_a_parts_file_is_recognised_by_its_header():
    parsed = registry.parse_file("parts.csv", _csv("Part code,Name,Unit\nBRG-6204,Bearing 6204,pcs\nbrg-6204,Bearing,pcs\nSEAL-1,,\n"))
    assert parsed.kind == registry.PARTS
    assert parsed.rows == (registry.PartRow(2, "BRG-6204", "Bearing 6204", "pcs"),)
    assert _problems(parsed) == [(3, "Part code", "duplicate"), (4, "Name", "required")]


@pytest.mark.parametrize("name, data, reason", [
    ("a.csv", b"", "empty"),
    ("a.csv", b"\n ,, \n\n", "empty"),
    ("a.csv", HEADER.encode(), "no_rows"),
    ("a.csv", b"number,type\n1,2\n", "no_header"),
    ("a.csv", b"serial,customer\nQJ-1,x\n", "missing_column"),
    ("a.csv", b"serial,serial number,model\nQJ-1,QJ-1,x\n", "duplicate_column"),
    ("a.csv", "serial,model\nQJ-1,насос\n".encode("cp1251"), "not_utf8"),
    ("a.xlsx", b"PK\x03\x04 not really a workbook", "unreadable"),
    ("a.xlsx", b"serial,model\nQJ-1,x\n", "unreadable"),
    ("a.xls", b"whatever", "wrong_type"),
    ("a.pdf", b"%PDF", "wrong_type"),
])
def test_unreadable_files_are_refused_whole(name, data, reason):
    with pytest.raises(registry.FileRefused) as refused:
        registry.parse_file(name, data)
    assert refused.value.reason == reason


def test_the_size_and_row_limits_are_stated():
    with pytest.raises(registry.FileRefused) as big:
        registry.parse_file("a.csv", HEADER.encode() + b" " * registry.MAX_FILE_BYTES)
    assert (big.value.reason, big.value.limit) == ("too_big", registry.MAX_FILE_BYTES)
    with pytest.raises(registry.FileRefused) as early:
        registry.check_document("a.xlsx", registry.MAX_FILE_BYTES + 1)
    assert early.value.reason == "too_big"
    rows = "".join(f"QJ-{i},Pump\n" for i in range(registry.MAX_ROWS + 1))
    with pytest.raises(registry.FileRefused) as many:
        registry.parse_file("a.csv", ("serial,model\n" + rows).encode())
    assert (many.value.reason, many.value.limit) == ("too_many_rows", registry.MAX_ROWS)
    assert len(registry.parse_file("a.csv", ("serial,model\n" + rows[rows.index("QJ-1,"):]).encode()).rows) == registry.MAX_ROWS


# --- warranty and maintenance dates -------------------------------------------------------


def test_warranty_runs_from_commissioning_else_from_the_sale():
    row = registry.ProductRow(2, "S-1", "M", sale_date=date(2024, 1, 31), warranty_months=13)
    assert registry.warranty_end(row) == date(2025, 2, 28)  # no 31 February: the month's last day
    commissioned = registry.ProductRow(2, "S-1", "M", sale_date=date(2024, 1, 1), commissioning_date=date(2024, 3, 15), warranty_months=12)
    assert registry.warranty_end(commissioned) == date(2025, 3, 15)
    assert registry.warranty_end(registry.ProductRow(2, "S-1", "M", warranty_months=12)) is None
    assert registry.warranty_end(registry.ProductRow(2, "S-1", "M", sale_date=date(2024, 1, 1))) is None


def test_next_maintenance_is_the_next_date_on_the_cycle():
    product = Product(serial="S-1", model="M", commissioning_date=date(2025, 1, 10), maintenance_cycle_months=6)
    assert registry.next_maintenance(product, date(2025, 1, 10)) == date(2025, 7, 10)
    assert registry.next_maintenance(product, date(2025, 7, 10)) == date(2025, 7, 10)
    assert registry.next_maintenance(product, date(2026, 3, 2)) == date(2026, 7, 10)
    assert registry.next_maintenance(Product(serial="S-2", model="M", maintenance_cycle_months=6), date(2026, 3, 2)) is None


# --- importing ------------------------------------------------------------------------------


async def _admin(uow, clock):
    await users.ensure_bootstrap_staff(uow, [500], "en", clock.now())
    return await uow.users.by_telegram_id(500)


async def test_reimport_updates_by_serial_and_counts_added_updated_unchanged(database, clock):
    first = registry.parse_file("r.csv", _csv(HEADER + "QJ-1,Pump A,Farm,2025-01-01,,12,6\nQJ-2,Pump B,,2025-02-01,,,\n"))
    async with database.uow() as uow:
        admin = await _admin(uow, clock)
        assert await registry.import_file(uow, admin, first, clock.now()) == registry.ImportResult("products", 2, 0, 0)
        await uow.commit()
    clock.advance(timedelta(days=1))
    # the second file has no maintenance column: that field is kept; an empty owner cell clears it
    second = registry.parse_file("r.csv", _csv("serial,model,customer,commissioning date,warranty months\nqj-1,Pump A,,2025-03-01,12\nQJ-2,Pump B,,,\nQJ-3,Pump C,,,\n"))
    async with database.uow() as uow:
        admin = await _admin(uow, clock)
        assert await registry.import_file(uow, admin, second, clock.now()) == registry.ImportResult("products", 1, 1, 1)
        await uow.commit()
    async with database.uow() as uow:
        pump = await uow.products.by_serial("QJ-1")
        assert (pump.owner_name, pump.commissioning_date, pump.warranty_end, pump.maintenance_cycle_months) == (None, date(2025, 3, 1), date(2026, 3, 1), 6)
        assert pump.updated_at == clock.now()
        assert (await uow.products.by_serial("QJ-2")).warranty_end is None  # no warranty months: the registry cannot tell
        assert await uow.session.scalar(select(func.count()).select_from(Product)) == 3


async def test_a_file_with_any_error_imports_nothing(database, clock):
    parsed = registry.parse_file("r.csv", _csv(HEADER + "QJ-1,Pump A,,,,,\nQJ-2,Pump B,,not a date,,,\n"))
    assert len(parsed.rows) == 1 and len(parsed.errors) == 1
    async with database.uow() as uow:
        admin = await _admin(uow, clock)
        with pytest.raises(InvalidValue):
            await registry.import_file(uow, admin, parsed, clock.now())
        assert await uow.session.scalar(select(func.count()).select_from(Product)) == 0


async def test_only_an_active_admin_may_import(database, clock):
    parsed = registry.parse_file("r.csv", _csv(HEADER + "QJ-1,Pump A,,,,,\n"))
    async with database.uow() as uow:
        customer_user, _ = await _customer(uow, clock)
        with pytest.raises(NotAllowed):
            await registry.import_file(uow, customer_user, parsed, clock.now())
        admin = await _admin(uow, clock)
        admin.is_active = False
        with pytest.raises(NotAllowed):
            await registry.import_products(uow, admin, parsed.rows, clock.now())
        assert await uow.session.scalar(select(func.count()).select_from(Product)) == 0


async def test_parts_are_imported_by_code_and_searchable(database, clock):
    async with database.uow() as uow:
        admin = await _admin(uow, clock)
        first = registry.parse_file("p.csv", _csv("code,name,unit\nBRG-6204,Bearing 6204,pcs\nSEAL-20,Shaft seal 20%,pcs\n"))
        await registry.import_file(uow, admin, first, clock.now())
        second = registry.parse_file("p.csv", _csv("code,name\nbrg-6204,Bearing 6204-2RS\nSEAL-20,Shaft seal 20%\n"))
        assert await registry.import_file(uow, admin, second, clock.now()) == registry.ImportResult("parts", 0, 1, 1)
        bearing = await uow.parts.by_code("Brg-6204")
        assert (bearing.code, bearing.name, bearing.unit) == ("BRG-6204", "Bearing 6204-2RS", "pcs")  # no unit column: kept
        assert [p.code for p in await uow.parts.search("6204", 10)] == ["BRG-6204"]
        assert [p.code for p in await uow.parts.search("seal", 10)] == ["SEAL-20"]
        assert [p.code for p in await uow.parts.search("%", 10)] == ["SEAL-20"]  # a literal %, not a wildcard
        assert [p.code for p in await uow.parts.search("-", 1)] == ["BRG-6204"]
        assert await uow.parts.search("  ", 10) == []
        assert await uow.session.scalar(select(func.count()).select_from(Part)) == 2


async def test_a_cyrillic_part_or_warehouse_code_in_any_case_is_the_same_one(database, clock):
    """Codes are compared upper-cased on both sides (and as typed); SQLite's own upper() knew
    only ASCII, so a re-import of "пн-6204" failed on the unique code and "ПН-6204" became a
    second part. PostgreSQL upper-cases by the database's locale (README): the test cluster's is
    "C", ASCII only, so there only the same code as typed is checked."""
    sqlite_db = database.engine.dialect.name == "sqlite"
    header = "Код;Наименование;Склад;Остаток\n"
    async with database.uow() as uow:
        admin = await _admin(uow, clock)
        first = registry.parse_file("p.csv", _csv(header + "пн-6204;Подшипник 6204;склад-1;5\n"))
        assert await registry.import_file(uow, admin, first, clock.now()) == registry.ImportResult("parts", 1, 0, 0, 1, 1)
        await uow.commit()
    steps = [("пн-6204;Подшипник 6204;склад-1;5\n", registry.ImportResult("parts", 0, 0, 1, 0, 0))]  # the same file again
    if sqlite_db:
        steps.append(("ПН-6204;Подшипник 6204 (новый);СКЛАД-1;7\n", registry.ImportResult("parts", 0, 1, 0, 1, 0)))
    for lines, expected in steps:
        async with database.uow() as uow:
            admin = await _admin(uow, clock)
            assert await registry.import_file(uow, admin, registry.parse_file("p.csv", _csv(header + lines)), clock.now()) == expected
            await uow.commit()
    async with database.uow() as uow:
        name = "Подшипник 6204 (новый)" if sqlite_db else "Подшипник 6204"
        assert [(p.code, p.name) for p in await uow.session.scalars(select(Part))] == [("пн-6204", name)]
        assert [w.code for w in await uow.stock.warehouses()] == ["склад-1"]
        if sqlite_db:
            assert (await uow.parts.by_code("Пн-6204")).code == "пн-6204"


# --- claims -------------------------------------------------------------------------------


async def _registered(uow, clock, *serials: str):
    admin = await _admin(uow, clock)
    lines = "".join(f"{s},Pump {s},Farm,2025-01-01,2025-03-01,12,6\n" for s in serials)
    await registry.import_file(uow, admin, registry.parse_file("r.csv", _csv(HEADER + lines)), clock.now())
    return admin


async def test_a_claim_is_decided_once_and_confirming_gives_the_product(database, clock):
    async with database.uow() as uow:
        dispatcher = await _registered(uow, clock, "QJ-1")
        await users.ensure_bootstrap_staff(uow, [501], "en", clock.now())
        second = await uow.users.by_telegram_id(501)
        alice, alice_customer = await _customer(uow, clock)
        outcome = await registry.claim_product(uow, alice, " qj-1 ", clock.now())
        assert outcome.result == registry.CLAIM_SENT and outcome.claim.status == "pending"
        assert (await registry.claim_product(uow, alice, "QJ-1", clock.now())).result == registry.ALREADY_PENDING
        with pytest.raises(NotAllowed):
            await registry.decide_claim(uow, alice, outcome.claim.id, True, clock.now())
        card = (await registry.decide_claim(uow, dispatcher, outcome.claim.id, True, clock.now())).card
        assert (card.claim.status, card.claim.decided_by_user_id, card.product.customer_id) == ("confirmed", dispatcher.id, alice_customer.id)
        with pytest.raises(registry.AlreadyDecided) as late:
            await registry.decide_claim(uow, second, outcome.claim.id, False, clock.now())
        assert (late.value.claim.status, late.value.decided_by.id) == ("confirmed", dispatcher.id)
        assert (await registry.claim_product(uow, alice, "QJ-1", clock.now())).result == registry.ALREADY_YOURS
        assert await uow.session.scalar(select(func.count()).select_from(ProductClaim)) == 1


async def test_the_database_keeps_one_pending_claim_per_product_and_customer(database, clock):
    """Two presses processed at the same moment both pass the read check; the index stops the second."""
    async with database.uow() as uow:
        await _registered(uow, clock, "QJ-7")
        alice, alice_customer = await _customer(uow, clock)
        product = await uow.products.by_serial("QJ-7")
        first = await uow.claims.add_pending(ProductClaim(product_id=product.id, customer_id=alice_customer.id, status="pending", created_at=clock.now()))
        second = await uow.claims.add_pending(ProductClaim(product_id=product.id, customer_id=alice_customer.id, status="pending", created_at=clock.now()))
        assert first is not None and second is None
        first.status = "rejected"
        await uow.session.flush()
        third = await uow.claims.add_pending(ProductClaim(product_id=product.id, customer_id=alice_customer.id, status="pending", created_at=clock.now()))
        assert third is not None  # a decided claim does not block a new one
        await uow.commit()


async def test_a_serial_typed_in_full_width_claims_the_registered_product(database, clock):
    async with database.uow() as uow:
        await _registered(uow, clock, "QJ-5002")
        alice, _ = await _customer(uow, clock)
        outcome = await registry.claim_product(uow, alice, "ＱＪ－５００２\u200b", clock.now())  # a Chinese keyboard, pasted
        assert (outcome.result, outcome.product.serial) == (registry.CLAIM_SENT, "QJ-5002")


async def test_a_product_owned_by_someone_else_is_claimed_like_any_other_and_can_be_rejected(database, clock):
    async with database.uow() as uow:
        dispatcher = await _registered(uow, clock, "QJ-1")
        alice, alice_customer = await _customer(uow, clock)
        bob, _ = await _customer(uow, clock, telegram_id=1002, name="Bob")
        first = await registry.claim_product(uow, alice, "QJ-1", clock.now())
        await registry.decide_claim(uow, dispatcher, first.claim.id, True, clock.now())
        claim = await registry.claim_product(uow, bob, "QJ-1", clock.now())
        assert claim.result == registry.CLAIM_SENT  # Bob is not told that Alice has it
        card = await registry.claim_card(uow, claim.claim)
        assert card.current_owner.id == alice_customer.id  # the dispatcher is
        rejected = (await registry.decide_claim(uow, dispatcher, claim.claim.id, False, clock.now())).card
        assert (rejected.claim.status, rejected.product.customer_id) == ("rejected", alice_customer.id)


async def test_unknown_serials_are_audited_and_throttled(database, clock):
    async with database.uow() as uow:
        await _registered(uow, clock, "QJ-1")
        alice, _ = await _customer(uow, clock)
        with pytest.raises(InvalidValue):
            await registry.claim_product(uow, alice, "#?", clock.now())
        for i in range(registry.UNKNOWN_SERIALS_PER_HOUR):
            with pytest.raises(NotFound):
                await registry.claim_product(uow, alice, f"NOPE-{i}", clock.now())
        with pytest.raises(registry.Throttled):
            await registry.claim_product(uow, alice, "QJ-1", clock.now())
        clock.advance(timedelta(hours=1, minutes=1))
        assert (await registry.claim_product(uow, alice, "QJ-1", clock.now())).result == registry.CLAIM_SENT
        audited = await uow.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == registry.UNKNOWN_SERIAL_AUDIT))
        assert audited == registry.UNKNOWN_SERIALS_PER_HOUR


async def test_a_customer_has_at_most_a_few_claims_pending(database, clock):
    async with database.uow() as uow:
        serials = [f"QJ-{i}" for i in range(registry.MAX_PENDING_CLAIMS + 1)]
        await _registered(uow, clock, *serials)
        alice, _ = await _customer(uow, clock)
        for serial in serials[:-1]:
            await registry.claim_product(uow, alice, serial, clock.now())
        with pytest.raises(LimitReached):
            await registry.claim_product(uow, alice, serials[-1], clock.now())


async def test_my_products_show_warranty_maintenance_and_pending_claims(database, clock):
    async with database.uow() as uow:
        dispatcher = await _registered(uow, clock, "QJ-1", "QJ-2")
        alice, _ = await _customer(uow, clock)
        with pytest.raises(NotAllowed):  # no customer profile yet
            await registry.my_products(uow, await users.touch(uow, 3000, "New", None, "en", "en", clock.now()), date(2026, 3, 2))
        confirmed = await registry.claim_product(uow, alice, "QJ-1", clock.now())
        await registry.decide_claim(uow, dispatcher, confirmed.claim.id, True, clock.now())
        await registry.claim_product(uow, alice, "QJ-2", clock.now())
        # commissioned 2025-03-01 with 12 months of warranty and a 6-month maintenance cycle
        mine = await registry.my_products(uow, alice, date(2026, 3, 1))
        assert [(line.product.serial, line.warranty, line.next_maintenance) for line in mine.lines] == [("QJ-1", "in_warranty", date(2026, 3, 1))]
        assert (mine.total, mine.pending_serials) == (1, ["QJ-2"])
        later = await registry.my_products(uow, alice, date(2026, 3, 2))
        assert (later.lines[0].warranty, later.lines[0].next_maintenance) == ("expired", date(2026, 9, 1))


def test_claim_buttons_round_trip_and_forged_ones_do_not_parse():
    for payload in (ProductsButton("claim"), ClaimButton(123456789012, "confirm")):
        assert parse(payload.pack()) == payload and len(payload.pack()) <= 64
    for data in ("1:clm:abc:confirm", "1:clm:1", "1:prd:claim:now"):
        with pytest.raises(BadCallback):
            parse(data)
