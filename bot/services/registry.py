"""The product registry and the parts catalog: file import by admins, customers' claims by serial.

Import files are CSV (UTF-8 with or without BOM, comma or semicolon) or XLSX (first sheet).
The first non-empty row is the header; its names are matched ignoring case, spaces and
punctuation. Which kind of file it is follows from the header: a serial column makes it
the product registry, a code column (and no serial) the parts catalog.

Accepted headers (English · Chinese · Russian; * = required):

- products: serial* (serial number, SN · 序列号, 出厂编号 · серийный номер, заводской номер),
  model* (型号 · модель), customer/project (customer, project, owner · 客户, 项目, 客户/项目 ·
  клиент, проект, заказчик), sale date (销售日期 · дата продажи), commissioning date
  (调试日期, 投运日期 · дата ввода в эксплуатацию), warranty months (warranty · 保修期（月）,
  保修月数 · гарантия, мес), maintenance cycle (maintenance cycle months · 保养周期（月） ·
  периодичность ТО, мес);
- parts: code* (part code, part number · 编码, 配件编码, 物料编码 · код, артикул),
  name* (part name · 名称, 配件名称 · наименование, название), unit (单位 · ед. изм.),
  price (unit price · 单价, 价格 · цена), safety level (safety stock · 安全库存 · страховой запас),
  warehouse (仓库 · склад) and quantity (qty, stock · 数量, 库存 · количество, остаток) — these
  two together: the quantity the warehouse holds now (a ledger row records the difference).

Dates are YYYY-MM-DD (or date cells in XLSX, also those Excel in a Chinese, Japanese or Korean
locale saves as bare day numbers), months are whole numbers; a number cell counts as Excel shows
it (15 significant digits), so a formula's 3.3000000000000003 is the price 3.30. Parsing is pure
(bytes in, rows and per-row errors out); a file with any error imports nothing. Re-importing
updates products by serial (parts by code); a column missing from the file leaves that
field as it is, an empty cell clears it.
"""
from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.services.dispatch import require_dispatcher, warranty_from_registry
from bot.services.errors import DomainError, InvalidValue, LimitReached, NotAllowed, NotFound, TooLong
from bot.services.staff import is_admin
from bot.services.validation import normalize_serial
from storage.db import UnitOfWork
from storage.models import AuditEntry, Customer, Part, Product, ProductClaim, User, Warehouse

log = logging.getLogger(__name__)

PRODUCTS, PARTS = "products", "parts"
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 10_000
MAX_COLUMNS = 50
FILE_TYPES = (".csv", ".xlsx")
MODEL_MAX, OWNER_MAX = 128, 200
CODE_MAX, PART_NAME_MAX, UNIT_MAX = 64, 200, 16
WAREHOUSE_CODE_MAX = 32
PRICE_MAX = Decimal(10_000_000)  # CNY
STOCK_MAX = 1_000_000  # a quantity or safety level
WARRANTY_MONTHS_MAX = 240
MAINTENANCE_CYCLE_MAX = 120
EARLIEST_DATE, LATEST_DATE = date(1980, 1, 1), date(2100, 12, 31)

IMPORT_DIALOG, FILE_STEP = "registry_import", "file"
CLAIM_DIALOG, SERIAL_STEP = "product_claim", "serial"
PENDING, CONFIRMED, REJECTED = "pending", "confirmed", "rejected"
MAX_PENDING_CLAIMS = 5
UNKNOWN_SERIALS_PER_HOUR = 10
UNKNOWN_SERIAL_AUDIT = "claim_unknown_serial"
PRODUCTS_SHOWN = 30

