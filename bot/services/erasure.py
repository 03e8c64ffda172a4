"""Personal-data erasure for a customer, on their request (admins only).

What identifies or was written by the customer is replaced with a fixed marker: their name,
phone and company, the linked Telegram user's names, username, phone and Telegram id, site
addresses and coordinates, request descriptions, their comments in the timeline, survey comments,
complaint texts and the answers to them, follow-up feedback, their opinion in closing reports,
their counter-proposals for visits, the description a salesperson filed for them (copied into the
approval's reason), their open dialog and the file ids of what they sent. Staff texts on their
requests are replaced only where they mention the customer (name, phone, company, address); a phone
counts in any spelling that holds its last 8 digits, a name from 3 characters (2 in CJK scripts).
Coordinates anywhere in their timeline are cleared. Audit rows the customer caused keep their
action and time but get the placeholder id and lose what was typed. Open dialogs of staff about
their requests stay open (the staff member's work is kept) but lose the customer's words and the
texts that mention them; a salesperson's unsent /sell form for their phone goes. Messages still
waiting in the outbox are not delivered to the customer's account any more, nothing new is queued
to it (it is unreachable), and waiting messages to anybody else lose the text that mentions them
and the customer's files.

Admins erase from the shell (bot/ops/erase_cli.py) or with /erase in the chat, a dialog whose
state is a `drafts` row: the reference asked, then a card naming the customer to confirm. A phone
may belong to several customer records (a salesperson filed one before its owner registered typing
it; or people share an office phone): the admin sees them all and erases them together, or one by
its request number, never some of them silently.

Rows, request numbers, kinds, statuses, dates, costs, stars, parts and clocks stay, so every
statistic and report counts the same before and after. Erasing again is harmless and useful: it
replaces only what staff recorded since in the customer's own fields (an engineer typing their
opinion into a report after the erasure) and, with nothing new, changes nothing but writes its own
audit row, as every call does.
"""
from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.services import dialogs, notices
from bot.services.errors import InvalidValue, NotAllowed, NotFound
from bot.services.requests import CANCELLED, CLOSED
from bot.services.sales import SALES_DIALOG
from bot.services.users import DETAILS_CHANGED_AUDIT, ROLE_ADMIN, STAFF_ROLES
from bot.services.validation import clean_text, normalize_phone
from storage.db import UnitOfWork
from storage.models import (
    Approval,
    ApprovalAction,
    Assignment,
    Attachment,
    AuditEntry,
    Complaint,
    ComplaintNote,
    Customer,
    Draft,
    Escalation,
    FollowUpCall,
    JobReport,
    OutboxMessage,
    ParkedDraft,
    PartRequisition,
    Product,
    Project,
    RequestEvent,
    ReturnCase,
    Survey,
    User,
    Visit,
)

ERASED = "[erased]"
AUDIT_ACTION = "customer_erased"
# Timeline detail keys that hold what somebody typed.
FREE_TEXT_KEYS = frozenset({"text", "note", "comment", "reason", "question", "answer", "feedback", "description", "address"})
# Keys of a place (the customer's site, wherever it is written): cleared in every timeline entry.
COORDINATE_KEYS = frozenset({"latitude", "longitude", "lat", "lon", "lng"})
# Keys of a staff dialog about the customer's request that hold the customer's words (the report's
# opinion, the complaint's answer, a follow-up's feedback): replaced whatever they say.
DRAFT_CUSTOMER_KEYS = frozenset({"opinion", "answer", "feedback"})
# A complaint a supervisor registers for the customer (bot/services/complaints.py, /complaint): its
# description is the customer's own account, phoned or written in.
REGISTERED_FOR_CUSTOMER = ("complaint", "staff")  # (dialog kind, its data's "source")
# Audit detail keys whose values the bot chose (codes, not typed): kept in the customer's audit rows.
AUDIT_CODE_KEYS = frozenset({"action", "state", "status", "reason", "field", "kind", "role"})
MIN_IDENTIFIER = 3  # shorter names would match inside ordinary words
MIN_CJK_IDENTIFIER = 2  # most Chinese names have two or three characters, and a character is a syllable
MIN_PHONE_DIGITS = 7
NATIONAL_DIGITS = 8  # a longer phone also counts when its last 8 digits are written (without the country code)
_DIGITS = re.compile(r"\D")
# Digits with the separators people write phone numbers with ("138 1234 5678", "(0)138-1234.5678").
_PHONE_RUN = re.compile(r"\d(?:[ \t\u00a0\u3000().\-]*\d)*")
# Han (with radicals, symbols, kana and extensions), Hangul syllables and jamo, compatibility ideographs.
_CJK = ((0x1100, 0x11FF), (0x2E80, 0x9FFF), (0xA960, 0xA97F), (0xAC00, 0xD7FF), (0xF900, 0xFAFF), (0xFF66, 0xFF9F), (0x20000, 0x3FFFF))
SALES_APPROVAL = "sales_request"  # bot/services/sales.py: its reason is the description filed for the customer
OUTBOX_FAILURE = "erased"  # why a waiting message to the erased account was never sent

