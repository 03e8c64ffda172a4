"""What complaints look like: the customer's dialog and messages, the supervisor's card, list and
prompts. The rules are in bot/services/complaints.py; typed text goes in through escaping placeholders."""
from __future__ import annotations

import html
from datetime import datetime

from bot.callbacks import ComplaintButton, ComplaintOfferButton
from bot.clock_views import clock_lines
from bot.i18n import Translator
from bot.keyboards import button, dialog_button, dialog_nav, inline
from bot.labels import COMPLAINT_SOURCE_LABELS, COMPLAINT_STATE_LABELS, COMPLAINT_SUBJECT_LABELS, KIND_LABELS, STATUS_LABELS
from bot.services import complaints
from bot.staff_views import display_name
from bot.telegram_text import shorten
from bot.views import View, main_menu_view
from storage.models import Complaint, Customer, Draft, ServiceRequest, User

NOTES_SHOWN = 10


def _request_line(_: Translator, request: ServiceRequest) -> str:
    return f"{request.number} · {_(KIND_LABELS[request.kind])} · {_(STATUS_LABELS[request.status])}"


def _subject(_: Translator, subject: str) -> str:
    return _(COMPLAINT_SUBJECT_LABELS[subject])


# --- the customer's dialog --------------------------------------------------------------------


def prompt(_: Translator, draft: Draft, *, recent: list[ServiceRequest] = (), about: ServiceRequest | None = None,
           for_customer: Customer | None = None) -> View:
    """The step the customer's complaint dialog is at (`for_customer`: a supervisor registering it for them)."""
    step, back = draft.step, complaints.previous_step(draft) is not None
    if step == complaints.ABOUT:
        rows = [[dialog_button(shorten(_request_line(_, r), 60), draft, "about", str(r.id))] for r in recent]
        rows.append([dialog_button(_("Not about a specific request"), draft, "about", complaints.NOT_SPECIFIC)])
        rows.append(dialog_nav(_, draft, back=back or draft.data.get("source") == complaints.INTAKE))
        return View(_("📣 What is your complaint about? Choose the request, or “Not about a specific request”."), inline(rows))
    if step == complaints.SUBJECT:
        labels = {
            complaints.SERVICE: _("🛎 The service"),
            complaints.ENGINEER: _("👷 The engineer"),
            complaints.PRODUCT: _("📦 The product"),
        }
        rows = [[dialog_button(labels[s], draft, "subject", s)] for s in complaints.subjects_for(about)]
        rows.append(dialog_nav(_, draft, back=back))
        text = _("📣 A complaint about request {number}. What is it about?", number=about.number) if about else _("📣 What is your complaint about?")
        if for_customer is not None:
            text = _("📣 Registering a complaint of {name} about request {number}. What is it about?", name=for_customer.name, number=about.number)
        return View(text, inline(rows))
    if step == complaints.DESCRIPTION and for_customer is not None:
        return View(
            _("Write the customer's complaint as they told it, in one message (up to {limit} characters). "
              "It is answered in writing.", limit=complaints.DESCRIPTION_LIMIT),
            inline([dialog_nav(_, draft, back=back)]),
        )
    if step == complaints.DESCRIPTION:
        return View(
            _("Please describe what went wrong, in one message (up to {limit} characters). The complaint supervisor reads it and answers you in writing.", limit=complaints.DESCRIPTION_LIMIT),
            inline([dialog_nav(_, draft, back=back)]),
        )
    if step == complaints.EDIT:
        labels = {complaints.ABOUT: _("Request"), complaints.SUBJECT: _("About whom or what"), complaints.DESCRIPTION: _("Description")}
        fields = [dialog_button(labels[f], draft, "field", f) for f in complaints.editable_fields(draft)]
        return View(_("What would you like to change?"), inline([fields, dialog_nav(_, draft)]))
    lines = [
        _("<b>Complaint of {name}</b>", name=for_customer.name) if for_customer is not None else _("<b>Your complaint</b>"),
        _("About: {value}", value=_request_line(_, about) if about else _("not about a specific request")),
        _("Concerning: {value}", value=_subject(_, draft.data["subject"])),
        _("Description: {value}", value=shorten(draft.data.get("description", ""), 1500)),
        "",
        _("Is everything correct?"),
    ]
    send = _("✅ Register the complaint") if for_customer is not None else _("✅ Send the complaint")
    rows = [[dialog_button(send, draft, "send")], [dialog_button(_("✏️ Edit"), draft, "edit"), *dialog_nav(_, draft)]]
    return View("\n".join(lines), inline(rows))


