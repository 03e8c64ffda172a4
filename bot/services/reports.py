"""The closing report: a dialog that collects the DESIGN.md fields, their validation, and submitting.

The dialog is a `Draft` row like intake, so a restart mid-report loses nothing. The rules
(which fields are required for which job) live in `missing_fields`, a plain function.
A submitted report stays editable until the customer confirms it (or the timeout does).
"""
from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from bot.labels import FAULT_TYPE_LABELS
from bot.services import dialogs, jobs, quotes, requests, stock
from bot.services.errors import InvalidValue, LimitReached, NotAllowed, StaleAction, WrongInput
from bot.services.inputs import PhotoInput, TextInput, UserInput
from bot.services.validation import COMMENT_MAX, MAX_PHOTOS, clean_text, parse_quantity, typed_number
from storage.db import UnitOfWork
from storage.models import Attachment, Draft, JobReport, ReportPart, ServiceRequest, User

REPORT = "report"
SYMPTOM, CAUSE, FAULT_TYPE, SOLUTION, PARTS, PART_QTY, HOURS, TRAVEL_KM, TRAVEL_COST, PHOTOS, OPINION, CERTIFICATE, SUMMARY, EDIT = (
    "symptom", "cause", "fault_type", "solution", "parts", "part_qty", "hours", "travel_km", "travel_cost",
    "photos", "opinion", "certificate", "summary", "edit",
)
FAULT_TYPES = tuple(FAULT_TYPE_LABELS)  # the classification the monthly report counts
TEXT_FIELDS = (SYMPTOM, CAUSE, SOLUTION, OPINION)
REPORT_TEXT_MAX = COMMENT_MAX
PART_NAME_MAX = 200
MAX_PARTS = 20
MAX_HOURS = Decimal(200)
MAX_KM = Decimal(20000)
MAX_COST = Decimal(1_000_000)
PART_MATCHES_SHOWN = 6
REPORT_PHOTO = "report_photo"
_NUMBER = re.compile(r"^\d{1,7}([.,]\d{1,2})?$")


def steps_for(kind: str, by_phone: bool) -> tuple[str, ...]:
    """The report's steps for this job: travel and photos only on site, the certificate only for commissioning."""
    steps = [SYMPTOM, CAUSE, FAULT_TYPE, SOLUTION, PARTS, HOURS]
    if not by_phone:
        steps += [TRAVEL_KM, TRAVEL_COST, PHOTOS]
    steps.append(OPINION)
    if kind == "installation":
        steps.append(CERTIFICATE)
    return (*steps, SUMMARY)


def missing_fields(data: dict, kind: str) -> list[str]:
    """What keeps the report from being complete (DESIGN.md: cause, solution, parts, opinion…, and the
    fault type the monthly report counts)."""
    by_phone = bool(data.get("by_phone"))
    missing = [field for field in TEXT_FIELDS if not (data.get(field) or "").strip()]
    if data.get("fault_type") not in FAULT_TYPES:
        missing.append(FAULT_TYPE)
    if not data.get("parts") and not data.get("no_parts"):
        missing.append(PARTS)
    if data.get("hours") is None:
        missing.append(HOURS)
    if not by_phone:
        if data.get("travel_km") is None:
            missing.append(TRAVEL_KM)
        if data.get("travel_cost") is None:
            missing.append(TRAVEL_COST)
        if not data.get("photos"):
            missing.append(PHOTOS)
    if kind == "installation" and data.get("certificate") is None:
        missing.append(CERTIFICATE)
    return missing


def parse_amount(text: str, *, maximum: Decimal, allow_zero: bool, field: str) -> Decimal:
    """A number like `2`, `1.5` or `1,5` (decimal comma accepted), within (0 or more, maximum]."""
    value = typed_number(text).replace(" ", "")
    if not _NUMBER.match(value):
        raise InvalidValue(field)
    try:
        number = Decimal(value.replace(",", "."))
    except InvalidOperation:
        raise InvalidValue(field) from None
    if number > maximum or number < 0 or (number == 0 and not allow_zero):
        raise InvalidValue(field)
    return number


class VisitedOnSite(NotAllowed):
    """"Solved by phone" after the arrival on site: the visit happened, so its report is the
    on-site one (photos, travel), not one that leaves the trip out of the month's costs."""


class RequestNumberTyped(WrongInput):
    """A message that is only a request number: people type one to open that request, as outside
    a dialog, so it is never saved as this report's text (another job's number as its cause)."""

    def __init__(self, number: str) -> None:
        super().__init__("request_number")
        self.number = number


