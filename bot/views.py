"""What the bot shows: texts and their keyboards, rendered from plain data in the user's language.

Every string goes through the translator; user-typed values are escaped by it (see `bot.i18n`).
Tags never span a line break, so long texts can be split between lines (`bot.telegram_text`).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from bot.callbacks import ListPageButton, ProfileButton, QuoteButton, ReportAnswerButton, RequestButton
from bot.i18n import N_, Translator
from bot.keyboards import button, dialog_button, dialog_nav, inline, main_menu, share_keyboard
from bot.labels import CLOCK_LABELS, EVENT_LABELS, KIND_LABELS, STATUS_LABELS
from bot.services import confirmation, intake, requests, returns, users
from bot.services.errors import InvalidValue, LimitReached, TooLong, WrongInput
from bot.services.validation import ADDRESS_MAX, DESCRIPTION_MAX, MAX_PHOTOS, MAX_VOICES
from bot.telegram_text import shorten
from storage.models import Customer, Draft, Product, ServiceRequest, SlaClock

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | None
TIMELINE_SHOWN = 10


@dataclass(frozen=True)
class View:
    text: str
    markup: Markup = None

    def to_payload(self) -> dict[str, Any]:
        """As JSON for an outbox row; only inline keyboards travel (other keyboards belong to replies)."""
        if self.markup is not None and not isinstance(self.markup, InlineKeyboardMarkup):
            raise TypeError("a notification can carry only inline buttons")
        return {"text": self.text, "markup": self.markup.to_dict() if self.markup else None}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> View:
        markup = payload.get("markup")
        return cls(payload["text"], InlineKeyboardMarkup.de_json(markup, None) if markup else None)


# --- general ------------------------------------------------------------------------------


def greeting(_: Translator, name: str, *, staff: bool, roles: frozenset[str] = frozenset()) -> View:
    text = _("Hello, {name}! I am the after-sales service desk.", name=name or "👋")
    if staff and users.ROLE_DISPATCHER in roles:
        text += "\n" + _("New service requests from customers will arrive here.")
    elif staff:  # only dispatchers receive every new request
        text += "\n" + _("Your work arrives here; your commands are in the menu, and /help explains them.")
    else:
        text += "\n" + _("I can register a fault or a question about your equipment and keep you informed until it is solved.")
    return View(text, main_menu(_))


def help_text(_: Translator, *, staff: bool, roles: frozenset[str] = frozenset()) -> View:
    lines = [
        _("<b>What I can do</b>"),
        _("/new — report a fault, ask a question, request installation, maintenance, a return or file a complaint"),
        _("/my — your requests, their status and history; add comments or photos, or cancel a request"),
        _("/status SR-2026-000123 — open one request by its number"),
        _("/products — your registered products and their warranty; claim a product by its serial number"),
        _("/complain — complain about the service, an engineer or a product; the complaint supervisor answers in writing"),
        _("/language — change the language"),
        _("/cancel — stop what you are doing now"),
    ]
    if not staff:
        lines.insert(-2, _("/profile — your name, phone and company; engineers call the phone given here"))
    if staff and "dispatcher" in roles:
        lines.append(_("As a dispatcher you receive each new request here with its photos."))
        lines.append(_("/queue — requests waiting for an engineer: triage, log the contact, assign"))
    if staff and roles & users.OVERSEER_ROLES:
        lines.append(_("/overdue — requests past a deadline or close to one, most overdue first"))
    if staff and roles & users.MANAGER_ROLES:
        lines.append(_("/approvals — approvals waiting for your decision, oldest first"))
    if staff and roles & users.COST_READERS:
        lines.append(_("/report — the monthly report: costs, KPIs against targets, faults, engineers and regions, with a chart and an Excel workbook"))
    if staff and roles & (users.MANAGER_ROLES | {"dispatcher"}):
        lines.append(_("/archive — the service archive of a customer or project as an Excel file"))
    if staff and "complaint_supervisor" in roles:
        lines.append(_("/complaints — complaints waiting for an answer: investigate, record the cause and the corrective action, answer in writing"))
    elif staff and roles & {"service_manager", "general_manager"}:
        lines.append(_("/complaints — complaints waiting for an answer (read only)"))
    if staff and "admin" in roles:
        lines.append(_("/invite — a one-time link that gives a new colleague a staff role"))
        lines.append(_("/staff — staff members: change roles, deactivate"))
        lines.append(_("/import — load the product registry or the parts catalog from an XLSX or CSV file"))
        lines.append(_("/erase — erase a customer's personal data on their request (request numbers and statistics are kept)"))
    if staff and roles & (users.COST_READERS | {"warehouse", "admin"}):
        lines.append(_("/stock — spare parts in stock per warehouse, those below their safety level first"))
    if staff and roles & {"finance", "admin"}:
        lines.append(_("/price — change a spare part's catalog price (quotes already sent keep theirs)"))
    if staff and "warehouse" in roles:
        lines.append(_("/issue — approved parts requisitions to issue from a warehouse"))
    if staff and roles & returns.TRACKER_ROLES:
        lines.append(_("/returns — approved returns on their way back: received, inspected, refunded, exchanged or repaired"))
    if staff and "salesperson" in roles:
        lines.append(_("/sell — file a request for a customer; it reaches the service department once approved"))
    if staff and "engineer" in roles:
        lines.append(_("/jobs — your jobs: accept or decline, visits, arrival, parts and the closing report"))
    if staff and "technical_expert" in roles:
        lines.append(_("/cases — cases waiting for your cause analysis and repair plan"))
    if staff and roles & {"callback", "dispatcher"}:
        lines.append(_("/calls — follow-up calls to customers after closed jobs, due today and overdue"))
    if staff and roles & {"engineer", "technical_expert"}:
        lines.append(_("/duty — go on or off duty"))
        lines.append(_("/profile — your name, phone, region and skills (used to propose you for jobs)"))
    return View("\n".join(lines), main_menu(_))


def language_prompt(_: Translator) -> str:
    return _("Choose your language:")


def language_saved(_: Translator) -> View:
    return View(_("Language saved: English."), main_menu(_))


def main_menu_view(_: Translator, text: str) -> View:
    return View(text, main_menu(_))


# --- onboarding ---------------------------------------------------------------------------


def onboarding_prompt(_: Translator, draft: Draft, telegram_name: str) -> View:
    if draft.step == users.STEP_NAME:
        rows = [[dialog_button(_("Use “{name}”", name=shorten(telegram_name, 40)), draft, "use_tg_name")]] if telegram_name else []
        rows.append(dialog_nav(_, draft, back=False))
        return View(_("To register your requests I need a few details. What is your name?"), inline(rows))
    if draft.step == users.STEP_PHONE:
        share = KeyboardButton(_("📱 Share my phone number"), request_contact=True)
        return View(
            _("Thank you, {name}. What phone number can our engineers call? Press the button below to share it, or type it with the country code, e.g. +86 138 0013 8000.", name=draft.data.get("name", "")),
            share_keyboard(_, share, back=True),
        )
    rows = [[dialog_button(_("Skip"), draft, "skip")], dialog_nav(_, draft)]
    return View(_("Which company or project is the equipment for? Type its name, or press “Skip”."), inline(rows))


def customer_details(_: Translator, customer: Customer) -> View:
    """/profile for a customer: what staff see and call, each changeable on its own."""
    lines = [
        _("<b>Your details</b>"),
        _("Name: {value}", value=customer.name),
        _("Phone: {value}", value=customer.phone),
        _("Company or project: {value}", value=customer.company or "—"),
        _("Engineers call this number about your requests."),
    ]
    rows = [
        [button(_("✏️ Name"), ProfileButton(users.DETAIL_BUTTON + users.STEP_NAME)),
         button(_("✏️ Phone"), ProfileButton(users.DETAIL_BUTTON + users.STEP_PHONE))],
        [button(_("✏️ Company"), ProfileButton(users.DETAIL_BUTTON + users.STEP_COMPANY))],
    ]
    return View("\n".join(lines), inline(rows))


def detail_prompt(_: Translator, draft: Draft, customer: Customer) -> View:
    if draft.step == users.STEP_NAME:
        return View(_("Type your name as our staff should address you."), inline([dialog_nav(_, draft, back=False)]))
    if draft.step == users.STEP_PHONE:
        share = KeyboardButton(_("📱 Share my phone number"), request_contact=True)
        return View(_("Press the button below to share your phone number, or type it with the country code, e.g. +86 138 0013 8000."),
                    share_keyboard(_, share, back=False))
    rows = [[dialog_button(_("Remove the company"), draft, "remove")]] if customer.company else []
    rows.append(dialog_nav(_, draft, back=False))
    return View(_("Type the name of your company or project."), inline(rows))


def onboarding_done(_: Translator, name: str) -> View:
    return View(_("Thank you, {name}, you are registered. Report a problem any time with /new or the menu below.", name=name), main_menu(_))


# --- intake -------------------------------------------------------------------------------


def intake_prompt(_: Translator, draft: Draft, products: list[Product]) -> View:
    step = draft.step
    if step == intake.TYPE:
        kinds = [dialog_button(_(KIND_LABELS[k]), draft, "type", k) for k in requests.KINDS]
        rows = [kinds[i:i + 2] for i in range(0, len(kinds), 2)]
        return View(_("What do you need? Choose the type of request."), inline([*rows, dialog_nav(_, draft, back=False)]))
    if step == intake.PRODUCT:
        rows = [[dialog_button(shorten(f"{p.model} · {p.serial}", 60), draft, "product", str(p.id))] for p in products]
        rows.append([dialog_button(_("I don't know the serial number"), draft, "unknown")])
        rows.append(dialog_nav(_, draft))
        text = _("Which product is it about? Type the serial number from the nameplate.")
        if products:
            text += "\n" + _("Or choose one of your registered products:")
        return View(text, inline(rows))
    if step == intake.DESCRIPTION:
        text = _("Describe the problem: what happens, since when, any error codes shown. Up to {limit} characters. You may also send a photo or a voice message with a caption.", limit=DESCRIPTION_MAX)
        rows = [dialog_nav(_, draft)]
        if voices := len(draft.data.get("voices", [])):
            text += "\n" + _.ngettext("{n} voice message attached.", "{n} voice messages attached.", voices)
            rows.insert(0, [dialog_button(_("🗑 Remove voice messages"), draft, "clear_voices")])
        return View(text, inline(rows))
    if step == intake.PHOTOS:
        count = len(draft.data.get("photos", []))
        text = _("Send photos of the equipment, its nameplate and the fault, up to {limit}. Press “Done” when finished.", limit=MAX_PHOTOS)
        if count:
            text += "\n" + _.ngettext("{n} photo received.", "{n} photos received.", count)
        first = [dialog_button(_("✅ Done") if count else _("Skip, no photos"), draft, "done")]
        if count:
            first.append(dialog_button(_("🗑 Remove photos"), draft, "clear"))
        return View(text, inline([first, dialog_nav(_, draft)]))
    if step == intake.SITE:
        share = KeyboardButton(_("📍 Share location"), request_location=True)
        return View(
            _("Where is the equipment? Press “📍 Share location” below, or type the address (up to {limit} characters).", limit=ADDRESS_MAX),
            share_keyboard(_, share, back=True),
        )
    if step == intake.CONFIRM:
        rows = [
            [dialog_button(_("✅ Confirm and send"), draft, "confirm")],
            [dialog_button(_("✏️ Edit"), draft, "edit"), *dialog_nav(_, draft)],
        ]
        return View(draft_summary(_, draft) + "\n\n" + _("Is everything correct?"), inline(rows))
    # EDIT: choose which part to change
    labels = {
        intake.TYPE: _("Type"), intake.PRODUCT: _("Product"), intake.DESCRIPTION: _("Description"),
        intake.PHOTOS: _("Photos"), intake.SITE: _("Site"),
    }
    fields = [dialog_button(labels[f], draft, "field", f) for f in intake.EDITABLE]
    return View(_("What would you like to change?"), inline([fields[:3], fields[3:], dialog_nav(_, draft)]))


def _product_line(_: Translator, serial: str | None, model: str | None) -> str:
    if serial and model:
        return f"{model} · {serial}"
    return serial or _("unknown")


def _site_line(_: Translator, site: dict | None, address: str | None = None, lat: float | None = None, lon: float | None = None) -> str:
    if site is not None:
        address, lat, lon = site.get("address"), site.get("latitude"), site.get("longitude")
    if address:
        return address
    if lat is not None and lon is not None:
        return _("location shared ({lat}, {lon})", lat=f"{lat:.5f}", lon=f"{lon:.5f}")
    return _("not given")


def request_description(_: Translator, request: ServiceRequest) -> str:
    """What the customer wrote, as plain text; an unused return may come without a word (DESIGN:
    no reason needed), which is said in the reader's language."""
    return request.description or html.unescape(_("Unused and intact; no reason given."))