def reask_description(_: Translator, draft: Draft) -> View:
    return View(_("Please describe your complaint as text, or press Cancel."), inline([dialog_nav(_, draft, back=complaints.previous_step(draft) is not None)]))


def reask_buttons(_: Translator) -> str:
    return _("Please use the buttons above, or press Cancel.")


def resumed(_: Translator) -> str:
    return _("You have an unfinished complaint; let's continue where you stopped.")


def not_from_this_request(_: Translator) -> str:
    return _("A complaint cannot be filed from this request. Use /complain.")


def filed(_: Translator, request: ServiceRequest, due: datetime | None) -> View:
    lines = [
        _("📣 Your complaint <b>{number}</b> is registered.", number=request.number),
        _("The complaint supervisor investigates it and answers you in writing here."),
    ]
    if due is not None:
        lines.append(_("Written answer promised by: {time}", time=_.datetime(due)))
    lines.append(_("Follow it any time with /my."))
    return main_menu_view(_, "\n".join(lines))


def registered_for_customer(_: Translator, request: ServiceRequest, about: ServiceRequest | None, due: datetime | None) -> View:
    """To the customer, when a supervisor registered the complaint they phoned or wrote in: the
    same number and promise they would have got filing it themselves."""
    lines = [
        _("📣 Your complaint <b>{number}</b> is registered.", number=request.number),
        _("About: {value}", value=_request_line(_, about) if about else _("not about a specific request")),
        _("The complaint supervisor investigates it and answers you in writing here."),
    ]
    if due is not None:
        lines.append(_("Written answer promised by: {time}", time=_.datetime(due)))
    lines.append(_("Follow it any time with /my."))
    return View("\n".join(lines))


def offer(_: Translator, request: ServiceRequest) -> View:
    """After a low survey score: the customer may file a complaint about the request."""
    return View(
        _("We are sorry the service on {number} disappointed you. Would you like to file a complaint? The complaint supervisor investigates it and answers you in writing.", number=request.number),
        inline([[button(_("📣 File a complaint"), ComplaintOfferButton(request.id, "yes")), button(_("No, thanks"), ComplaintOfferButton(request.id, "no"))]]),
    )


def offer_declined(_: Translator) -> str:
    return _("All right. If you change your mind, open the request in /my and press “📣 Complain”.")


def answer_for_customer(_: Translator, complaint: Complaint, request: ServiceRequest) -> View:
    """The written answer, as the customer receives it."""
    lines = [
        _("📣 <b>Answer to your complaint {number}</b>", number=request.number),
        "",
        html.escape(complaint.answer or "", quote=False),
        "",
        _("The complaint is closed. If something is still wrong, reply with /complain."),
    ]
    return View("\n".join(lines))


# --- the supervisor's side --------------------------------------------------------------------


def _about_line(_: Translator, case: complaints.Case) -> str:
    if case.about is None:
        return _("About: not a specific request")
    engineer = display_name(case.about_engineer) if case.about_engineer else "—"
    return _("About: {number} · {kind} · engineer {name}", number=case.about.number, kind=_(KIND_LABELS[case.about.kind]), name=engineer)