# field → header spellings; the first is the English name shown in messages.
PRODUCT_HEADERS: dict[str, tuple[str, ...]] = {
    "serial": ("serial", "serial number", "serial no", "sn", "序列号", "出厂编号", "产品序列号", "серийный номер", "заводской номер", "серийный"),
    "model": ("model", "型号", "产品型号", "модель"),
    "owner_name": ("customer/project", "customer", "project", "owner", "客户", "项目", "客户/项目", "客户名称", "项目名称", "клиент", "проект", "клиент/проект", "заказчик"),
    "sale_date": ("sale date", "date of sale", "sold", "销售日期", "дата продажи"),
    "commissioning_date": ("commissioning date", "commissioned", "调试日期", "投运日期", "дата ввода в эксплуатацию", "дата пусконаладки"),
    "warranty_months": ("warranty months", "warranty", "warranty (months)", "保修期（月）", "保修期", "保修月数", "质保期", "гарантия, мес", "гарантия", "гарантия (мес)"),
    "maintenance_cycle_months": ("maintenance cycle", "maintenance cycle months", "maintenance cycle (months)", "保养周期（月）", "保养周期", "维护周期", "периодичность ТО, мес", "периодичность то", "цикл обслуживания"),
}
PART_HEADERS: dict[str, tuple[str, ...]] = {
    "code": ("code", "part code", "part number", "part no", "编码", "配件编码", "物料编码", "零件编号", "код", "артикул"),
    "name": ("name", "part name", "名称", "配件名称", "物料名称", "наименование", "название"),
    "unit": ("unit", "单位", "ед. изм.", "единица", "ед"),
    "price": ("price", "unit price", "price cny", "price (cny)", "单价", "价格", "单价（元）", "цена", "цена, руб", "цена (cny)"),
    "safety_level": ("safety level", "safety stock", "minimum stock", "min stock", "安全库存", "安全库存量", "最低库存", "страховой запас", "минимальный остаток", "неснижаемый остаток"),
    "warehouse": ("warehouse", "warehouse code", "仓库", "仓库编码", "склад", "код склада"),
    "quantity": ("quantity", "qty", "stock", "on hand", "数量", "库存", "库存数量", "количество", "остаток", "кол-во"),
}
PRODUCT_FIELDS = ("model", "owner_name", "sale_date", "commissioning_date", "warranty_months", "maintenance_cycle_months")
PART_FIELDS = ("name", "unit", "price", "safety_level")
STOCK_FIELDS = ("warehouse", "quantity")  # both or neither


def _normal(header: object) -> str:
    """'Warranty (months)', 'warranty_months' and 'WARRANTY MONTHS' all read the same."""
    return re.sub(r"[\W_]+", "", str(header).casefold())


_PRODUCT_LOOKUP = {_normal(alias): field for field, aliases in PRODUCT_HEADERS.items() for alias in aliases}
_PART_LOOKUP = {_normal(alias): field for field, aliases in PART_HEADERS.items() for alias in aliases}


# --- results and errors -------------------------------------------------------------------


class FileRefused(DomainError):
    """The whole file cannot be read: `reason` says why (too_big, too_many_rows, empty,
    no_rows, no_header, missing_column, duplicate_column, not_utf8, unreadable, wrong_type)."""

    def __init__(self, reason: str, *, limit: int = 0, column: str = "") -> None:
        super().__init__(reason)
        self.reason, self.limit, self.column = reason, limit, column


@dataclass(frozen=True)
class RowError:
    """One bad cell: `row` is the spreadsheet row number, `column` the header as written."""

    row: int
    column: str
    problem: str  # required, too_long, bad_serial, bad_date, date_range, not_whole, range, duplicate
    value: str = ""
    low: int = 0
    high: int = 0
    other_row: int = 0


@dataclass(frozen=True)
class ProductRow:
    row: int
    serial: str
    model: str
    owner_name: str | None = None
    sale_date: date | None = None
    commissioning_date: date | None = None
    warranty_months: int | None = None
    maintenance_cycle_months: int | None = None


@dataclass(frozen=True)
class PartRow:
    row: int
    code: str
    name: str
    unit: str | None = None
    price: int | None = None  # minor units (fen)
    safety_level: int | None = None
    warehouse: str | None = None
    quantity: int | None = None


@dataclass(frozen=True)
class ParsedFile:
    kind: str
    rows: tuple[ProductRow, ...] | tuple[PartRow, ...]
    errors: tuple[RowError, ...]
    columns: frozenset[str]  # fields the header has; only these are updated on re-import
    ignored: tuple[str, ...] = ()  # header names we did not recognise