def request_site(_: Translator, request: ServiceRequest) -> str:
    """Where the work is, as the cards show it (an address, or a shared location)."""
    return _site_line(_, None, request.site_address, request.site_latitude, request.site_longitude)


def draft_summary(_: Translator, draft: Draft) -> str:
    data = draft.data
    kind_label = KIND_LABELS.get(data.get("kind", ""))
    lines = [
        _("<b>Your request</b>"),
        _("Type: {value}", value=_(kind_label) if kind_label else "—"),
        _("Product: {value}", value=_product_line(_, data.get("serial"), data.get("product_model"))),
        _("Description: {value}", value=data.get("description", "—")),
        _("Photos: {count}", count=len(data.get("photos", []))),
        _("Site: {value}", value=_site_line(_, data.get("site"))),
    ]
    if data.get("voices"):
        lines.append(_("Voice messages: {count}", count=len(data["voices"])))
    return "\n".join(lines)


def intake_resumed(_: Translator) -> str:
    return _("You have an unfinished request; let's continue where you stopped.")


def intake_cancelled(_: Translator) -> View:
    return View(_("Cancelled. Nothing was sent."), main_menu(_))


# Dialogs that record each answer as it comes: cancelling them keeps what was already sent.
RECORDED_AS_SENT = frozenset({requests.COMMENT_DIALOG, confirmation.SURVEY})