def card(_: Translator, case: complaints.Case, now: datetime, note: str | None = None) -> View:
    complaint, request, customer = case.complaint, case.request, case.customer
    lines = [note] if note else []
    state = _(COMPLAINT_STATE_LABELS[complaint.state])
    if request.status == "cancelled":
        state = _("withdrawn by the customer")
    lines += [
        _("📣 <b>Complaint {number}</b> · {state}", number=request.number, state=state),
        _("Customer: {name}, {phone}", name=customer.name, phone=customer.phone),
        _about_line(_, case),
        _("Concerning: {value}", value=_subject(_, complaint.subject) + (f" ({display_name(case.engineer)})" if case.engineer else "")),
        _filed_line(_, case),
        _("Complaint: {text}", text=request.description),  # whole, with its lines: the supervisor answers all of it
    ]
    if case.supervisor is not None:
        lines.append(_("Taken by: {name}", name=display_name(case.supervisor)))
    if case.no_supervisor and not case.can_act and case.complaint.state != complaints.ANSWERED:
        lines.append(_("⚠️ Nobody is enrolled as complaint supervisor, so nobody can take or answer this complaint. "
                       "An admin adds one with /invite complaint_supervisor."))
    if case.own_work and case.complaint.state != complaints.ANSWERED:
        lines.append(own_work(_))
    elif case.only_concerned and not case.can_act and case.complaint.state != complaints.ANSWERED:
        lines.append(_("⚠️ The only complaint supervisors are the people this complaint is about, so nobody can take or answer it. "
                       "An admin adds another one with /invite complaint_supervisor."))
    if case.clock is not None:
        lines += clock_lines(_, [case.clock], now)
    if case.notes:
        lines.append(_("<b>Notes</b>"))
        if len(case.notes) > NOTES_SHOWN:
            lines.append(_("… {count} earlier notes", count=len(case.notes) - NOTES_SHOWN))
        for item, author in case.notes[-NOTES_SHOWN:]:
            lines.append(_("• {time}, {name}: {text}", time=_.datetime(item.created_at), name=display_name(author) if author else "—", text=shorten(item.text, 300)))
    if case.links:
        lines.append(_("Linked requests: {numbers}", numbers=", ".join(r.number for r in case.links)))
    if complaint.service_fault is not None:
        verdict = _("service fault") if complaint.service_fault else _("not a service fault")
        lines.append(_("Cause: {verdict}. {text}", verdict=verdict, text=shorten(complaint.cause_note or "", 500)))
    if complaint.corrective_action:
        lines.append(_("Corrective action: {text}", text=shorten(complaint.corrective_action, 500)))
    if complaint.answer:
        lines.append(_("Answer sent {time}: {text}", time=_.datetime(complaint.answered_at), text=shorten(complaint.answer, 1000)))
    return View("\n".join(lines), inline(_buttons(_, case)))


def _filed_line(_: Translator, case: complaints.Case) -> str:
    time = _.datetime(case.complaint.created_at)
    if case.complaint.source == complaints.STAFF:  # phoned or written in: who took it down
        name = display_name(case.registered_by) if case.registered_by else "—"
        return _("Filed: {time}, registered by {name} for the customer", time=time, name=name)
    return _("Filed: {time}, {source}", time=time, source=_(COMPLAINT_SOURCE_LABELS[case.complaint.source]))


def _buttons(_: Translator, case: complaints.Case) -> list[list]:
    complaint, rows = case.complaint, []
    withdrawn = case.request.status == "cancelled"
    if case.can_act and not withdrawn and complaint.state == complaints.OPEN:
        rows.append([button(_("🙋 Take it"), ComplaintButton(complaint.id, "take"))])
    if case.can_act and not withdrawn and complaint.state == complaints.INVESTIGATING:
        rows += [
            [button(_("📝 Add note"), ComplaintButton(complaint.id, "note")), button(_("🔗 Link request"), ComplaintButton(complaint.id, "link"))],
            [button(_("❗ Cause: service fault"), ComplaintButton(complaint.id, "fault")),
             button(_("➖ Cause: not service fault"), ComplaintButton(complaint.id, "nofault"))],
            [button(_("🛠 Corrective action"), ComplaintButton(complaint.id, "action")), button(_("✍️ Write answer"), ComplaintButton(complaint.id, "answer"))],
        ]
    rows.append([button(_("🔄 Refresh"), ComplaintButton(complaint.id, "open")), button(_("‹ All complaints"), ComplaintButton(0, "list"))])
    return rows