@dataclass(frozen=True)
class ImportResult:
    kind: str
    added: int
    updated: int
    unchanged: int
    stock_changed: int = 0  # part × warehouse quantities that changed (one ledger row each)
    warehouses_added: int = 0


def expected_headers(kind: str) -> list[str]:
    """English header names of a kind of file, required ones first."""
    return [aliases[0] for aliases in (PRODUCT_HEADERS if kind == PRODUCTS else PART_HEADERS).values()]


# --- reading the file (pure) --------------------------------------------------------------

Cell = Any  # str, int, float, date/datetime or None


def file_type(file_name: str | None) -> str | None:
    """'.csv' or '.xlsx' by the file's name, else None."""
    name = (file_name or "").lower().strip()
    return next((ext for ext in FILE_TYPES if name.endswith(ext)), None)


def check_document(file_name: str | None, file_size: int | None) -> None:
    """Refuse a wrong type or an oversized file before downloading it."""
    if file_type(file_name) is None:
        raise FileRefused("wrong_type")
    if file_size is not None and file_size > MAX_FILE_BYTES:
        raise FileRefused("too_big", limit=MAX_FILE_BYTES)


def parse_file(file_name: str | None, data: bytes) -> ParsedFile:
    """Read and validate a whole file; raises `FileRefused` when it cannot be read at all."""
    check_document(file_name, len(data))
    table = _csv_rows(data) if file_type(file_name) == ".csv" else _xlsx_rows(data)
    return parse_table(table)


def parse_table(table: Iterator[tuple[int, list[Cell]]]) -> ParsedFile:
    """Header, then rows; blank rows are skipped, row numbers are those of the file."""
    header = next(((number, cells) for number, cells in table if not _blank(cells)), None)
    if header is None:
        raise FileRefused("empty")
    kind, columns, ignored = _match_header(header[1])
    rows = []
    for number, cells in table:
        if _blank(cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise FileRefused("too_many_rows", limit=MAX_ROWS)
        rows.append((number, cells))
    if not rows:
        raise FileRefused("no_rows")
    validate = _product_rows if kind == PRODUCTS else _part_rows
    good, errors = validate(rows, columns)
    return ParsedFile(kind, tuple(good), tuple(errors), frozenset(columns), tuple(ignored))


def _blank(cells: list[Cell]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[Cell]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused("not_utf8") from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, values in enumerate(reader, start=1):
            yield number, values[:MAX_COLUMNS]
    except csv.Error:
        raise FileRefused("unreadable") from None


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Cell]]]:
    import openpyxl  # only imports pay for it

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # any malformed or non-XLSX content: the admin must re-save the file
        log.info("unreadable workbook: %s", type(exc).__name__)  # the message may quote a cell: a name, an address
        raise FileRefused("unreadable") from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
            yield number, list(values)
    except Exception as exc:  # a damaged sheet inside a readable archive
        log.info("unreadable worksheet: %s", type(exc).__name__)
        raise FileRefused("unreadable") from None
    finally:
        workbook.close()


def _match_header(cells: list[Cell]) -> tuple[str, dict[str, tuple[int, str]], list[str]]:
    """Which kind of file, where each known column is (index, header as written), what was ignored."""
    names = [("" if c is None else str(c)).strip() for c in cells]
    normal = [_normal(n) for n in names]
    if any(_PRODUCT_LOOKUP.get(n) == "serial" for n in normal):
        kind, lookup, required = PRODUCTS, _PRODUCT_LOOKUP, ("serial", "model")
    elif any(_PART_LOOKUP.get(n) == "code" for n in normal):
        kind, lookup, required = PARTS, _PART_LOOKUP, ("code", "name")
    else:
        raise FileRefused("no_header")
    columns: dict[str, tuple[int, str]] = {}
    ignored = []
    for index, (name, key) in enumerate(zip(names, normal)):
        field = lookup.get(key)
        if field is None:
            if name:
                ignored.append(name)
        elif field in columns:
            raise FileRefused("duplicate_column", column=name)
        else:
            columns[field] = (index, name)
    headers = PRODUCT_HEADERS if kind == PRODUCTS else PART_HEADERS
    missing = next((f for f in required if f not in columns), None)
    if missing is None and kind == PARTS and any(f in columns for f in STOCK_FIELDS):
        missing = next((f for f in STOCK_FIELDS if f not in columns), None)  # a quantity needs its warehouse
    if missing is not None:
        raise FileRefused("missing_column", column=headers[missing][0])
    return kind, columns, ignored