# The /erase dialog: the admin types a phone or request number, then confirms on a card.
DIALOG = "erase"
ASK, CONFIRM = "reference", "confirm"
ALL = "all"  # the Erase button of a card listing several records: every record it lists
REFERENCE_MAX = 64


@dataclass(frozen=True)
class ErasureResult:
    customer_id: int
    already_erased: bool
    requests: int  # requests of the customer (kept, with their numbers)
    fields: int  # values replaced by this call (erased before: only what was recorded since)


def _require_admin(actor: User) -> None:
    if not (actor.is_active and ROLE_ADMIN in actor.role_names):
        raise NotAllowed("erase")


async def erase_customer(uow: UnitOfWork, actor: User, customer_id: int, now: datetime) -> ErasureResult:
    """Erase one customer record's personal data; the caller commits. Raises NotAllowed, NotFound."""
    [result] = await erase_customers(uow, actor, [customer_id], now)
    return result


async def erase_customers(uow: UnitOfWork, actor: User, customer_ids: Sequence[int], now: datetime) -> list[ErasureResult]:
    """Erase these customer records together (one person's twice filed, or all that share a phone,
    as the admin decided): the names, phones and companies of all count in the staff texts of each,
    and each gets its own audit row. A record erased before is scrubbed again: what staff recorded
    since in the fields that are always the customer's (an opinion typed into a report) is replaced.
    An unknown id or a staff account among them refuses them all before anything changes; the
    caller commits. Raises NotAllowed, NotFound."""
    _require_admin(actor)
    records = []
    for customer_id in customer_ids:
        customer = await uow.personal_data.customer_for_update(customer_id)
        if customer is None:
            raise NotFound("customer")
        user = await _account_of(uow, customer)
        records.append((customer, user, await uow.personal_data.requests_of(customer.id)))
    words: set[str] = set()
    phones: set[str] = set()
    for customer, user, requests in records:  # all read before any is erased
        record_words, record_phones = _identifiers(customer, user, requests, await _earlier_details(uow, user))
        words.update(record_words)
        phones.update(record_phones)
    identifiers = (sorted(words), sorted(phones))
    return [await _erase_record(uow, actor, identifiers, *record, now) for record in records]


async def _erase_record(uow: UnitOfWork, actor: User, identifiers: tuple[list[str], list[str]],
                        customer: Customer, user: User | None, requests: list[Any], now: datetime) -> ErasureResult:
    """One record: every pass is idempotent, so a record erased before only loses what is new."""
    telegram_id = user.telegram_id if user is not None and user.telegram_id > 0 else None  # before it is unlinked
    eraser = _Eraser(identifiers)
    references = await _erase_rows(uow, eraser, customer, user, requests)
    await _erase_staff_drafts(uow, eraser, user, references)
    if user is not None and telegram_id is not None:
        await _erase_audit(uow, eraser, telegram_id, user.telegram_id)
    await _erase_outbox(uow, eraser, user, now)
    result = ErasureResult(customer.id, customer.erased_at is not None, len(requests), eraser.count)
    if customer.erased_at is None:
        customer.erased_at = now  # the first erasure's time stays
    await uow.audit.add(AuditEntry(
        actor_telegram_id=actor.telegram_id, action=AUDIT_ACTION, created_at=now,
        details={"customer_id": customer.id, "already_erased": result.already_erased, "requests": result.requests, "fields": result.fields},
    ))
    return result


