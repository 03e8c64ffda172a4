"""What engineers see of their jobs (card, steps, the report dialog) and what the customer is told."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from telegram import KeyboardButton

from bot import stock_views
from bot.clock_views import clock_lines
from bot.callbacks import DispatchButton, JobButton, ReportAnswerButton, SurveyButton, VisitButton
from bot.i18n import N_, Html, Translator
from bot.keyboards import button, dialog_button, dialog_nav, inline, share_keyboard
from bot.escalation_views import expert_answer_lines
from bot.labels import FAULT_TYPE_LABELS, KIND_LABELS, PRIORITY_LABELS, REPORT_FIELD_LABELS, STATUS_LABELS, VISIT_STATE_LABELS
from bot.services import confirmation, jobs, quotes, reports, requests
from bot.services.errors import InvalidValue, LimitReached, WrongInput
from bot.services.jobs import JobCard
from bot.services.validation import MAX_QUANTITY
from bot.staff_views import display_name
from bot.telegram_text import shorten
from bot.views import View, input_error as common_input_error, repeat_repair_line, request_site
from storage.models import Draft, JobReport, Part, PartRequisition, ServiceRequest, User, Visit


def job_card(_: Translator, card: JobCard, now: datetime, *, requisitions: Sequence[PartRequisition] = (), parts: dict[int, Part] | None = None) -> View:
    """The engineer's job; `requisitions` (with their `parts`) adds the spare-parts lines and buttons."""
    request, customer, visit = card.request, card.customer, card.visit
    lines = [
        _("🛠 <b>Job {number}</b> · {kind} · {status}", number=request.number, kind=_(KIND_LABELS[request.kind]), status=_(STATUS_LABELS[request.status])),
        _("Customer: {name}, {phone}", name=customer.name, phone=customer.phone),
        _("Description: {value}", value=request.description),  # whole, with its lines: error codes are often at the end
        _("Site: {value}", value=request_site(_, request)),
        _("Priority: {value}", value=_(PRIORITY_LABELS[request.priority])),
    ]
    if visit is not None:
        lines.append(_visit_line(_, visit))
    if request.waiting_for == jobs.WAITING_PARTS:
        lines.append(_("⏸ Waiting for spare parts"))
    elif request.waiting_for == jobs.WAITING_CUSTOMER:
        lines.append(_("⏸ Waiting for the customer"))
    lines.extend(clock_lines(_, card.clocks, now))
    if request.repeat_repair:
        lines.append(_("🔁 Repeat repair: the customer said the problem was not solved"))
    if card.earlier_repair is not None:
        lines.append(repeat_repair_line(_, card.earlier_repair))
    if card.report is not None and card.report.outcome is None:
        lines.append(_("📝 Report sent {time}; waiting for the customer to confirm.", time=_.datetime(card.report.updated_at)))
    if card.expert_answer is not None:
        lines += expert_answer_lines(_, card.expert_answer)
    lines += stock_views.job_lines(_, list(requisitions), parts or {})
    rows = _job_buttons(_, card)
    rows[-1:-1] = stock_views.job_buttons(_, request, list(requisitions), can_request=request.status == requests.IN_PROGRESS)  # above Refresh
    return View("\n".join(lines), inline(rows))


def _visit_line(_: Translator, visit: Visit) -> str:
    state = _(VISIT_STATE_LABELS[visit.state])
    if visit.state == jobs.ARRIVED and visit.arrived_at:
        return _("Visit: {state}, {time}", state=state, time=_.datetime(visit.arrived_at))
    if visit.planned_at:
        return _("Visit: {time}, {state}", time=_.datetime(visit.planned_at), state=state)
    return _("Visit: {state}", state=state)