class _Cells:
    """One data row's cells by field, collecting the errors of its bad values."""

    def __init__(self, number: int, cells: list[Cell], columns: dict[str, tuple[int, str]], errors: list[RowError]) -> None:
        self.number, self.cells, self.columns, self.errors = number, cells, columns, errors
        self.ok = True

    def _raw(self, field: str) -> Cell:
        index = self.columns[field][0] if field in self.columns else None
        if index is None or index >= len(self.cells):
            return None
        value = self.cells[index]
        return value.strip() or None if isinstance(value, str) else value

    def error(self, field: str, problem: str, value: Cell = "", **details: int) -> None:
        self.ok = False
        self.errors.append(RowError(self.number, self.columns[field][1], problem, _shown(value), **details))

    def text(self, field: str, limit: int | None, *, required: bool = False) -> str | None:
        value = _as_text(self._raw(field))
        if value is None and required:
            self.error(field, "required")
        elif value is not None and limit is not None and len(value) > limit:
            self.error(field, "too_long", value, high=limit)
            return None
        return value

    def serial(self) -> str | None:
        value = self.text("serial", None, required=True)  # normalize_serial states its own limit
        if value is None:
            return None
        try:
            return normalize_serial(value)
        except TooLong as error:
            self.error("serial", "too_long", value, high=error.limit)
        except InvalidValue:
            self.error("serial", "bad_serial", value)
        return None

    def date(self, field: str) -> date | None:
        value = self._raw(field)
        if value is None:
            return None
        day = _as_date(value)
        if day is None:
            self.error(field, "bad_date", value)
        elif not EARLIEST_DATE <= day <= LATEST_DATE:
            self.error(field, "date_range", day, low=EARLIEST_DATE.year, high=LATEST_DATE.year)
            return None
        return day

    def price(self, field: str) -> int | None:
        """A price in CNY (up to 2 decimals, comma or point) as minor units."""
        value = self._raw(field)
        if value is None:
            return None
        amount = as_amount(value)
        if amount is None:
            self.error(field, "bad_price", value)
        elif not 0 <= amount <= PRICE_MAX:
            self.error(field, "range", value, low=0, high=int(PRICE_MAX))
            return None
        return None if amount is None else int(amount * 100)

    def count(self, field: str) -> int | None:
        """A whole number of pieces, 0 to STOCK_MAX."""
        value = self._raw(field)
        if value is None:
            return None
        number = _as_whole(value)
        if number is None:
            self.error(field, "not_count", value)
        elif not 0 <= number <= STOCK_MAX:
            self.error(field, "range", value, low=0, high=STOCK_MAX)
            return None
        return number

    def months(self, field: str, low: int, high: int) -> int | None:
        value = self._raw(field)
        if value is None:
            return None
        number = _as_whole(value)
        if number is None:
            self.error(field, "not_whole", value)
        elif not low <= number <= high:
            self.error(field, "range", value, low=low, high=high)
            return None
        return number


def _shown(value: Cell) -> str:
    text = _as_text(value) or ""
    return text if len(text) <= 40 else text[:39] + "…"


def _as_text(value: Cell) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else _as_excel_shows(value)
    text = str(value).strip()
    return text or None


def _as_excel_shows(value: float) -> str:
    """A number cell as Excel shows it: 15 significant digits. A formula's =1.1*3 is stored as
    3.3000000000000003, shown (and meant) as 3.3."""
    return format(value, ".15g")


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Excel stores a date as days since 1899-12-30. A date cell in a format openpyxl does not know as
# a date (Excel's built-in Chinese, Japanese and Korean ones, ids 27–36 and 50–58, have no format
# string in the file) is read as that number. Numbers are dates only within our date limits, so a
# stray 12 or 20250510 in a date column is still "not a date".
EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_DAYS = ((EARLIEST_DATE - EXCEL_EPOCH).days, (LATEST_DATE - EXCEL_EPOCH).days + 1)  # [low, high)