async def find_customers(uow: UnitOfWork, reference: str) -> list[Customer]:
    """The customer records a request number (SR-…: its customer) or a phone number (every record
    with it, the oldest first) names, as an admin types it. Raises NotFound."""
    reference = reference.strip()
    if reference.upper().startswith("SR-"):
        request = await uow.requests.by_number(reference.upper())
        customer = await uow.customers.get(request.customer_id) if request else None
        found = [customer] if customer is not None else []
    else:
        found = await _with_phone(uow, reference)
    if not found:
        raise NotFound("customer")
    return found


async def _with_phone(uow: UnitOfWork, phone: str) -> list[Customer]:
    """Every customer record with this phone in either spelling (none for what is no phone, such as
    the marker of an erased one)."""
    try:
        phone = normalize_phone(phone)
    except InvalidValue:
        return []
    # Telegram shares contacts without the "+" and people type it with one: either spelling finds them.
    other = phone[1:] if phone.startswith("+") else "+" + phone
    return await uow.personal_data.customers_with_phone([phone, other])


async def same_phone_elsewhere(uow: UnitOfWork, customer: Customer) -> list[Customer]:
    """The other customer records with this customer's phone (erasing one leaves them)."""
    return [other for other in await _with_phone(uow, customer.phone) if other.id != customer.id]


async def _account_of(uow: UnitOfWork, customer: Customer) -> User | None:
    """The customer's Telegram user; NotAllowed("staff") when it is a staff member's account."""
    user = await uow.users.get(customer.user_id) if customer.user_id else None
    if user is not None and user.role_names & STAFF_ROLES:
        raise NotAllowed("staff")  # a staff member's account is not a customer record to erase
    return user


# --- the /erase dialog ------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A customer record a reference named, as the confirmation card shows it."""

    customer_id: int
    name: str
    phone: str
    company: str | None
    requests: int
    open_requests: int  # not closed or cancelled: they go on without the customer's details
    newest_request: str | None
    erased_at: datetime | None


@dataclass(frozen=True)
class Found:
    """What the admin's reference named: the records the card erases together (every record with a
    typed phone; a request number's one record), and how many others have their phone and stay."""

    candidates: tuple[Candidate, ...]
    others_with_phone: int

    @property
    def offer(self) -> str:
        return offer([candidate.customer_id for candidate in self.candidates])

    @property
    def open_requests(self) -> int:
        return sum(candidate.open_requests for candidate in self.candidates)


def offer(customer_ids: Sequence[int]) -> str:
    """What the card's Erase button carries: the one record's id, or ALL for the several it lists."""
    return str(customer_ids[0]) if len(customer_ids) == 1 else ALL


async def start(uow: UnitOfWork, actor: User, now: datetime) -> Draft:
    """Open the dialog at the question for a phone or request number (admins only)."""
    _require_admin(actor)
    return await dialogs.begin(uow, actor.id, DIALOG, ASK, {}, now)


async def look_up(uow: UnitOfWork, actor: User, draft: Draft, text: str, now: datetime) -> tuple[Found, Draft]:
    """The customer records the admin typed a reference of, and the dialog to go on with: a fresh
    draft at the confirmation whose data names them, so the card's Erase button erases only those.
    Several records with one phone may be one person or people sharing a phone: the card lists them
    and the admin decides. A record erased before is offered again, for what was recorded since.
    Raises WrongInput, TooLong, NotFound, NotAllowed ("staff", or "erase" for a non-admin)."""
    _require_admin(actor)
    customers = await find_customers(uow, clean_text(text, limit=REFERENCE_MAX, expected=ASK))
    for customer in customers:
        await _account_of(uow, customer)  # a staff member is refused before the card, not after
    candidates = tuple([await _candidate(uow, customer) for customer in customers])
    others = await same_phone_elsewhere(uow, customers[0]) if len(customers) == 1 else []
    # Only ids: the draft keeps nothing personal, whatever was typed.
    draft = await dialogs.begin(uow, actor.id, DIALOG, CONFIRM, {"customer_ids": [c.id for c in customers]}, now)
    return Found(candidates, len(others)), draft