def _job_buttons(_: Translator, card: JobCard) -> list[list]:
    request = card.request
    rid = request.id
    rows: list[list] = []
    if request.status == requests.ASSIGNED:
        rows.append([button(_("✅ Accept"), JobButton(rid, "accept")), button(_("✖️ Decline"), JobButton(rid, "decline"))])
    elif request.status == requests.IN_PROGRESS:
        rows.append([button(_("📞 Log a call"), JobButton(rid, "call")), button(_("📅 Propose a visit"), JobButton(rid, "visit"))])
        rows.append([button(_("🚗 On my way"), JobButton(rid, "way")), button(_("📍 Arrived"), JobButton(rid, "arrived"))])
        if request.waiting_for:
            rows.append([button(_("▶️ Resume work"), JobButton(rid, "resume"))])
        else:
            rows.append([button(_("📦 Waiting for parts"), JobButton(rid, "parts")), button(_("⏸ Waiting for customer"), JobButton(rid, "customer"))])
        if request.warranty in quotes.PAID_WARRANTIES:
            rows.append([button(_("🧮 Quote"), JobButton(rid, "quote"))])
        if not card.on_site:  # after the arrival the report is the on-site one
            rows.append([button(_("☎️ Solved by phone"), JobButton(rid, "phone"))])
        rows.append([button(_("📝 Close with report"), JobButton(rid, "report"))])
    elif request.status == requests.RESOLVED and card.report is not None and card.report.outcome is None:
        rows.append([button(_("✏️ Edit report"), JobButton(rid, "edit"))])
    rows.append([button(_("🔄 Refresh"), JobButton(rid, "open"))])
    return rows


def jobs_list(_: Translator, items: list[ServiceRequest]) -> View:
    if not items:
        return View(_("You have no open jobs."))
    rows = [[button(shorten(f"{j.number} · {_(STATUS_LABELS[j.status])}", 60), JobButton(j.id, "open"))] for j in items]
    return View(_("<b>Your jobs</b> ({count})", count=len(items)), inline(rows))


# --- one-line notes and the visit time ---------------------------------------------------

NOTE_PROMPTS = {
    "call": N_("Log the call for job {number}: what did you agree with the customer?"),
    "parts": N_("Job {number} waits for parts: which parts, and when are they expected?"),
    "customer": N_("Job {number} waits for the customer: what are you waiting for? (The customer reads this.)"),
    "decline": N_("Why do you decline job {number}? The dispatcher will read your reason."),
}


def note_prompt(_: Translator, purpose: str, request: ServiceRequest, draft: Draft) -> View:
    return View(_(NOTE_PROMPTS[purpose], number=request.number), inline([dialog_nav(_, draft, back=False)]))


def visit_prompt(_: Translator, request: ServiceRequest, draft: Draft) -> View:
    quick = [
        dialog_button(_("Tomorrow 09:00"), draft, "quick", "d1_0900"),
        dialog_button(_("Tomorrow 14:00"), draft, "quick", "d1_1400"),
        dialog_button(_("In 2 days 09:00"), draft, "quick", "d2_0900"),
    ]
    text = _("When will you visit for job {number}? Choose below, or type a date and time, e.g. 2026-03-05 14:00 or 05.03 14:00.", number=request.number)
    return View(text, inline([quick, dialog_nav(_, draft, back=False)]))


def arrival_prompt(_: Translator, request: ServiceRequest) -> View:
    share = KeyboardButton(_("📍 Send my location"), request_location=True)
    return View(_("Share your location to record the arrival at job {number}.", number=request.number), share_keyboard(_, share, back=False))


# --- the closing report dialog -----------------------------------------------------------

_STEP_QUESTIONS = {
    reports.SYMPTOM: N_("What was the fault symptom?"),
    reports.CAUSE: N_("What caused the fault?"),
    reports.FAULT_TYPE: N_("Which type of fault was it? (For the monthly statistics.)"),
    reports.SOLUTION: N_("What did you do to solve it?"),
    reports.HOURS: N_("How many hours of labour did the job take? For example 2.5"),
    reports.TRAVEL_KM: N_("How many kilometres did you travel (there and back)? 0 if none."),
    reports.TRAVEL_COST: N_("What did the travel cost, in CNY (tickets, fuel, tolls)? 0 if nothing."),
    reports.OPINION: N_("What does the customer say about the result? Write their opinion in a sentence."),
    reports.CERTIFICATE: N_("Did the customer sign the commissioning acceptance certificate?"),
}