async def start(uow: UnitOfWork, engineer: User, request_id: int, by_phone: bool, now: datetime) -> Draft:
    """Open the report for a job in progress. On-site work needs this attempt's arrival recorded first; paid
    work, the customer's yes to its latest quote (or an approved waiver): a ruling or a new price
    can come after the arrival."""
    request = await jobs.own_job(uow, engineer, request_id)
    if not by_phone and not await jobs.on_site_this_attempt(uow, request):
        raise NotAllowed()  # after "not resolved", the first visit's arrival is not this one's
    if by_phone and await jobs.on_site_this_attempt(uow, request):
        raise VisitedOnSite()
    await quotes.require_cleared(uow, request)

    def same_report(data: dict) -> bool:  # this job's report, as started, not an edit of a sent one
        return data.get("request_id") == request.id and data.get("by_phone") == by_phone and not data.get("editing_report")

    current = await dialogs.current(uow, engineer.id)
    if current is not None and current.kind == REPORT and same_report(current.data):
        return current  # pressed again mid-report: go on, do not start it over empty
    resumed = await dialogs.resume_parked(uow, engineer.id, REPORT, now, same_report)
    if resumed is not None:  # kept aside when another button of the job card interrupted it
        return resumed
    data = {"request_id": request.id, "number": request.number, "kind": request.kind, "by_phone": by_phone, "parts": [], "photos": []}
    disputed = await uow.jobs.latest_report(request.id)  # kept, superseded, when the customer said "not resolved"
    if disputed is not None:  # reopened after "not resolved": start from what was written,
        # but with this attempt's own parts and photos: the month and the archive add up every
        # report's, and the earlier visit's photos stay with the request
        data |= _from_report(disputed, photos=[])
        data |= {"by_phone": by_phone, "parts": [], "no_parts": False}
    return await dialogs.begin(uow, engineer.id, REPORT, SYMPTOM, data, now)


async def edit(uow: UnitOfWork, engineer: User, request_id: int, now: datetime) -> Draft:
    """Reopen a submitted report at its summary, while the customer has not confirmed it."""
    request = await jobs.own_job(uow, engineer, request_id, (requests.RESOLVED,))
    report = await uow.jobs.report_of(request.id)
    if report is None or report.outcome is not None:
        raise NotAllowed()
    data = {"request_id": request.id, "number": request.number, "kind": request.kind, "editing_report": True}
    data |= _from_report(report, photos=await _attempt_photos(uow, request.id))
    return await dialogs.begin(uow, engineer.id, REPORT, SUMMARY, data, now)


async def _attempt_photos(uow: UnitOfWork, request_id: int) -> list[str]:
    """The report photos of this attempt: sent after the customer last said "not resolved" (an
    earlier attempt's stay with the request, its disputed report and the archive)."""
    disputed_at = max((r.superseded_at for r in await uow.jobs.reports_of(request_id) if r.superseded_at is not None), default=None)
    return [a.file_id for a in await uow.requests.attachments(request_id)
            if a.kind == REPORT_PHOTO and (disputed_at is None or a.created_at > disputed_at)]


def _from_report(report: JobReport, *, photos: list[str]) -> dict:
    return {
        "by_phone": report.by_phone, "symptom": report.symptom, "cause": report.cause, "solution": report.solution,
        "parts": [{"part_id": p.part_id, "name": p.name, "quantity": p.quantity, "unit_price": p.unit_price} for p in report.parts],
        "no_parts": not report.parts, "hours": str(report.labour_hours), "travel_km": str(report.travel_km),
        "travel_cost": str(Decimal(report.travel_cost) / 100), "photos": photos,
        "opinion": report.customer_opinion, "certificate": report.certificate, "fault_type": report.fault_type,
    }


def _next(draft: Draft, now: datetime, **changes: object) -> None:
    """The next step in order, or back to the summary when one field was being edited."""
    if draft.data.get("editing"):
        dialogs.move(draft, SUMMARY, now, editing=False, **changes)
        return
    data = {**draft.data, **changes}
    steps = steps_for(data["kind"], data["by_phone"])
    step = PARTS if draft.step == PART_QTY else draft.step
    dialogs.move(draft, steps[steps.index(step) + 1], now, **changes)