def registered_note(_: Translator, request: ServiceRequest, customer: Customer, reachable: bool) -> str:
    """Above the card, for the supervisor who registered a complaint for a customer."""
    note = _("✅ Complaint {number} is registered for {name}.", number=request.number, name=customer.name)
    if not reachable:
        note += "\n" + _("{name} cannot be reached on this bot: the written answer must go to them by phone or in writing.", name=customer.name)
    return note


def registration_refused(_: Translator, number: str) -> str:
    """/complaint SR-… (or the number sent when asked) about a request that cannot be complained
    about. A missing or unknown number is asked for again: `registration_number_prompt`."""
    return _("A complaint cannot be registered about {number}: it is a complaint itself, or not yet accepted by the service.", number=number)


def registration_number_prompt(_: Translator, draft: Draft, error: Exception | None = None) -> View:
    """/complaint without a usable number: the supervisor sends the number on its own (or cancels)."""
    if isinstance(error, complaints.UnknownRequest):
        text = _("There is no request {number}. Check the number and send it again, or press Cancel.", number=error.number)
    elif isinstance(error, complaints.NotComplainable):
        text = registration_refused(_, error.number)
    else:
        text = _("Send the number of the request the complaint is about, e.g. SR-2026-000123, or press Cancel.")
    return View(text, inline([dialog_nav(_, draft, back=False)]))


def registration_stopped(_: Translator) -> str:
    """A supervisor registering a complaint for a customer lost the role (or left) meanwhile."""
    return _("Only a complaint supervisor can register a complaint for a customer; nothing was registered.")


def new_complaint_note(_: Translator) -> str:
    return _("🆕 A new complaint has arrived.")


def list_view(_: Translator, waiting: complaints.OpenList, now: datetime) -> View:
    if not waiting.items:
        return View(_("No complaint is waiting for an answer. 👍"))
    lines = [_("<b>Complaints waiting for an answer</b>: {count}, {overdue} overdue (oldest first)", count=waiting.total, overdue=waiting.overdue)]
    if waiting.total > len(waiting.items):
        lines.append(_("The oldest {shown} are shown; answer them and the next ones appear here.", shown=len(waiting.items)))
    rows = []
    for item in waiting.items:
        due = _.datetime(item.due_at) if item.due_at else "—"
        lines.append(_("{mark} {number} · {state} · answer due {due}", mark="🔴" if item.overdue else "🟡", number=item.request.number,
                       state=_(COMPLAINT_STATE_LABELS[item.complaint.state]), due=due))
        lines.append("    " + html.escape(shorten(item.request.description, 80), quote=False))
        rows.append([button(shorten(f"{'🔴 ' if item.overdue else ''}{item.request.number} · {item.request.description}", 60), ComplaintButton(item.complaint.id, "open"))])
    return View("\n".join(lines), inline(rows))