def report_prompt(_: Translator, draft: Draft, matches: list[Part] | None = None) -> View:
    data, step = draft.data, draft.step
    if step == reports.SUMMARY:
        return report_summary(_, draft)
    if step == reports.EDIT:
        fields = [s for s in reports.steps_for(data["kind"], data["by_phone"]) if s != reports.SUMMARY]
        buttons = [dialog_button(_(REPORT_FIELD_LABELS[f]), draft, "field", f) for f in fields]
        rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)] + [dialog_nav(_, draft)]
        return View(_("What do you want to change?"), inline(rows))
    steps = reports.steps_for(data["kind"], data["by_phone"])
    position = steps.index(reports.PARTS if step == reports.PART_QTY else step) + 1
    if data.get("number"):  # two jobs' reports may be in progress: say which one this is
        head = _("📝 Report for {number}, step {index} of {total}", number=data["number"], index=position, total=len(steps) - 1)
    else:  # a draft started before drafts kept the number
        head = _("📝 Report, step {index} of {total}", index=position, total=len(steps) - 1)
    rows: list[list] = []
    if step == reports.PARTS:
        body = _parts_question(_, data, matches or [])
        rows += [[dialog_button(shorten(f"{p.code} · {p.name}", 60), draft, "part", str(p.id))] for p in matches or []]
        if data.get("part_query"):
            rows.append([dialog_button(shorten(_("Use “{name}” as written", name=data["part_query"]), 60), draft, "free")])
        if data.get("parts"):
            rows.append([dialog_button(_("✅ Done with parts"), draft, "done")])
            rows.append([dialog_button(_("Remove the last part"), draft, "undo"), dialog_button(_("Clear the list"), draft, "clear")])
        else:
            rows.append([dialog_button(_("No parts were used"), draft, "none")])
    elif step == reports.PART_QTY:
        body = _("How many of “{name}”? Type a whole number from 1 to {max}.", name=data["pending_part"]["name"], max=MAX_QUANTITY)
    elif step == reports.PHOTOS:
        body = _.ngettext(
            "Send photos of the work on site (at least one). {n} photo so far. Press “Done” when finished.",
            "Send photos of the work on site (at least one). {n} photos so far. Press “Done” when finished.",
            len(data.get("photos", [])),
        )
        rows.append([dialog_button(_("✅ Done"), draft, "done")])
    elif step == reports.FAULT_TYPE:
        body = _(_STEP_QUESTIONS[step])
        rows += [[dialog_button(_(FAULT_TYPE_LABELS[key]), draft, "fault", key)] for key in reports.FAULT_TYPES]
    elif step == reports.CERTIFICATE:
        body = _(_STEP_QUESTIONS[step])
        rows.append([dialog_button(_("Yes, signed"), draft, "certificate", "yes"), dialog_button(_("No"), draft, "certificate", "no")])
    else:
        body = _(_STEP_QUESTIONS[step])
    rows.append(dialog_nav(_, draft, back=reports.previous_step(draft) is not None))
    return View(f"{head}\n{body}", inline(rows))


def _parts_question(_: Translator, data: dict, matches: list[Part]) -> str:
    lines = [_("Which spare parts did you use? Type a part code or name to search the catalog.")]
    if data.get("part_query") and not matches:
        lines.append(_("Nothing in the catalog matches “{query}”. Use it as written, or try another search.", query=data["part_query"]))
    elif matches:
        lines.append(_("Choose the part:"))
    if data.get("parts"):
        lines.append(_("So far:"))
        lines += [f"• {_parts_line(_, p)}" for p in data["parts"]]
    return "\n".join(lines)


def _parts_line(_: Translator, part: dict) -> str:
    return _("{name} × {quantity}", name=part["name"], quantity=part["quantity"])