def _as_date(value: Cell) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = _EXCEL_DAYS
        return EXCEL_EPOCH + timedelta(days=int(value)) if low <= value < high else None  # a time of day is dropped
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


_AMOUNT = re.compile(r"^\d{1,9}(?:[.,]\d{1,2})?$")


def as_amount(value: Cell) -> Decimal | None:
    """A non-negative amount with at most 2 decimals (cents); a number cell as Excel shows it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        value = _as_excel_shows(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str) or not _AMOUNT.match(value.strip()):
        return None
    try:
        return Decimal(value.strip().replace(",", "."))
    except InvalidOperation:
        return None


def _as_whole(value: Cell) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        value = float(_as_excel_shows(value))  # a formula's 2.9999999999999996 is the 3 Excel shows
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _product_rows(rows: list[tuple[int, list[Cell]]], columns: dict[str, tuple[int, str]]) -> tuple[list[ProductRow], list[RowError]]:
    good: list[ProductRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, values in rows:
        cells = _Cells(number, values, columns, errors)
        serial = cells.serial()
        if serial is not None and serial in seen:
            cells.error("serial", "duplicate", serial, other_row=seen[serial])
        elif serial is not None:
            seen[serial] = number
        row = ProductRow(
            row=number, serial=serial or "", model=cells.text("model", MODEL_MAX, required=True) or "",
            owner_name=cells.text("owner_name", OWNER_MAX),
            sale_date=cells.date("sale_date"), commissioning_date=cells.date("commissioning_date"),
            warranty_months=cells.months("warranty_months", 0, WARRANTY_MONTHS_MAX),
            maintenance_cycle_months=cells.months("maintenance_cycle_months", 1, MAINTENANCE_CYCLE_MAX),
        )
        if cells.ok:
            good.append(row)
    return good, errors


def _part_rows(rows: list[tuple[int, list[Cell]]], columns: dict[str, tuple[int, str]]) -> tuple[list[PartRow], list[RowError]]:
    """One row per part; with stock columns, one row per part and warehouse, the part's own
    columns repeated identically on each of its rows."""
    good: list[PartRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    first_of_code: dict[str, PartRow] = {}
    for number, values in rows:
        cells = _Cells(number, values, columns, errors)
        code = cells.text("code", CODE_MAX, required=True)
        row = PartRow(
            row=number, code=code or "", name=cells.text("name", PART_NAME_MAX, required=True) or "",
            unit=cells.text("unit", UNIT_MAX), price=cells.price("price"), safety_level=cells.count("safety_level"),
            warehouse=cells.text("warehouse", WAREHOUSE_CODE_MAX), quantity=cells.count("quantity"),
        )
        if "warehouse" in columns and (row.warehouse is None) != (row.quantity is None) and not any(
            e.row == number and e.column in (columns["warehouse"][1], columns["quantity"][1]) for e in errors
        ):
            cells.error("quantity" if row.quantity is None else "warehouse", "required")
        if code is not None:
            key = (code.casefold(), (row.warehouse or "").casefold())
            if key in seen:
                cells.error("code", "duplicate", code, other_row=seen[key])
            else:
                seen[key] = number
                first = first_of_code.setdefault(code.casefold(), row) if cells.ok else first_of_code.get(code.casefold(), row)
                for field in PART_FIELDS:  # compared with the part's first valid row only
                    if first is not row and field in columns and getattr(first, field) != getattr(row, field):
                        cells.error(field, "conflict", _cell_text(cells, field), other_row=first.row)
        if cells.ok:
            good.append(row)
    return good, errors


def _cell_text(cells: _Cells, field: str) -> str:
    return _as_text(cells._raw(field)) or ""


# --- dates of warranty and maintenance ----------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the 31st becomes the month's last day when needed."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    first_of_next = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date(year, month + 1, min(day.day, (first_of_next - timedelta(days=1)).day))


def service_start(product: Product | ProductRow) -> date | None:
    return product.commissioning_date or product.sale_date


def warranty_end(product: Product | ProductRow) -> date | None:
    """Warranty runs from commissioning (else from the sale) for `warranty_months`; None if either is unknown."""
    start = service_start(product)
    if start is None or product.warranty_months is None:
        return None
    return add_months(start, product.warranty_months)


def next_maintenance(product: Product, today: date) -> date | None:
    """The next date on the maintenance cycle counted from the service start (today or later)."""
    start, cycle = service_start(product), product.maintenance_cycle_months
    if start is None or not cycle:
        return None
    elapsed = (today.year - start.year) * 12 + today.month - start.month
    step = max(1, elapsed // cycle)
    while add_months(start, step * cycle) < today:
        step += 1
    return add_months(start, step * cycle)


# --- importing (database) -----------------------------------------------------------------


def require_admin(user: User) -> None:
    if not is_admin(user):
        raise NotAllowed()


def _merge(target: object, values: dict[str, Any]) -> bool:
    """Set the values that differ; True when anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed = True
    return changed