def previous_step(draft: Draft) -> str | None:
    if draft.step in (EDIT, PART_QTY) or draft.data.get("editing"):
        return PARTS if draft.step == PART_QTY else SUMMARY
    steps = steps_for(draft.data["kind"], draft.data["by_phone"])
    index = steps.index(draft.step)
    return steps[index - 1] if index > 0 else None


async def handle_input(uow: UnitOfWork, draft: Draft, message: UserInput, now: datetime) -> list:
    """Apply a message to the current step. Returns catalog matches when a part search needs a choice."""
    step = draft.step
    if isinstance(message, TextInput) and (number := requests.parse_number(message.text)) is not None:
        raise RequestNumberTyped(number)
    if step in TEXT_FIELDS and isinstance(message, TextInput):
        _next(draft, now, **{step: clean_text(message.text, limit=REPORT_TEXT_MAX, expected=step)})
        return []
    if step == PARTS and isinstance(message, TextInput):
        query = clean_text(message.text, limit=PART_NAME_MAX, expected=PARTS)
        if len(draft.data.get("parts", [])) >= MAX_PARTS:
            raise LimitReached(MAX_PARTS)
        matches = await uow.parts.search(query, PART_MATCHES_SHOWN)
        exact = [p for p in matches if p.code.upper() == query.upper()]
        if len(exact) == 1:
            dialogs.move(draft, PART_QTY, now, pending_part={"part_id": exact[0].id, "name": exact[0].name})
            return []
        dialogs.move(draft, PARTS, now, part_query=query)
        return matches
    if step == PART_QTY and isinstance(message, TextInput):
        quantity = parse_quantity(message.text)
        pending = draft.data.get("pending_part")
        if not pending:
            raise StaleAction()
        parts = [*draft.data.get("parts", []), {**pending, "quantity": quantity}]
        dialogs.move(draft, PARTS, now, parts=parts, pending_part=None, part_query=None, no_parts=False)
        return []
    if step == HOURS and isinstance(message, TextInput):
        _next(draft, now, hours=str(parse_amount(message.text, maximum=MAX_HOURS, allow_zero=False, field="hours")))
        return []
    if step == TRAVEL_KM and isinstance(message, TextInput):
        _next(draft, now, travel_km=str(parse_amount(message.text, maximum=MAX_KM, allow_zero=True, field="travel_km")))
        return []
    if step == TRAVEL_COST and isinstance(message, TextInput):
        _next(draft, now, travel_cost=str(parse_amount(message.text, maximum=MAX_COST, allow_zero=True, field="travel_cost")))
        return []
    if step == PHOTOS and isinstance(message, PhotoInput):
        photos = list(draft.data.get("photos", []))
        if len(photos) >= MAX_PHOTOS:
            raise LimitReached(MAX_PHOTOS)
        dialogs.move(draft, PHOTOS, now, photos=[*photos, message.file_id])
        return []
    raise WrongInput(f"report_{step}")


async def handle_button(uow: UnitOfWork, draft: Draft, action: str, value: str, now: datetime) -> None:
    step = draft.step
    if action == "back":
        target = previous_step(draft)
        if target is None:
            raise NotAllowed()
        # Back from a quantity returns to the parts list, still as an edit when it was one
        editing = bool(draft.data.get("editing")) and target != SUMMARY
        dialogs.move(draft, target, now, editing=editing, pending_part=None)
    elif step == PARTS and action == "part" and value.isdigit():
        part = await uow.jobs.part(int(value))
        if part is None:
            raise StaleAction()
        dialogs.move(draft, PART_QTY, now, pending_part={"part_id": part.id, "name": part.name})
    elif step == PARTS and action == "free" and draft.data.get("part_query"):
        dialogs.move(draft, PART_QTY, now, pending_part={"part_id": None, "name": draft.data["part_query"]})
    elif step == PARTS and action == "none" and not draft.data.get("parts"):
        _next(draft, now, no_parts=True)
    elif step == PARTS and action == "done" and draft.data.get("parts"):
        _next(draft, now)
    elif step == PARTS and action == "clear":
        dialogs.move(draft, PARTS, now, parts=[], no_parts=False, part_query=None)
    elif step == PARTS and action == "undo" and draft.data.get("parts"):
        dialogs.move(draft, PARTS, now, parts=draft.data["parts"][:-1], part_query=None)
    elif step == PHOTOS and action == "done":
        if not draft.data.get("photos"):
            raise InvalidValue("report_photo_required")
        _next(draft, now)
    elif step == FAULT_TYPE and action == "fault" and value in FAULT_TYPES:
        _next(draft, now, fault_type=value)
    elif step == CERTIFICATE and action == "certificate" and value in ("yes", "no"):
        _next(draft, now, certificate=value == "yes")
    elif step == SUMMARY and action == "edit":
        dialogs.move(draft, EDIT, now)
    elif step == EDIT and action == "field" and value in steps_for(draft.data["kind"], draft.data["by_phone"])[:-1]:
        dialogs.move(draft, value, now, editing=True)
    else:
        raise StaleAction()