def dialog_cancelled(_: Translator, kind: str) -> View:
    """/cancel or ✖️ Cancel: true about what happens to what the person already sent."""
    if kind in RECORDED_AS_SENT:
        return View(_("Closed. What you already sent is kept."), main_menu(_))
    return intake_cancelled(_)


def notice(_: Translator, code: str, draft: Draft) -> str | None:
    if code == intake.PHOTO_KEPT_NEED_TEXT:
        return _("Photo saved. Now please describe the problem in words (or send the photo again with a caption).")
    if code == intake.VOICE_KEPT_NEED_TEXT:
        return _("Voice message saved. Please also describe the problem briefly in text, so the dispatcher can read it.")
    if code == intake.PHOTOS_CLEARED:
        return _("All photos removed.")
    if code == intake.VOICES_CLEARED:
        return _("Voice messages removed.")
    if code == intake.PHOTO_NOT_ADDED:
        return _.ngettext("Description saved, but not the photo: you have already added {n} photo, the maximum.",
                          "Description saved, but not the photo: you have already added {n} photos, the maximum.", MAX_PHOTOS)
    if code == intake.VOICE_NOT_ADDED:
        return _.ngettext("Description saved, but not the voice message: you have already added {n} voice message, the maximum.",
                          "Description saved, but not the voice message: you have already added {n} voice messages, the maximum.", MAX_VOICES)
    if code == intake.CAPTION_TOO_LONG:
        return _("Photo saved, but not its caption: with it the description would be longer than {max} characters. "
                 "You can change the description at the summary (✏️ Edit).", max=intake.DESCRIPTION_MAX)
    return None