async def import_file(uow: UnitOfWork, actor: User, parsed: ParsedFile, now: datetime, *, alert_at: datetime | None = None) -> ImportResult:
    """All or nothing: a file with any error is refused whole. `alert_at`: when low-stock alerts may go out."""
    require_admin(actor)
    if parsed.errors:
        raise InvalidValue("file")
    if parsed.kind == PRODUCTS:
        return await import_products(uow, actor, parsed.rows, now, parsed.columns)
    return await import_parts(uow, actor, parsed.rows, now, parsed.columns, alert_at=alert_at)


async def import_products(uow: UnitOfWork, actor: User, rows: tuple[ProductRow, ...] | list[ProductRow], now: datetime,
                          columns: frozenset[str] = frozenset(PRODUCT_FIELDS)) -> ImportResult:
    """Add new serials, update known ones (only the file's columns), count what did not change."""
    require_admin(actor)
    existing = await uow.products.by_serials([row.serial for row in rows])
    added: list[Product] = []
    updated = unchanged = 0
    for row in rows:
        product = existing.get(row.serial.upper())
        if product is None:
            product = Product(serial=row.serial, **{f: getattr(row, f) for f in PRODUCT_FIELDS})
            product.warranty_end, product.updated_at = warranty_end(product), now
            added.append(product)
            continue
        changed = _merge(product, {f: getattr(row, f) for f in PRODUCT_FIELDS if f in columns})
        changed = _merge(product, {"warranty_end": warranty_end(product)}) or changed
        if changed:
            product.updated_at = now
            updated += 1
        else:
            unchanged += 1
    await uow.products.add_all(added)
    result = ImportResult(PRODUCTS, len(added), updated, unchanged)
    await _audit_import(uow, actor, result, now)
    return result


async def import_parts(uow: UnitOfWork, actor: User, rows: tuple[PartRow, ...] | list[PartRow], now: datetime,
                       columns: frozenset[str] = frozenset(PART_FIELDS), *, alert_at: datetime | None = None) -> ImportResult:
    """The spare-parts catalog, keyed by code (case-insensitive); with warehouse and quantity
    columns also the stock: each quantity is set, and the difference goes to the stock ledger.
    A part left below its safety level alerts the warehouse role (once per crossing)."""
    require_admin(actor)
    existing = await uow.parts.by_codes([row.code for row in rows])
    added: list[Part] = []
    updated = unchanged = 0
    done: set[str] = set()  # a part on several warehouses' rows is counted once
    for row in rows:
        key = row.code.casefold()
        if key in done:
            continue
        done.add(key)
        part = existing.get(key)
        if part is None:
            existing[key] = part = Part(code=row.code, **{f: getattr(row, f) for f in PART_FIELDS}, below_safety=False)
            added.append(part)
        elif _merge(part, {f: getattr(row, f) for f in PART_FIELDS if f in columns}):
            updated += 1
        else:
            unchanged += 1
    await uow.parts.add_all(added)
    stock_changed, warehouses_added = 0, 0
    if "safety_level" in columns or "quantity" in columns:
        stock_changed, warehouses_added = await _import_stock(uow, actor, rows, existing, now, alert_at or now)
    result = ImportResult(PARTS, len(added), updated, unchanged, stock_changed, warehouses_added)
    await _audit_import(uow, actor, result, now)
    return result


