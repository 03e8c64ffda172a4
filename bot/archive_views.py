"""The archive dialog's messages and the archive workbook, in the reader's language.

The workbook is built with openpyxl into bytes: one sheet each for requests, visits, reports,
parts and costs (with a totals row). Times are local to the desk, money in CNY (yuan with fen).
Text typed by customers is always stored as text, never as a formula.
"""
from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bot.i18n import N_, Translator
from bot.keyboards import dialog_button, dialog_nav, inline
from bot.labels import FAULT_TYPE_LABELS, KIND_LABELS, STATUS_LABELS, WARRANTY_LABELS
from bot.services import archive as service
from bot.spreadsheet import append_row, sheet_title
from bot.telegram_text import shorten
from bot.views import View, request_description
from storage.models import Draft, User

MONEY_FORMAT = "#,##0.00"
TIME_FORMAT = "yyyy-mm-dd hh:mm"
REPORT_OUTCOME_LABELS = {
    "confirmed": N_("confirmed by the customer"),
    "disputed": N_("disputed by the customer"),
    "timeout": N_("closed by timeout"),
}


# --- the dialog -----------------------------------------------------------------------------


def not_allowed(_: Translator) -> str:
    return _("This command is for dispatchers and managers.")


def search_prompt(_: Translator, draft: Draft) -> View:
    return View(
        _("📁 <b>Service archive</b>\nType part of a customer's name, company or phone, or of a project name."),
        inline([dialog_nav(_, draft, back=False)]),
    )


def query_too_short(_: Translator, draft: Draft) -> View:
    return View(
        _("Please type at least {n} characters of a name, company, phone or project.", n=service.QUERY_MIN),
        inline([dialog_nav(_, draft, back=False)]),
    )


def search_result(_: Translator, draft: Draft, result: service.SearchResult) -> View:
    nav = inline([dialog_nav(_, draft, back=False)])
    if result.too_many:
        return View(_("Too many matches for “{query}”. Please be more specific.", query=result.query), nav)
    if not result.matches:
        return View(_("Nothing found for “{query}”. Try another part of the name or the phone number.", query=result.query), nav)
    rows = []
    for match in result.matches:
        icon = "👤" if match.kind == service.CUSTOMER else "🏗"
        label = shorten(f"{icon} {match.name}" + (f" · {match.detail}" if match.detail else ""), 60)
        rows.append([dialog_button(label, draft, match.kind, str(match.id))])
    rows.append(dialog_nav(_, draft, back=False))
    return View(_("Choose the customer (👤) or project (🏗) whose archive you want, or type another search."), inline(rows))


def preparing(_: Translator) -> str:
    return _("Preparing the archive…")


def caption(_: Translator, archive: service.Archive) -> str:
    return "\n".join([
        _("📁 Service archive: {name}", name=shorten(archive.title, 100)),
        _("Requests: {requests} · visits: {visits} · reports: {reports}", requests=len(archive.requests), visits=len(archive.visits), reports=len(archive.reports)),
        _("Confidential: customer data. Do not forward outside the company."),
    ])


# --- the workbook -----------------------------------------------------------------------------


def _local(_: Translator, moment: datetime | None) -> datetime | None:
    """Excel has no time zones: the desk's local time, without the zone."""
    return moment.astimezone(_.timezone).replace(tzinfo=None) if moment else None


def _yuan(minor: int | None) -> float | None:
    return None if minor is None else minor / 100


def _person(people: dict[int, User], user_id: int | None) -> str:
    person = people.get(user_id) if user_id else None
    return (person.full_name or person.first_name) if person else ""


def _add_sheet(book: Workbook, title: str, headers: Sequence[str], rows: list[list[object]], formats: dict[int, str]) -> None:
    sheet = book.create_sheet(sheet_title(title))
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        append_row(sheet, row)
        for cell in sheet[sheet.max_row]:
            if cell.column in formats:
                cell.number_format = formats[cell.column]
    sheet.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, min(40, len(header) + 4))


