"""What the product registry shows: the admin's import dialog, customers' products and claims,
and the dispatcher's claim card. Header names in messages are data (the file's own words)."""
from __future__ import annotations

from datetime import date

from babel.dates import format_date

from bot.callbacks import ClaimButton, ProductsButton, ReturnProductButton
from bot.i18n import Html, Translator
from bot.keyboards import button, dialog_nav, inline
from bot.labels import CLAIM_STATUS_LABELS
from bot.services import registry
from bot.services.dispatch import EXPIRED, IN_WARRANTY
from bot.telegram_text import shorten
from bot.views import View
from storage.models import Draft, Product, ProductClaim, User

ERRORS_SHOWN = 25


def _day(_: Translator, day: date) -> str:
    return format_date(day, "medium", locale=_.locale)


def _product(product) -> str:
    return shorten(f"{product.model} · {product.serial}", 120)


def _name(user: User | None) -> str:
    return (user.full_name or user.first_name) if user is not None else "—"


# --- admin: import ------------------------------------------------------------------------


def expected_headers(_: Translator) -> str:
    return "\n".join([
        _("The first row must name the columns:"),
        _("• product registry: {headers}", headers=", ".join(registry.expected_headers(registry.PRODUCTS))),
        _("• parts catalog: {headers}", headers=", ".join(registry.expected_headers(registry.PARTS))),
        _("Serial and model (or code and name) are required; the other columns are optional. Chinese and Russian column names work too (序列号, 型号… / серийный номер, модель…)."),
    ])