def _report_lines(_: Translator, data: dict, *, for_customer: bool) -> list[str]:
    lines = [
        _("Fault symptom: {value}", value=data["symptom"]),
        _("Fault cause: {value}", value=data["cause"]),
        _("Solution: {value}", value=data["solution"]),
    ]
    parts = data.get("parts") or []
    lines.append(_("Parts used: {value}", value=Html(", ".join(_parts_line(_, p) for p in parts)) if parts else _("none")))
    if data.get("by_phone"):
        lines.append(_("Solved by phone guidance"))
    if for_customer:
        return lines
    fault_type = data.get("fault_type")
    lines.insert(2, _("Fault type: {value}", value=_(FAULT_TYPE_LABELS[fault_type]) if fault_type in FAULT_TYPE_LABELS else _("not chosen")))
    lines.append(_("Labour hours: {value}", value=data["hours"]))
    if not data.get("by_phone"):
        lines.append(_("Travel: {km} km, {cost}", km=data["travel_km"], cost=_.money(int(Decimal(data["travel_cost"]) * 100))))
        lines.append(_("Photos: {count}", count=len(data.get("photos", []))))
    lines.append(_("Customer's opinion: {value}", value=data["opinion"]))
    if data.get("certificate") is not None:
        lines.append(_("Acceptance certificate: {value}", value=_("signed") if data["certificate"] else _("not signed")))
    return lines


def report_summary(_: Translator, draft: Draft) -> View:
    title = (_("<b>Check the report for {number} before sending</b>", number=draft.data["number"]) if draft.data.get("number")
             else _("<b>Check the report before sending</b>"))
    lines = [title, *_report_lines(_, draft.data, for_customer=False)]
    rows = [
        [dialog_button(_("📤 Send the report"), draft, "submit")],
        [dialog_button(_("✏️ Change something"), draft, "edit"), dialog_button(_("✖️ Cancel"), draft, "cancel")],
    ]
    return View("\n".join(lines), inline(rows))


def report_data(report: JobReport) -> dict:
    return {
        "symptom": report.symptom, "cause": report.cause, "solution": report.solution, "by_phone": report.by_phone,
        "parts": [{"name": p.name, "quantity": p.quantity} for p in report.parts],
    }


def report_for_customer(_: Translator, request: ServiceRequest, report: JobReport, engineer: User, *, updated: bool) -> View:
    head = (_("📝 Engineer {name} updated the report on request {number}:", name=display_name(engineer), number=request.number) if updated
            else _("📝 Engineer {name} reports the work on request {number} as done:", name=display_name(engineer), number=request.number))
    lines = [head, *_report_lines(_, report_data(report), for_customer=True), "", _("Is the problem solved?")]
    seen = confirmation.report_mark(report)
    rows = [[button(_("✅ Resolved"), ReportAnswerButton(request.id, "yes", seen)), button(_("❌ Not resolved"), ReportAnswerButton(request.id, "no", seen))]]
    return View("\n".join(lines), inline(rows))


def input_error(_: Translator, error: Exception) -> str:
    """Report-dialog and job-step errors first; the rest as everywhere else."""
    if isinstance(error, reports.RequestNumberTyped):
        return _("{number} is a request number, so it is not saved in this report. To open that job, send /jobs and choose it: "
                 "this report stays where it is.", number=error.number)
    if isinstance(error, InvalidValue):
        text = {
            "hours": _("Please type the hours as a number greater than 0 and at most 200, e.g. 2.5"),
            "travel_km": _("Please type the distance in km as a number from 0 to 20000, e.g. 35"),
            "travel_cost": _("Please type the cost in CNY as a number from 0 to 1000000, e.g. 120.50"),
            "quantity": _("Please type the quantity as a whole number from 1 to 999."),
            "report_photo_required": _("On-site work needs at least one photo. Send a photo, then press “Done”."),
            "report_incomplete": _("The report is incomplete; please fill in every step."),
            "visit_time": _("I could not read that date and time. Type it like 2026-03-05 14:00 or 05.03 14:00."),
            "visit_in_past": _("That time has already passed. Choose a time in the future."),
            "visit_too_far": _("That is more than 60 days ahead. Choose an earlier time."),
            "location": _("That location is not valid; please share it again."),
        }.get(error.field)
        if text:
            return text
    if isinstance(error, LimitReached) and error.limit == reports.MAX_PARTS:
        return _("A report holds at most {max} parts. Press “Done with parts” to continue.", max=reports.MAX_PARTS)
    if isinstance(error, WrongInput) and error.expected.startswith("report_"):
        step = error.expected.removeprefix("report_")
        if step in (reports.CERTIFICATE, reports.FAULT_TYPE):
            return _("Please answer with the buttons above.")
        if step == reports.PHOTOS:
            return _("Please send a photo of the work, or press “Done”.")
        return _("Please answer this step with a text message.")
    if isinstance(error, WrongInput) and error.expected == "arrival":
        return _("Please share your location with the button below, or press Cancel.")
    if isinstance(error, WrongInput) and error.expected == "visit":
        return _("Please type a date and time, or choose one of the buttons above.")
    return common_input_error(_, error)