async def submit(uow: UnitOfWork, engineer: User, draft: Draft, now: datetime) -> tuple[ServiceRequest, JobReport, bool]:
    """Store the report and mark the job resolved; returns (request, report, was_an_update).
    Paid work waits for the customer's yes to its latest quote (PaymentPending; the draft stays,
    to be sent once they accept): a quote can arrive while the report is being written. An edit
    of a report already sent is not held up."""
    data = draft.data
    if draft.step != SUMMARY:
        raise StaleAction()
    statuses = (requests.RESOLVED,) if data.get("editing_report") else (requests.IN_PROGRESS,)
    request = await jobs.own_job(uow, engineer, data["request_id"], statuses)
    if missing_fields(data, request.kind):
        raise InvalidValue("report_incomplete")
    if not data.get("editing_report"):
        await quotes.require_cleared(uow, request)
    # another attempt at this job's report kept aside (on site, say, before "Solved by phone") is
    # outdated now: after a dispute the report starts again from what was sent
    await dialogs.drop_parked(uow, engineer.id, REPORT, lambda kept: kept.get("request_id") == request.id)
    report = await uow.jobs.report_of(request.id)  # none after a dispute: the disputed one is kept, this is a new one
    updating = request.status == requests.RESOLVED  # an edit while the customer has not answered; after a dispute it is a new report
    if report is not None and report.outcome == "confirmed":
        raise NotAllowed()
    if report is None:
        report = await uow.jobs.add_report(JobReport(
            request_id=request.id, engineer_id=engineer.id, symptom="", cause="", solution="", labour_hours=0,
            customer_opinion="", submitted_at=now, updated_at=now, parts=[],
        ))
    _fill(report, data, engineer, now, await _catalog_prices(uow, data.get("parts", [])))
    stored = set(await _attempt_photos(uow, request.id))
    for file_id in data.get("photos", []):
        if file_id not in stored:
            await uow.requests.add_attachment(Attachment(request_id=request.id, kind=REPORT_PHOTO, file_id=file_id, added_by_user_id=engineer.id, created_at=now))
    before = request.status
    request.status, request.waiting_for = requests.RESOLVED, None
    # A report sent again after the customer's "not resolved" finishes the repeat repair as the
    # first report finished the job (it stops the clocks); only edits while it waits are updates.
    event = "report_submitted" if before == requests.IN_PROGRESS else "report_updated"
    await jobs.record(uow, request, engineer, event, now, before=before, after=request.status)
    await dialogs.end(uow, draft)
    return request, report, updating


async def _catalog_prices(uow: UnitOfWork, parts: list[dict]) -> dict[int, int | None]:
    """Today's catalog price of each catalog part on the report (fen; None: not priced)."""
    return {part_id: part.price for part_id, part in (await stock.parts_by_id(uow, [p["part_id"] for p in parts if p.get("part_id")])).items()}


def _fill(report: JobReport, data: dict, engineer: User, now: datetime, prices: dict[int, int | None]) -> None:
    by_phone = bool(data.get("by_phone"))
    report.engineer_id, report.by_phone = engineer.id, by_phone
    report.symptom, report.cause, report.solution = data["symptom"], data["cause"], data["solution"]
    report.customer_opinion = data["opinion"]
    report.labour_hours = float(Decimal(data["hours"]))
    report.travel_km = 0.0 if by_phone else float(Decimal(data["travel_km"]))
    report.travel_cost = 0 if by_phone else int(Decimal(data["travel_cost"]) * 100)
    report.certificate = data.get("certificate") if data["kind"] == "installation" else None
    report.fault_type = data["fault_type"]
    # A part kept from the report being edited keeps the price it was written with.
    report.parts = [ReportPart(part_id=p.get("part_id"), name=p["name"], quantity=p["quantity"],
                               unit_price=p["unit_price"] if p.get("unit_price") is not None else prices.get(p.get("part_id")))
                    for p in data.get("parts", [])]
    report.outcome, report.confirmed_at, report.updated_at = None, None, now