def work_prompt(_: Translator, draft: Draft, request: ServiceRequest) -> View:
    """Ask the supervisor for the text the step needs."""
    number = request.number
    texts = {
        complaints.NOTE: _("📝 Write the investigation note for complaint {number}.", number=number),
        complaints.LINK: _("🔗 Send the number of the request to link to complaint {number}, e.g. SR-2026-000123.", number=number),
        complaints.ACTION: _("🛠 Write the corrective action for complaint {number}.", number=number),
        complaints.ANSWER: _("✍️ Write the answer to the customer for complaint {number} (up to {limit} characters). You will see it before it is sent.", number=number, limit=complaints.ANSWER_LIMIT),
    }
    if draft.step == complaints.CAUSE:
        text = (_("❗ Service fault: in a few words, what was the cause (complaint {number})?", number=number) if draft.data.get("service_fault")
                else _("➖ Not a service fault: in a few words, why (complaint {number})?", number=number))
    else:
        text = texts[draft.step]
    if draft.step == complaints.ANSWER and draft.data.get("answer"):  # rewriting, or back to it after another dialog
        text += "\n\n" + _("Your text so far:") + "\n" + html.escape(draft.data["answer"], quote=False)
    return View(text, inline([dialog_nav(_, draft, back=False)]))


def preview(_: Translator, draft: Draft, request: ServiceRequest) -> View:
    lines = [
        _("<b>Preview</b>: the customer of {number} will receive:", number=request.number),
        "",
        html.escape(draft.data.get("answer", ""), quote=False),
    ]
    rows = [[dialog_button(_("📤 Send to the customer"), draft, "send")], [dialog_button(_("✏️ Rewrite"), draft, "rewrite"), *dialog_nav(_, draft, back=False)]]
    return View("\n".join(lines), inline(rows))


def use_preview_buttons(_: Translator) -> str:
    return _("Please use the buttons under the preview: Send, Rewrite or Cancel.")


def reask_text(_: Translator) -> str:
    return _("Please send it as text, or press Cancel.")


def recorded(_: Translator, what: str, actor: User) -> str:
    return {
        "take": _("Taken by {name}: the investigation has started.", name=display_name(actor)),
        "note": _("Note added by {name}.", name=display_name(actor)),
        "link": _("Request linked by {name}.", name=display_name(actor)),
        "cause": _("Cause recorded by {name}.", name=display_name(actor)),
        "action": _("Corrective action recorded by {name}.", name=display_name(actor)),
        "answer": _("✅ Answer sent to the customer by {name}. The complaint is closed.", name=display_name(actor)),
        "queued": _("✅ Answer recorded by {name}; the customer receives it when their quiet hours end. The complaint is closed.", name=display_name(actor)),
        "unreached": _("Answer recorded by {name}, but the customer cannot be reached on this bot (blocked it or never used it): "
                       "please give them the answer by phone or in writing. The complaint is closed.", name=display_name(actor)),
    }[what]


def already_taken(_: Translator, complaint: Complaint, taker: User | None) -> str:
    if complaint.state == complaints.ANSWERED:
        return _("This complaint is already answered; nothing was changed.")
    return _("{name} has already taken this complaint; nothing was changed.", name=display_name(taker) if taker else "—")


def own_work(_: Translator) -> str:
    return _("This complaint is about your own work, so another supervisor handles it.")


def not_taken(_: Translator) -> str:
    return _("Press “Take it” first: the investigation has not started.")


def withdrawn(_: Translator) -> str:
    return _("The customer has withdrawn this complaint; nothing was changed.")


def answered_already(_: Translator) -> str:
    return _("This complaint is already answered; nothing was changed.")


def answer_not_ready(_: Translator, missing: tuple[str, ...]) -> str:
    if len(missing) > 1:
        return _("Record the cause and the corrective action before writing the answer.")
    if missing == ("cause",):
        return _("Record the cause (service fault or not) before writing the answer.")
    return _("Record the corrective action before writing the answer.")


def link_refused(_: Translator, error: Exception) -> str:
    if isinstance(error, complaints.UnknownRequest):
        return _("There is no other request {number}. Check the number and send it again, or press Cancel.", number=error.number)
    if isinstance(error, complaints.AlreadyLinked):
        return _("{number} is already linked to this complaint. Send another number, or press Cancel.", number=error.number)
    return _("That is not a request number. Send it like SR-2026-000123, or press Cancel.")