async def _import_stock(uow: UnitOfWork, actor: User, rows, parts_by_code: dict[str, Part], now: datetime, alert_at: datetime) -> tuple[int, int]:
    """Set the file's quantities, then re-check every part's safety level. Returns (changed, warehouses added)."""
    from bot.services import stock  # stock builds on the catalog; imported here to keep the dependency one-way

    codes = [row.warehouse for row in rows if row.warehouse]
    warehouses = await uow.stock.warehouses_by_codes(codes)
    added = 0
    for code in codes:
        if code.casefold() not in warehouses:
            warehouses[code.casefold()] = await uow.stock.add_warehouse(Warehouse(code=code, name=code))
            added += 1
    parts = await uow.stock.lock_parts([parts_by_code[row.code.casefold()].id for row in rows])
    changed = 0
    for row in rows:
        if row.warehouse is not None and row.quantity is not None:
            part = parts[parts_by_code[row.code.casefold()].id]
            changed += await stock.set_stock(uow, actor, part, warehouses[row.warehouse.casefold()], row.quantity, stock.IMPORT, now) is not None
    for part in parts.values():
        await stock.check_safety(uow, part, now, alert_at)
    return changed, added


async def _audit_import(uow: UnitOfWork, actor: User, result: ImportResult, now: datetime) -> None:
    await uow.audit.add(AuditEntry(
        actor_telegram_id=actor.telegram_id, action=f"{result.kind}_imported",
        details={"added": result.added, "updated": result.updated, "unchanged": result.unchanged,
                 **({"stock_changed": result.stock_changed, "warehouses_added": result.warehouses_added} if result.kind == PARTS else {})},
        created_at=now,
    ))


# --- the customer's products and claims ---------------------------------------------------


@dataclass(frozen=True)
class ProductLine:
    product: Product
    warranty: str
    next_maintenance: date | None


@dataclass(frozen=True)
class MyProducts:
    lines: list[ProductLine]
    total: int
    pending_serials: list[str]


async def _customer(uow: UnitOfWork, user: User) -> Customer:
    customer = await uow.customers.by_user_id(user.id)
    if customer is None:
        raise NotAllowed()  # not registered yet: the handler onboards them first
    return customer


async def my_products(uow: UnitOfWork, user: User, today: date) -> MyProducts:
    customer = await _customer(uow, user)
    products = await uow.products.of_customer(customer.id, PRODUCTS_SHOWN)
    pending = await uow.claims.pending_of_customer(customer.id)
    products_by_id = {p.id: p for p in await uow.products.by_ids([c.product_id for c in pending])}
    return MyProducts(
        lines=[ProductLine(p, warranty_from_registry(p, today), next_maintenance(p, today)) for p in products],
        total=await uow.products.count_of_customer(customer.id),
        pending_serials=[products_by_id[c.product_id].serial for c in pending if c.product_id in products_by_id],
    )


class Throttled(DomainError):
    """Too many unknown serials tried recently (someone guessing serial numbers)."""


CLAIM_SENT, ALREADY_YOURS, ALREADY_PENDING = "sent", "already_yours", "already_pending"


@dataclass(frozen=True)
class ClaimOutcome:
    result: str  # sent, already_yours, already_pending
    product: Product
    claim: ProductClaim | None