async def _candidate(uow: UnitOfWork, customer: Customer) -> Candidate:
    requests = await uow.personal_data.requests_of(customer.id)
    unfinished = [request for request in requests if request.status not in (CLOSED, CANCELLED)]
    return Candidate(customer.id, customer.name, customer.phone, customer.company, len(requests), len(unfinished),
                     requests[-1].number if requests else None, customer.erased_at)


async def confirm(uow: UnitOfWork, actor: User, draft: Draft, choice: str, now: datetime) -> list[ErasureResult]:
    """Erase pressed on the card: every record this dialog showed, nothing else; the dialog ends.
    Raises NotAllowed("not_shown") for a button that names anything else, and what erase_customers raises."""
    shown = draft.data.get("customer_ids") or []
    if draft.step != CONFIRM or not shown or choice != offer(shown):
        raise NotAllowed("not_shown")
    results = await erase_customers(uow, actor, shown, now)
    await dialogs.end(uow, draft)
    return results


def back_to_question(draft: Draft, now: datetime) -> None:
    """Back from the card: ask for another reference."""
    dialogs.move(draft, ASK, now, customer_ids=None)


async def _earlier_details(uow: UnitOfWork, user: User | None) -> dict[str, list[str]]:
    """The names, phones and companies the customer had before changing them with /profile (the
    audit rows of those changes keep the old value until this erasure): staff notes written
    before the change name those."""
    earlier: dict[str, list[str]] = {}
    if user is None or user.telegram_id <= 0:
        return earlier
    for entry in await uow.session.scalars(select(AuditEntry).where(
            AuditEntry.actor_telegram_id == user.telegram_id, AuditEntry.action == DETAILS_CHANGED_AUDIT).order_by(AuditEntry.id)):
        field, was = (entry.details or {}).get("field"), (entry.details or {}).get("was")
        if isinstance(field, str) and isinstance(was, str):
            earlier.setdefault(field, []).append(was)
    return earlier


def _identifiers(customer: Customer, user: User | None, requests: list[Any],
                 earlier: dict[str, list[str]] | None = None) -> tuple[list[str], list[str]]:
    """(words, phone digit strings) that identify the customer inside staff texts, with the
    details they had `earlier`."""
    earlier = earlier or {}
    words = [customer.name, customer.company, *earlier.get("name", []), *earlier.get("company", [])]
    phones = [customer.phone, *earlier.get("phone", [])]
    if user is not None:
        words += [user.full_name, user.first_name, user.username]
        phones.append(user.phone)
    words += [request.site_address for request in requests]
    cleaned = sorted({w for w in (_normal(w or "").strip() for w in words) if len(w) >= _min_length(w) and w != ERASED})
    digits = sorted({d for d in (_DIGITS.sub("", _normal(p or "")) for p in phones) if len(d) >= MIN_PHONE_DIGITS})
    return cleaned, digits


def _normal(text: str) -> str:
    """Lower case, with full-width digits and letters as their ASCII twins ("１３８" is "138")."""
    return unicodedata.normalize("NFKC", text).lower()


def _is_cjk(word: str) -> bool:
    return all(char.isalpha() and any(low <= ord(char) <= high for low, high in _CJK) for char in word)


def _min_length(word: str) -> int:
    """A name of two Chinese, Japanese or Korean characters is specific; two Latin or Cyrillic letters are not."""
    return MIN_CJK_IDENTIFIER if _is_cjk(word) else MIN_IDENTIFIER