def request_registered(_: Translator, request: ServiceRequest, promise: SlaClock | None) -> View:
    """The first promise is the request's first running clock the customer has a label for."""
    lines = [
        _("✅ Request <b>{number}</b> is registered.", number=request.number),
        _("What happens next: the service department reviews it and contacts you."),
    ]
    if promise is not None and promise.due_at is not None:
        lines.append(_("{label}: {time}", label=_(CLOCK_LABELS[promise.kind]), time=_.datetime(promise.due_at)))
    lines.append(_("Follow it any time with /my."))
    return View("\n".join(lines), main_menu(_))


# --- errors -------------------------------------------------------------------------------

_EXPECTED = {
    intake.TYPE: N_("Please choose the type of request with one of the buttons above."),
    intake.PRODUCT: N_("Please type the serial number as text, or use one of the buttons above."),
    intake.DESCRIPTION: N_("Please describe the problem in a text message (or a photo or voice message with a caption)."),
    intake.PHOTOS: N_("Please send a photo, or press “Done” to continue."),
    intake.SITE: N_("Please share the location with the button below, or type the address as text."),
    intake.CONFIRM: N_("Please use the buttons under the summary: Confirm, Edit or Cancel."),
    intake.EDIT: N_("Please choose with the buttons what you want to change."),
    users.STEP_NAME: N_("Please type your name as text."),
    users.STEP_PHONE: N_("Please share your phone number with the button below, or type it, e.g. +86 138 0013 8000."),
    users.STEP_COMPANY: N_("Please type the company or project name as text, or press “Skip”."),
    users.DETAIL_COMPANY: N_("Please type the company or project name as text."),
    requests.COMMENT_STEP: N_("Please send your comment as text or a photo, or press “Done”."),
    "note": N_("Please send the note as text, or press Cancel."),
    confirmation.SURVEY_COMMENT: N_("Please write your comment as text, or press “Skip”."),
}