def workbook(_: Translator, archive: service.Archive) -> bytes:
    """The archive as an XLSX file."""
    book = Workbook()
    book.remove(book.active)
    number = {r.id: r.number for r in archive.requests}
    yes_no = {True: _("yes"), False: _("no"), None: ""}

    rows = []
    for request in archive.requests:
        product = archive.products.get(request.product_id) if request.product_id else None
        rows.append([
            request.number, _(KIND_LABELS[request.kind]) if request.kind in KIND_LABELS else request.kind,
            _(STATUS_LABELS[request.status]) if request.status in STATUS_LABELS else request.status,
            _local(_, request.created_at), _local(_, archive.closed_at.get(request.id)),
            product.model if product else "", product.serial if product else (request.serial_text or ""),
            _(WARRANTY_LABELS[request.warranty]) if request.warranty in WARRANTY_LABELS else "",
            _person(archive.people, request.assigned_engineer_id), request_description(_, request),
        ])
    _add_sheet(book, _("Requests"), [
        _("Request"), _("Type"), _("Status"), _("Created"), _("Closed"), _("Product model"), _("Serial number"),
        _("Warranty"), _("Engineer"), _("Description"),
    ], rows, {4: TIME_FORMAT, 5: TIME_FORMAT})

    rows = []
    for visit in archive.visits:
        location = f"{visit.latitude:.5f}, {visit.longitude:.5f}" if visit.latitude is not None and visit.longitude is not None else ""
        rows.append([number[visit.request_id], _person(archive.people, visit.engineer_id), _local(_, visit.planned_at), _local(_, visit.arrived_at), location])
    _add_sheet(book, _("Visits"), [_("Request"), _("Engineer"), _("Planned"), _("Arrived"), _("Location")], rows, {3: TIME_FORMAT, 4: TIME_FORMAT})

    rows = []
    for report in archive.reports:
        rows.append([
            number[report.request_id], _person(archive.people, report.engineer_id), report.symptom, report.cause, report.solution,
            report.labour_hours, report.travel_km, _yuan(report.travel_cost), report.customer_opinion,
            _(REPORT_OUTCOME_LABELS[report.outcome]) if report.outcome in REPORT_OUTCOME_LABELS else (report.outcome or ""),
            yes_no[report.certificate], _(FAULT_TYPE_LABELS[report.fault_type]) if report.fault_type in FAULT_TYPE_LABELS else "",
        ])
    _add_sheet(book, _("Reports"), [
        _("Request"), _("Engineer"), _("Fault symptom"), _("Fault cause"), _("Solution"), _("Labour hours"), _("Travel, km"),
        _("Travel cost, CNY"), _("Customer's opinion"), _("Outcome"), _("Acceptance certificate"), _("Fault type"),
    ], rows, {8: MONEY_FORMAT})

    rows = [[line.request.number, line.code or "", line.name, line.quantity, _yuan(line.unit_price), _yuan(line.cost)] for line in archive.parts]
    _add_sheet(book, _("Parts"), [_("Request"), _("Part code"), _("Part name"), _("Quantity"), _("Unit price, CNY"), _("Cost, CNY")],
               rows, {5: MONEY_FORMAT, 6: MONEY_FORMAT})

    costs = archive.costs()
    rows = [[c.request.number, _yuan(c.parts), c.labour_hours, _yuan(c.travel), _yuan(c.quotes_accepted)] for c in costs]
    rows.append([
        _("Total"), _yuan(sum(c.parts for c in costs)), sum(c.labour_hours for c in costs),
        _yuan(sum(c.travel for c in costs)), _yuan(sum(c.quotes_accepted for c in costs)),
    ])
    _add_sheet(book, _("Costs"), [_("Request"), _("Parts cost, CNY"), _("Labour hours"), _("Travel cost, CNY"), _("Accepted quotes, CNY")],
               rows, {2: MONEY_FORMAT, 4: MONEY_FORMAT, 5: MONEY_FORMAT})
    for cell in book.worksheets[-1][len(rows) + 1]:  # the totals row
        cell.font = Font(bold=True)

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