async def claim_product(uow: UnitOfWork, user: User, serial_text: str, now: datetime) -> ClaimOutcome:
    """A customer says the product with this serial is theirs; a dispatcher decides.

    Whether someone else owns or claims it is never told to the customer: such a claim
    goes to the dispatcher like any other. One pending claim per product and customer.
    """
    customer = await _customer(uow, user)
    serial = normalize_serial(serial_text)
    if await uow.audit.count_since(user.telegram_id, UNKNOWN_SERIAL_AUDIT, now - timedelta(hours=1)) >= UNKNOWN_SERIALS_PER_HOUR:
        raise Throttled()
    product = await uow.products.by_serial(serial)
    if product is None:
        await uow.audit.add(AuditEntry(actor_telegram_id=user.telegram_id, action=UNKNOWN_SERIAL_AUDIT, details={"serial": serial}, created_at=now))
        raise NotFound()
    if product.customer_id == customer.id:
        return ClaimOutcome(ALREADY_YOURS, product, None)
    pending = await uow.claims.pending_of(product.id, customer.id)
    if pending is not None:
        return ClaimOutcome(ALREADY_PENDING, product, pending)
    if len(await uow.claims.pending_of_customer(customer.id)) >= MAX_PENDING_CLAIMS:
        raise LimitReached(MAX_PENDING_CLAIMS)
    claim = await uow.claims.add_pending(ProductClaim(product_id=product.id, customer_id=customer.id, status=PENDING, created_at=now))
    if claim is None:  # the same claim arrived twice at the same moment
        return ClaimOutcome(ALREADY_PENDING, product, await uow.claims.pending_of(product.id, customer.id))
    await uow.audit.add(AuditEntry(actor_telegram_id=user.telegram_id, action="product_claimed", details={"claim_id": claim.id, "product_id": product.id}, created_at=now))
    return ClaimOutcome(CLAIM_SENT, product, claim)


@dataclass(frozen=True)
class ClaimCard:
    """What a dispatcher needs to decide: the claimant, the product, who has it now."""

    claim: ProductClaim
    product: Product
    claimant: Customer
    current_owner: Customer | None
    other_pending: int


async def claim_card(uow: UnitOfWork, claim: ProductClaim) -> ClaimCard:
    product = await uow.products.get(claim.product_id)
    owner = await uow.customers.get(product.customer_id) if product.customer_id else None
    return ClaimCard(
        claim=claim, product=product, claimant=await uow.customers.get(claim.customer_id), current_owner=owner,
        other_pending=await uow.claims.count_pending_of_product(product.id, exclude_claim_id=claim.id),
    )


class AlreadyDecided(DomainError):
    """Another dispatcher decided first; `claim` has their verdict, `decided_by` is who."""

    def __init__(self, claim: ProductClaim, decided_by: User | None) -> None:
        super().__init__("already decided")
        self.claim, self.decided_by = claim, decided_by


@dataclass(frozen=True)
class ClaimDecision:
    card: ClaimCard
    superseded: list[ProductClaim]  # the product's other pending claims, rejected by a confirmation
    previous_owner: Customer | None  # who had the product before a confirmation moved it


async def decide_claim(uow: UnitOfWork, actor: User, claim_id: int, confirm: bool, now: datetime) -> ClaimDecision:
    """Confirm (the product becomes the claimant's) or reject, once: the first dispatcher wins.
    A confirmation rejects the product's other pending claims, whose claimants are told: a card
    left from one of them would otherwise hand the product on again, silently."""
    require_dispatcher(actor)
    claim = await uow.claims.get(claim_id)
    if claim is None:
        raise NotFound()
    status = CONFIRMED if confirm else REJECTED
    won = await uow.claims.decide(claim.id, status, actor.id, now)
    await uow.session.refresh(claim)
    if not won:
        raise AlreadyDecided(claim, await uow.users.get(claim.decided_by_user_id) if claim.decided_by_user_id else None)
    card = await claim_card(uow, claim)
    before = card.product.customer_id
    superseded = []
    if confirm:
        card.product.customer_id, card.product.updated_at = claim.customer_id, now
        for other in await uow.claims.pending_of_product(card.product.id, exclude_claim_id=claim.id):
            if await uow.claims.decide(other.id, REJECTED, actor.id, now):
                await uow.session.refresh(other)
                superseded.append(other)
    for decided in (claim, *superseded):
        await uow.audit.add(AuditEntry(
            actor_telegram_id=actor.telegram_id, action=f"product_claim_{decided.status}",
            details={"claim_id": decided.id, "product_id": card.product.id, "owner_before": before, "owner_after": card.product.customer_id},
            created_at=now,
        ))
    moved_from = before if confirm and before not in (None, claim.customer_id) else None
    return ClaimDecision(await claim_card(uow, claim), superseded, await uow.customers.get(moved_from) if moved_from else None)