# --- what the customer and the dispatchers are told -------------------------------------


def visit_proposal(_: Translator, request: ServiceRequest, visit: Visit, engineer: User) -> View:
    text = _("📅 Engineer {name} proposes to visit you on {time} for request {number}. Does that suit you?",
             name=display_name(engineer), time=_.datetime(visit.planned_at), number=request.number)
    at = jobs.proposal_mark(visit)
    rows = [[button(_("✅ That suits me"), VisitButton(visit.id, "ok", at)), button(_("🕑 Suggest another time"), VisitButton(visit.id, "other", at))]]
    return View(text, inline(rows))


def counter_prompt(_: Translator, request: ServiceRequest, draft: Draft) -> View:
    return View(_("Which day and time would suit you for request {number}? Write it in your own words.", number=request.number), inline([dialog_nav(_, draft, back=False)]))


def survey_prompt(_: Translator, step: confirmation.SurveyStep) -> View:
    """One survey question; it names the request, since a customer may be rating two."""
    request = step.request

    def answer(label: str, value: str) -> object:
        return button(label, SurveyButton(request.id, step.step, value))

    if step.step == confirmation.STARS:
        stars = [answer("⭐" * n, str(n)) for n in range(1, 6)]
        return View(_("Thank you! How satisfied are you with the service on request {number}? 1 star: very unhappy, 5 stars: very happy.",
                      number=request.number), inline([stars[:3], stars[3:]]))
    if step.step == confirmation.ON_TIME:
        question = (_("Request {number}: was your problem solved on time?", number=request.number) if step.by_phone
                    else _("Request {number}: did the engineer come and finish on time?", number=request.number))
        return View(question, inline([[answer(_("Yes"), "yes"), answer(_("No"), "no")]]))
    return View(_("Request {number}: anything else you want to tell us? Write a comment, or press “Skip”.", number=request.number),
                inline([[answer(_("Skip"), "skip")]]))


def dispute_for_staff(_: Translator, request: ServiceRequest, *, dispatcher: bool) -> View:
    text = _("❗ The customer says request {number} is NOT resolved. It is reopened and flagged as a repeat repair.", number=request.number)
    if dispatcher and request.assigned_engineer_id is None:  # its engineer left meanwhile (bot/services/confirmation.py)
        text += "\n" + _("Its engineer no longer takes jobs: it is back in /queue and needs an engineer.")
    payload = DispatchButton(request.id, "open") if dispatcher else JobButton(request.id, "open")
    return View(text, inline([[button(_("Open"), payload)]]))


def engineer_changing(_: Translator, request: ServiceRequest, called_off: jobs.CalledOff | None = None) -> str:
    """To a customer told of an engineer who no longer has the job (declined, released, deactivated);
    `called_off`: the visit agreed (or being arranged) with that engineer, now off."""
    text = _("Your request {number} will get another engineer; we will tell you who.", number=request.number)
    if called_off is None:
        return text
    if called_off.time is not None:
        return text + "\n" + _("📅 The visit on {time} is off: the new engineer will propose a new time.", time=_.datetime(called_off.time))
    return text + "\n" + _("📅 The visit being arranged is off: the new engineer will propose a time.")


def job_over(_: Translator, request: ServiceRequest) -> View:
    return View(_("Job {number} is over ({status}): there is nothing more to do on it.",
                  number=request.number, status=_(STATUS_LABELS[request.status])))


def open_job_markup(_: Translator, request: ServiceRequest) -> object:
    return inline([[button(_("Open job {number}", number=request.number), JobButton(request.id, "open"))]])