class _Eraser:
    """Replaces values and counts the replacements."""

    def __init__(self, identifiers: tuple[list[str], list[str]]) -> None:
        words, self.phones = identifiers
        self.words = [w for w in words if len(w) >= MIN_IDENTIFIER]
        # Two-character CJK names are often everyday words too (高峰 "peak", 平安 "safe"): they are
        # cut out where they appear, and the rest of a staff text (a technical record) stays.
        self.short_names = [w for w in words if len(w) < MIN_IDENTIFIER]
        # The national number, however it is spelled: the last digits of a long enough phone, looked
        # for only inside one written number, so digits of different numbers never add up to it.
        self.national = sorted({phone[-NATIONAL_DIGITS:] for phone in self.phones if len(phone) > NATIONAL_DIGITS})
        self.count = 0
        self.own_files: set[str] = set()  # file ids of what the customer sent, collected while erasing

    def scrubbed(self, text: str | None) -> str | None:
        """`text` as it may stay: the marker when it mentions the customer, with a short CJK name
        cut out when that is all it mentions; None when it may stay as it is."""
        if not text or text == ERASED:
            return None
        if self.mentions(text):
            return ERASED
        if not any(name in text for name in self.short_names):
            return None
        for name in self.short_names:
            text = text.replace(name, ERASED)
        return text

    def is_phone(self, text: Any) -> bool:
        """`text` is one of the customer's phones, as a whole number in any spelling."""
        return isinstance(text, str) and _DIGITS.sub("", _normal(text)) in self.phones

    def mentions(self, text: str | None) -> bool:
        """The customer's phone, or a name, company or address of theirs from 3 characters."""
        if not text:
            return False
        lowered = _normal(text)
        if any(word in lowered for word in self.words):
            return True
        digits = _DIGITS.sub("", lowered)
        if any(phone in digits for phone in self.phones):
            return True
        runs = [_DIGITS.sub("", run) for run in _PHONE_RUN.findall(lowered)] if self.national else []
        return any(tail in run for tail in self.national for run in runs)

    def outbox_view(self, message: OutboxMessage, own: bool) -> None:
        """A rendered message in the outbox: its text if it went to the customer or mentions them,
        and the customer's photos or voice messages it forwards."""
        payload = dict(message.payload or {})
        text = payload.get("text")
        if isinstance(text, str) and text != ERASED:
            # the text is HTML: judged unescaped; a short CJK name is cut out of it as it is (no markup in one)
            kept = ERASED if own or self.mentions(html.unescape(text)) else self.scrubbed(text)
            if kept is not None:
                payload["text"] = kept
                self.count += 1
        for key in ("photos", "voices"):
            files = payload.get(key) or []
            kept = [f for f in files if f not in self.own_files]
            if len(kept) != len(files):
                payload[key] = kept
                self.count += len(files) - len(kept)
        if payload != message.payload:
            message.payload = payload  # a new dict: JSON columns do not track changes inside one

    def always(self, obj: Any, *fields: str, marker: Any = ERASED) -> None:
        """Replace these fields wherever they hold something (the customer's own words)."""
        for name in fields:
            if getattr(obj, name) not in (None, marker):
                setattr(obj, name, marker)
                self.count += 1

    def if_mentioned(self, obj: Any, *fields: str) -> None:
        """Replace these fields where they mention the customer (staff texts)."""
        for name in fields:
            kept = self.scrubbed(getattr(obj, name))
            if kept is not None:
                setattr(obj, name, kept)
                self.count += 1

    def details(self, event: RequestEvent, own: bool) -> None:
        """A timeline entry: the customer's typed texts always, other strings when they mention them,
        coordinates always (an engineer's arrival is the customer's site)."""
        changed = self.values(event.details or {}, FREE_TEXT_KEYS if own else frozenset())
        if changed != event.details:
            event.details = changed  # a new dict: JSON columns do not track changes inside one

    def values(self, value: Any, always: frozenset[str], key: str | None = None) -> Any:
        """A JSON value with nested dicts and lists walked: a copy where coordinates are None and
        strings under `always` keys, or mentioning the customer, are the marker."""
        if isinstance(value, dict):
            return {name: self.values(item, always, name) for name, item in value.items()}
        if isinstance(value, list):
            return [self.values(item, always, key) for item in value]
        if key in COORDINATE_KEYS and value is not None and not isinstance(value, bool):
            self.count += 1
            return None
        if isinstance(value, str) and value != ERASED:
            kept = ERASED if key in always else self.scrubbed(value)
            if kept is not None:
                self.count += 1
                return kept
        return value