def import_prompt(_: Translator, draft: Draft) -> View:
    lines = [
        _("<b>Import the product registry or the parts catalog</b>"),
        _("Send the file as a document: XLSX, or CSV in UTF-8 with commas or semicolons."),
        expected_headers(_),
        _("Dates as YYYY-MM-DD (or date cells in Excel); warranty and maintenance cycle in whole months."),
        _("At most {size} MB and {rows} rows. A file with any error imports nothing; a serial already in the registry is updated.",
          size=registry.MAX_FILE_BYTES // (1024 * 1024), rows=registry.MAX_ROWS),
    ]
    return View("\n".join(lines), inline([dialog_nav(_, draft, back=False)]))


def file_wanted(_: Translator, draft: Draft) -> View:
    return View(_("Please send the file as a document (📎 → File), .xlsx or .csv, or press Cancel."), inline([dialog_nav(_, draft, back=False)]))


def download_failed(_: Translator, draft: Draft) -> View:
    return View(_("I could not download the file from Telegram. Please send it again, or press Cancel."), inline([dialog_nav(_, draft, back=False)]))


def file_refused(_: Translator, refused: registry.FileRefused, draft: Draft) -> View:
    reason = refused.reason
    if reason == "too_big":
        text = _("The file is larger than {size} MB. Split it into smaller files and send them one by one.", size=refused.limit // (1024 * 1024))
    elif reason == "too_many_rows":
        text = _("The file has more than {rows} rows. Split it into smaller files and send them one by one.", rows=refused.limit)
    elif reason == "wrong_type":
        text = _("Only .xlsx and .csv files can be imported. Save the table as Excel workbook (.xlsx) or as CSV UTF-8 and send it again.")
    elif reason == "not_utf8":
        text = _("The CSV file is not UTF-8 text. In Excel choose “Save as → CSV UTF-8”, or send the .xlsx file instead.")
    elif reason == "unreadable":
        text = _("The file could not be read. Open it in Excel or LibreOffice, save it again as .xlsx or CSV UTF-8, and send it again.")
    elif reason == "no_rows":
        text = _("The file has a header but no rows to import.")
    elif reason == "duplicate_column":
        text = _("The column “{column}” appears twice, or two columns mean the same. Keep only one.", column=refused.column)
    elif reason == "missing_column":
        text = _("The required column “{column}” is missing.", column=refused.column) + "\n" + expected_headers(_)
    elif reason == "empty":
        text = _("The file is empty.") + "\n" + expected_headers(_)
    else:  # no_header
        text = _("I could not recognise the header row.") + "\n" + expected_headers(_)
    return View(_("❌ Nothing was imported.") + "\n" + text, inline([dialog_nav(_, draft, back=False)]))


def problem(_: Translator, error: registry.RowError) -> Html:
    """One bad cell, said in the admin's language: HTML, the cell's value already escaped."""
    return Html(_problem(_, error))


def _problem(_: Translator, error: registry.RowError) -> str:
    from bot import stock_views  # the parts file's stock columns

    if error.problem in stock_views.IMPORT_PROBLEMS:
        return stock_views.import_problem(_, error)
    value = error.value
    if error.problem == "required":
        return _("empty, but required")
    if error.problem == "too_long":
        return _("longer than {limit} characters", limit=error.high)
    if error.problem == "bad_serial":
        return _("“{value}” is not a serial number (letters, digits, spaces and . / _ -, at least 3 characters)", value=value)
    if error.problem == "bad_date":
        return _("“{value}” is not a date; write it as YYYY-MM-DD, e.g. 2025-06-30", value=value)
    if error.problem == "date_range":
        return _("“{value}” is not between the years {low} and {high}", value=value, low=error.low, high=error.high)
    if error.problem == "not_whole":
        return _("“{value}” is not a whole number of months", value=value)
    if error.problem == "range":
        return _("{value} is outside {low}–{high}", value=value, low=error.low, high=error.high)
    return _("“{value}” appears again; it is already in row {row}", value=value, row=error.other_row)


def import_errors(_: Translator, parsed: registry.ParsedFile, draft: Draft) -> View:
    lines = [_("❌ Nothing was imported. Errors found: {count}.", count=len(parsed.errors))]
    for error in parsed.errors[:ERRORS_SHOWN]:
        lines.append(_("Row {row}, {column}: {problem}", row=error.row, column=shorten(error.column, 40), problem=problem(_, error)))
    if len(parsed.errors) > ERRORS_SHOWN:
        lines.append(_("… and {count} more.", count=len(parsed.errors) - ERRORS_SHOWN))
    lines.append(_("Fix the file and send it again, or press Cancel."))
    return View("\n".join(lines), inline([dialog_nav(_, draft, back=False)]))


def import_done(_: Translator, result: registry.ImportResult, ignored: tuple[str, ...]) -> str:
    counts = dict(added=result.added, updated=result.updated, unchanged=result.unchanged)
    if result.kind == registry.PRODUCTS:
        text = _("✅ Product registry imported: {added} added, {updated} updated, {unchanged} unchanged.", **counts)
    else:
        text = _("✅ Parts catalog imported: {added} added, {updated} updated, {unchanged} unchanged.", **counts)
    if ignored:
        text += "\n" + _("Columns not recognised and ignored: {names}", names=shorten(", ".join(ignored), 300))
    return text


# --- customers: products and claims -------------------------------------------------------


def _warranty_line(_: Translator, line: registry.ProductLine) -> str:
    end = line.product.warranty_end
    if line.warranty == IN_WARRANTY:
        return _("Warranty until {date}", date=_day(_, end))
    if line.warranty == EXPIRED:
        return _("Warranty expired on {date}", date=_day(_, end))
    return _("Warranty: unknown")


def products_view(_: Translator, mine: registry.MyProducts) -> View:
    claim = [[button(_("➕ Claim a product by serial"), ProductsButton("claim"))]]
    if not mine.lines and not mine.pending_serials:
        return View(_("You have no registered products yet. If you know a product's serial number, claim it: a dispatcher will confirm that it is yours."), inline(claim))
    lines = [_("<b>Your products</b>")]
    for line in mine.lines:
        lines.append("")
        lines.append(_("📦 {product}", product=_product(line.product)))
        lines.append(_warranty_line(_, line))
        if line.next_maintenance is not None:
            lines.append(_("Next maintenance: {date}", date=_day(_, line.next_maintenance)))
    if mine.total > len(mine.lines):
        lines.append(_("… and {count} more.", count=mine.total - len(mine.lines)))
    if mine.pending_serials:
        lines.append("")
        lines.append(_("Waiting for a dispatcher to confirm: {serials}", serials=", ".join(mine.pending_serials)))
    returns = [[button(_("↩️ Return or exchange: {serial}", serial=shorten(line.product.serial, 40)), ReturnProductButton(line.product.id))] for line in mine.lines[:8]]
    return View("\n".join(lines), inline(returns + claim))


def claim_prompt(_: Translator, draft: Draft) -> View:
    return View(
        _("Type the serial number from the product's nameplate. A dispatcher will check and confirm that the product is yours."),
        inline([dialog_nav(_, draft, back=False)]),
    )


def claim_input_error(_: Translator, reason: str, draft: Draft, *, limit: int = 0) -> View:
    texts = {
        "text": _("Please type the serial number as text, or press Cancel."),
        "serial": _("A serial number has letters, digits and dashes, at least 3 characters. Check the nameplate and type it again, or press Cancel."),
        "too_long": _("A serial number has at most {limit} characters. Check the nameplate and type it again, or press Cancel.", limit=limit),
    }
    return View(texts[reason], inline([dialog_nav(_, draft, back=False)]))


def claim_unknown(_: Translator, serial: str, draft: Draft) -> View:
    return View(
        _("No product with serial number {serial} is in our registry. Check the nameplate and type it again, or press Cancel. If the number is right, report your problem with /new and mention it: the service department will look into it.", serial=serial),
        inline([dialog_nav(_, draft, back=False)]),
    )


def claim_result(_: Translator, outcome: registry.ClaimOutcome) -> str:
    product = _product(outcome.product)
    if outcome.result == registry.ALREADY_YOURS:
        return _("{product} is already registered to you. See /products.", product=product)
    if outcome.result == registry.ALREADY_PENDING:
        return _("Your claim for {product} is already waiting for a dispatcher. You will get a message when it is decided.", product=product)
    return _("📨 Your claim for {product} has been sent to the service department. You will get a message when a dispatcher has decided.", product=product)


def claim_throttled(_: Translator) -> str:
    return _("Too many unknown serial numbers in a short time. Please wait an hour and try again, or contact the service department.")


def claim_limit(_: Translator, limit: int) -> str:
    return _("You already have {limit} claims waiting for a dispatcher. Please wait until they are decided.", limit=limit)


# --- dispatchers: deciding a claim --------------------------------------------------------


def _claim_lines(_: Translator, card: registry.ClaimCard) -> list[str]:
    customer = card.claimant
    lines = [
        _("📦 <b>Product claim</b>"),
        _("Customer: {name}, {phone}", name=customer.name, phone=customer.phone),
    ]
    if customer.company:
        lines.append(_("Company / project: {value}", value=customer.company))
    lines.append(_("Product: {value}", value=_product(card.product)))
    if card.product.owner_name:
        lines.append(_("Customer/project in the registry: {value}", value=card.product.owner_name))
    return lines


def claim_for_dispatcher(_: Translator, card: registry.ClaimCard) -> View:
    lines = _claim_lines(_, card)
    if card.current_owner is not None:
        lines.append(_("⚠️ Now registered to another customer: {name}, {phone}", name=card.current_owner.name, phone=card.current_owner.phone))
    if card.other_pending:
        lines.append(_("⚠️ Other claims waiting for this product: {count}", count=card.other_pending))
    buttons = [button(_("✅ Confirm"), ClaimButton(card.claim.id, "confirm")), button(_("❌ Reject"), ClaimButton(card.claim.id, "reject"))]
    return View("\n".join(lines), inline([buttons]))


def claim_decided(_: Translator, card: registry.ClaimCard, decided_by: User | None) -> View:
    lines = _claim_lines(_, card)
    lines.append(_("Decision: {status} by {name}", status=_(CLAIM_STATUS_LABELS[card.claim.status]), name=_name(decided_by)))
    return View("\n".join(lines))


def already_decided(_: Translator, claim: ProductClaim, decided_by: User | None) -> str:
    return _("This claim is already decided ({status}) by {name}; nothing was changed.", status=_(CLAIM_STATUS_LABELS[claim.status]), name=_name(decided_by))


def claim_outcome_for_customer(_: Translator, card: registry.ClaimCard) -> str:
    product = _product(card.product)
    if card.claim.status == registry.CONFIRMED:
        return _("✅ {product} is now registered to you. You will find it under /products and when you report a problem with /new.", product=product)
    return _("Your claim for {product} was not confirmed. If you think this is a mistake, please contact the service department with /new.", product=product)


def ownership_moved_for_customer(_: Translator, product: Product) -> str:
    """To the customer a confirmed claim took the product from."""
    return _("{product} is no longer registered to you: the service department confirmed another owner. If this is a mistake, please tell us with /new.", product=_product(product))