_UNEXPECTED = N_("Please use the buttons or send text.")


def input_error(_: Translator, error: Exception) -> str:
    if isinstance(error, TooLong):
        return _.ngettext(
            "That is too long: at most {n} character, please shorten it.",
            "That is too long: at most {n} characters, please shorten it.",
            error.limit,
        )
    if isinstance(error, LimitReached) and error.what == "voices":
        return _.ngettext(
            "You have already added {n} voice message, the maximum. Please describe the rest in text.",
            "You have already added {n} voice messages, the maximum. Please describe the rest in text.",
            error.limit,
        )
    if isinstance(error, LimitReached) and error.what == intake.DESCRIPTION_PHOTOS:  # no “Done” at the description step
        return _.ngettext(
            "You have already added {n} photo, the maximum. Please describe the problem in a text message.",
            "You have already added {n} photos, the maximum. Please describe the problem in a text message.",
            error.limit,
        )
    if isinstance(error, LimitReached):
        return _.ngettext(
            "You have already added {n} photo, the maximum. Press “Done” to continue.",
            "You have already added {n} photos, the maximum. Press “Done” to continue.",
            error.limit,
        )
    if isinstance(error, InvalidValue):
        return {
            "phone": _("That does not look like a phone number. Type it with the country code, e.g. +86 138 0013 8000 (7 to 15 digits)."),
            "own_contact": _("Please share your own contact with the button below, or type your number."),
            "serial": _("A serial number has letters, digits and dashes, at least 3 characters. Check the nameplate, or press “I don't know the serial number”."),
        }.get(error.field, _("That value is not valid, please check it."))
    if isinstance(error, WrongInput):
        return _(_EXPECTED.get(error.expected, _UNEXPECTED))
    return _("That did not work, please try again.")


# --- status -------------------------------------------------------------------------------