async def _erase_rows(uow: UnitOfWork, eraser: _Eraser, customer: Customer, user: User | None, requests: list[Any]) -> dict[str, set[int]]:
    """Every row of the customer and their requests; returns the ids a dialog may name them by
    (draft data key: ids), for the staff dialogs about them."""
    rows = uow.personal_data.rows
    ids = [request.id for request in requests]
    user_id = user.id if user else None

    eraser.always(customer, "name", "phone", "company")
    if user is not None:
        eraser.always(user, "first_name", "full_name")
        eraser.always(user, "username", "phone", marker=None)
        if user.telegram_id > 0:
            user.telegram_id = -user.id  # unlinks the Telegram account; a new contact starts afresh
            eraser.count += 1
        user.is_reachable = False  # nothing is queued to the placeholder chat; nobody is told (no 403 happened)
        draft = await uow.drafts.of_user(user.id)
        if draft is not None:
            await uow.drafts.delete(draft)  # e.g. an intake in progress, with what they typed
            eraser.count += 1
        if await uow.drafts.drop_parked(user.id):  # an unfinished request kept aside
            eraser.count += 1
    for request in requests:
        eraser.always(request, "description", "site_address")
        eraser.always(request, "site_latitude", "site_longitude", marker=None)
    for event in await rows(RequestEvent, "request_id", ids):
        eraser.details(event, own=user_id is not None and event.actor_user_id == user_id)
    for attachment in await rows(Attachment, "request_id", ids):
        if attachment.added_by_user_id == user_id:
            eraser.own_files.add(attachment.file_id)
            eraser.always(attachment, "file_id")
    for visit in await rows(Visit, "request_id", ids):
        eraser.always(visit, "counter_note")
        eraser.always(visit, "latitude", "longitude", marker=None)  # where the engineer arrived: the site
    for report in await rows(JobReport, "request_id", ids):
        eraser.always(report, "customer_opinion")
        eraser.if_mentioned(report, "symptom", "cause", "solution")
    for survey in await rows(Survey, "request_id", ids):
        eraser.always(survey, "comment")
    for complaint in (complaints := await rows(Complaint, "request_id", ids)):
        eraser.always(complaint, "answer")
        eraser.if_mentioned(complaint, "cause_note", "corrective_action")
    for note in await rows(ComplaintNote, "complaint_id", [c.id for c in complaints]):
        eraser.if_mentioned(note, "text")
    for call in (calls := await rows(FollowUpCall, "request_id", ids)):
        eraser.always(call, "feedback")
        if call.state == "due":  # nobody to call any more: the call is off every list, counted in no figure
            call.state, call.outcome = "done", "erased"
    for escalation in (escalations := await rows(Escalation, "request_id", ids)):
        eraser.if_mentioned(escalation, "question", "analysis", "plan")
    for assignment in await rows(Assignment, "request_id", ids):
        eraser.if_mentioned(assignment, "note")
    for approval in (approvals := await rows(Approval, "request_id", ids)):
        if approval.kind == SALES_APPROVAL:
            eraser.always(approval, "reason")  # the description the salesperson filed: the customer's words
        else:
            eraser.if_mentioned(approval, "reason")
        eraser.if_mentioned(approval, "question")
    for action in await rows(ApprovalAction, "approval_id", [a.id for a in approvals]):
        eraser.if_mentioned(action, "comment")
    for case in await rows(ReturnCase, "request_id", ids):
        eraser.if_mentioned(case, "note")
    for requisition in await rows(PartRequisition, "request_id", ids):
        eraser.if_mentioned(requisition, "note")
    for product in await rows(Product, "customer_id", [customer.id]):
        eraser.if_mentioned(product, "owner_name")
    for project in await rows(Project, "customer_id", [customer.id]):
        eraser.if_mentioned(project, "name")
    return {
        "request_id": set(ids), "from_request_id": set(ids), "about_request_id": set(ids), "customer_id": {customer.id},
        "complaint_id": {c.id for c in complaints}, "call_id": {c.id for c in calls},
        "approval_id": {a.id for a in approvals}, "escalation_id": {e.id for e in escalations},
    }