def request_list(_: Translator, page: requests.RequestPage) -> View:
    if page.total == 0:
        return View(_("You have no requests yet. Report a problem with /new."), None)
    lines = [_("<b>Your requests</b> (page {page} of {pages})", page=page.page + 1, pages=page.pages)]
    rows = []
    for item in page.items:
        kind, status = _(KIND_LABELS[item.kind]), _(STATUS_LABELS[item.status])
        lines.append(_("{number} · {kind} · {status} · {date}", number=item.number, kind=kind, status=status, date=_.datetime(item.created_at)))
        rows.append([button(shorten(f"{item.number} · {kind} · {status}", 60), RequestButton(item.id, "open"))])
    nav = []
    if page.page > 0:
        nav.append(button(_("‹ Newer"), ListPageButton(page.page - 1)))
    if page.page < page.pages - 1:
        nav.append(button(_("Older ›"), ListPageButton(page.page + 1)))
    return View("\n".join(lines), inline([*rows, nav]))


def report_answer_row(_: Translator, request: ServiceRequest, report_mark: int) -> list:
    """Resolved / Not resolved for the report version `report_mark` (`confirmation.report_mark`)."""
    return [button(_("✅ Resolved"), ReportAnswerButton(request.id, "yes", report_mark)),
            button(_("❌ Not resolved"), ReportAnswerButton(request.id, "no", report_mark))]


def report_question(_: Translator, request: ServiceRequest, report_mark: int) -> View:
    """Said to a customer who writes to a request whose report waits for their answer: comments
    are closed until then, and "Not resolved" reopens it for what is still wrong."""
    return View(_("The engineer has reported request {number} as done. Is the problem solved? If not, press “❌ Not resolved”, "
                  "then tell us what is still wrong.", number=request.number),
                inline([report_answer_row(_, request, report_mark)]))


def request_card(_: Translator, card: requests.RequestCard, *, list_page: int = 0, report_mark: int | None = None) -> View:
    """`report_mark`: the request's report waits for the customer's answer, which the card takes too."""
    request = card.request
    lines = [
        _("<b>Request {number}</b>", number=request.number),
        _("Type: {value}", value=_(KIND_LABELS[request.kind])),
        _("Status: {value}", value=_(STATUS_LABELS[request.status])),
        _("Product: {value}", value=_product_line(_, request.serial_text, card.product.model if card.product else None)),
        _("Description: {value}", value=shorten(request_description(_, request), 500)),
        _("Site: {value}", value=request_site(_, request)),
        _("Photos: {count}", count=card.photo_count),
    ]
    if card.engineer is not None:
        lines.append(_("Engineer: {name}", name=card.engineer.full_name or card.engineer.first_name))
    if card.visit_at is not None:
        lines.append(_("Visit planned: {time}", time=_.datetime(card.visit_at)))
    for clock in card.clocks:
        if clock.kind in CLOCK_LABELS and clock.due_at is not None:
            lines.append(_("{label}: {time}", label=_(CLOCK_LABELS[clock.kind]), time=_.datetime(clock.due_at)))
    if card.quote is not None:
        lines.append(_("💰 A quote of {amount} waits for your answer: the work starts once you accept.", amount=_.money(card.quote.total_minor)))
    if report_mark is not None:
        lines.append(_("Is the problem solved?"))
    lines.append("")
    lines.append(_("<b>History</b>"))
    events = card.events[-TIMELINE_SHOWN:]
    if len(card.events) > len(events):
        lines.append(_("… {count} earlier entries", count=len(card.events) - len(events)))
    for event in events:
        label = _(EVENT_LABELS[event.action]) if event.action in EVENT_LABELS else event.action
        text = event.details.get("text")
        entry = _("{time} — {label}", time=_.datetime(event.created_at), label=label)
        lines.append(entry + (": " + html.escape(shorten(text, 200), quote=False) if text else ""))
    rows = []
    if card.quote is not None:  # answerable here too: the offer's own message may be long gone
        rows.append([button(_("✅ Accept the quote"), QuoteButton(card.quote.id, "accept", 1)),
                     button(_("❌ Decline"), QuoteButton(card.quote.id, "decline", 1))])
    if report_mark is not None:  # answerable here too: the report's own message may be long gone
        rows.append(report_answer_row(_, request, report_mark))
    if card.is_open:
        rows.append([button(_("💬 Add comment or photos"), RequestButton(request.id, "comment"))])
    if request.kind not in ("return", "complaint") and request.status not in (requests.CANCELLED, requests.AWAITING_APPROVAL):
        rows.append([button(_("↩️ Return or exchange"), RequestButton(request.id, "return"))])
    if request.kind != "complaint" and request.status != requests.AWAITING_APPROVAL:
        rows.append([button(_("📣 Complain"), RequestButton(request.id, "complain"))])
    if card.can_cancel:
        rows.append([button(_("✖️ Cancel this request"), RequestButton(request.id, "cancel"))])
    rows.append([button(_("‹ Back to my requests"), ListPageButton(list_page))])
    return View("\n".join(lines), inline(rows))


def cancel_question(_: Translator, request: ServiceRequest) -> View:
    return View(
        _("Cancel request {number}? The service department will stop working on it.", number=request.number),
        inline([[button(_("Yes, cancel it"), RequestButton(request.id, "cancel_yes")), button(_("No, keep it"), RequestButton(request.id, "open"))]]),
    )


def comment_prompt(_: Translator, request: ServiceRequest, draft: Draft) -> View:
    return View(
        _("Send your comment or photos for request {number}. Press “Done” when finished.", number=request.number),
        inline([[dialog_button(_("✅ Done"), draft, "done")]]),
    )


# --- staff notifications ------------------------------------------------------------------


def repeat_repair_line(_: Translator, earlier: ServiceRequest) -> str:
    """The same product was repaired recently: the staff see which request, to look at what was done."""
    return _("🔁 Repeat repair? The same product was repaired in {number} (closed {time}).", number=earlier.number, time=_.datetime(earlier.updated_at))


def new_request_for_staff(_: Translator, request: ServiceRequest, customer_name: str, phone: str, company: str | None, product_model: str | None,
                          *, photos: int = 0, voices: int = 0, earlier_repair: ServiceRequest | None = None) -> str:
    """The card staff get for a new request. It counts the photos and voice messages sent after it:
    Telegram may refuse one (e.g. a Premium user who forbids voice messages), and the card still says they exist."""
    lines = [
        _("🆕 <b>New request {number}</b>", number=request.number),
        _("Type: {value}", value=_(KIND_LABELS[request.kind])),
        _("Customer: {name}, {phone}", name=customer_name, phone=phone),
    ]
    if company:
        lines.append(_("Company / project: {value}", value=company))
    lines += [
        _("Product: {value}", value=_product_line(_, request.serial_text, product_model)),
        _("Description: {value}", value=request_description(_, request)),
        _("Site: {value}", value=request_site(_, request)),
    ]
    if photos:
        lines.append(_("Photos: {count}", count=photos))
    if voices:
        lines.append(_("Voice messages: {count}", count=voices))
    if earlier_repair is not None:
        lines.append(repeat_repair_line(_, earlier_repair))
    return "\n".join(lines)


AFTER_TIMEOUT, AFTER_CLOSE, AFTER_CANCEL = "after_timeout", "after_close", "after_cancel"  # kinds of `customer_update_for_staff`


def customer_update_for_staff(_: Translator, request: ServiceRequest, what: str, text: str | None = None) -> str:
    messages = {
        "comment": _("💬 The customer added a comment to {number}:", number=request.number),
        "photo_added": _("📷 The customer added a photo to {number}.", number=request.number),
        "cancelled": _("✖️ The customer cancelled request {number}.", number=request.number),
        # written in comment mode after the request was closed meanwhile (handlers/status.py)
        AFTER_TIMEOUT: _("💬 The customer wrote about {number}, closed as confirmed by timeout:", number=request.number),
        AFTER_CLOSE: _("💬 The customer wrote about {number}, already closed:", number=request.number),
        AFTER_CANCEL: _("💬 The customer wrote about {number}, already cancelled:", number=request.number),
    }
    body = messages[what]
    return body + ("\n" + html.escape(text, quote=False) if text else "")