async def _erase_staff_drafts(uow: UnitOfWork, eraser: _Eraser, user: User | None, references: dict[str, set[int]]) -> None:
    """Open dialogs of others about the customer's requests (an engineer's report, a supervisor's
    answer…) lose the customer's words and what mentions them, and stay open: ending them would
    throw away the staff member's own work, while a marker in a field is theirs to rewrite. A
    salesperson's /sell form for the customer's phone is all theirs and goes. Dialogs kept aside
    (an interrupted report) are treated the same."""
    kept_aside = list(await uow.session.scalars(select(ParkedDraft).order_by(ParkedDraft.user_id, ParkedDraft.kind)))
    for draft in [*await uow.session.scalars(select(Draft).order_by(Draft.id)), *kept_aside]:
        data = draft.data or {}
        if draft.kind == SALES_DIALOG and eraser.is_phone(data.get("phone")):
            # A /sell form for their phone holds nothing but their details: it goes, as their own dialogs
            # do (sent with "[erased]" for a phone, it would file for whichever erased record came first).
            await (uow.drafts.delete(draft) if isinstance(draft, Draft) else uow.drafts.unpark(draft))
            eraser.count += 1
            continue
        named = any(type(data.get(key)) is int and data[key] in ids for key, ids in references.items())
        if not named or (user is not None and draft.user_id == user.id):
            continue
        theirs = (draft.kind, data.get("source")) == REGISTERED_FOR_CUSTOMER
        changed = eraser.values(data, DRAFT_CUSTOMER_KEYS | {"description"} if theirs else DRAFT_CUSTOMER_KEYS)
        if changed != data:
            draft.data = changed  # a new dict: JSON columns do not track changes inside one


async def _erase_audit(uow: UnitOfWork, eraser: _Eraser, telegram_id: int, placeholder: int) -> None:
    """Audit rows the customer caused: the placeholder id the user row got, and what they typed
    (a serial, a request number, button data) replaced; the action and the time stay."""
    for entry in await uow.session.scalars(select(AuditEntry).where(AuditEntry.actor_telegram_id == telegram_id).order_by(AuditEntry.id)):
        entry.actor_telegram_id = placeholder
        eraser.count += 1
        details = dict(entry.details or {})
        for key, value in details.items():
            if isinstance(value, (str, dict, list)) and key not in AUDIT_CODE_KEYS and value != ERASED:
                details[key] = ERASED
                eraser.count += 1
        if details != entry.details:
            entry.details = details  # a new dict: JSON columns do not track changes inside one


async def _erase_outbox(uow: UnitOfWork, eraser: _Eraser, user: User | None, now: datetime) -> None:
    """Waiting messages: none goes to the erased account any more, and what it was told loses its
    text; waiting messages to others lose a text that mentions the customer."""
    if user is not None:
        own = await uow.outbox.of_user(user.id)
        for message in own:
            if message.kind == notices.VIEW:
                eraser.outbox_view(message, own=True)
        waiting = [message.id for message in own if message.sent_at is None]
        if waiting:
            await uow.outbox.finish(waiting, now, OUTBOX_FAILURE)
            eraser.count += len(waiting)
    for message in await uow.personal_data.pending_outbox(notices.VIEW):
        if user is None or message.user_id != user.id:
            eraser.outbox_view(message, own=False)
