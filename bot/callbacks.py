"""Inline-button payloads: small, versioned references parsed strictly.

Callback data says *which* thing and *what action*, never whether the presser may do it:
every handler re-checks the current state, role and ownership on the server.
Format: `<version>:<kind>:<field>:<field>…`, at most 64 bytes (Telegram's limit).
"""
from __future__ import annotations

import re
from dataclasses import MISSING, astuple, dataclass, fields
from typing import ClassVar

VERSION = "1"
MAX_BYTES = 64
_WORD = re.compile(r"^[A-Za-z0-9_]{1,24}$")
_INT = re.compile(r"^[0-9]{1,12}$")


class BadCallback(ValueError):
    """Data that no button of ours produces (forged, or from an incompatible version)."""


@dataclass(frozen=True)
class _Payload:
    KIND: ClassVar[str]

    def pack(self) -> str:
        parts = [VERSION, self.KIND, *(str(v) for v in astuple(self))]
        for value in parts[2:]:
            if not (_WORD.match(value) or _INT.match(value) or value == ""):
                raise ValueError(f"callback field {value!r} is not a short word or number")
        data = ":".join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data


@dataclass(frozen=True)
class DialogButton(_Payload):
    """A button shown at one step of one dialog draft; stale once the draft moves on."""

    KIND: ClassVar[str] = "d"
    draft_id: int
    step: str
    action: str
    value: str = ""


@dataclass(frozen=True)
class LanguageButton(_Payload):
    KIND: ClassVar[str] = "lang"
    language: str


@dataclass(frozen=True)
class ListPageButton(_Payload):
    KIND: ClassVar[str] = "my"
    page: int


@dataclass(frozen=True)
class RequestButton(_Payload):
    """An action on one request (open the card, comment, cancel…)."""

    KIND: ClassVar[str] = "rq"
    request_id: int
    action: str


@dataclass(frozen=True)
class InviteRoleButton(_Payload):
    KIND: ClassVar[str] = "inv"
    role: str


@dataclass(frozen=True)
class StaffButton(_Payload):
    """An admin's action on a staff member: open, activate, deactivate, grant or withdraw `role`
    (never "the other state": a button of an older card must not undo what it offered); also
    `list` (`user_id` is then the page) and `back` (the list's page showing `user_id`). Cards sent
    before grant and withdraw were told apart carry "role": it only shows the card again."""

    KIND: ClassVar[str] = "st"
    user_id: int
    action: str
    role: str = ""


@dataclass(frozen=True)
class DispatchButton(_Payload):
    """A dispatcher's action on a request: open, contacted, assign, priority/distance/warranty + value."""

    KIND: ClassVar[str] = "dp"
    request_id: int
    action: str
    value: str = ""


@dataclass(frozen=True)
class AssignButton(_Payload):
    """Assign `engineer_id`; `expected_id` is who had the request when the list was shown (0: nobody)."""

    KIND: ClassVar[str] = "as"
    request_id: int
    engineer_id: int
    expected_id: int


@dataclass(frozen=True)
class JobButton(_Payload):
    """An engineer's action on their job: open, accept, decline, call, visit, way, arrived, phone, parts, resume, report, edit."""

    KIND: ClassVar[str] = "jb"
    request_id: int
    action: str


@dataclass(frozen=True)
class VisitButton(_Payload):
    """The customer's answer to a proposed visit: ok, or other (suggest another time). `at` is
    the proposed time the message showed (`jobs.proposal_mark`): a re-proposal makes it stale."""

    KIND: ClassVar[str] = "vs"
    visit_id: int
    action: str
    at: int


@dataclass(frozen=True)
class ReportAnswerButton(_Payload):
    """The customer's verdict on the closing report they were shown: yes (resolved) or no (not resolved)."""

    KIND: ClassVar[str] = "cf"
    request_id: int
    action: str
    seen: int = 0  # the report the message showed (`confirmation.report_mark`): an edit since makes it stale; 0: sent before marks


@dataclass(frozen=True)
class SurveyButton(_Payload):
    """An answer to one question of a request's survey (step stars/on_time/survey_comment; value
    1–5, yes/no, skip). It names the request, not a dialog: another survey asked meanwhile does
    not make it stale."""

    KIND: ClassVar[str] = "sv"
    request_id: int
    step: str
    value: str


@dataclass(frozen=True)
class EscalationButton(_Payload):
    """A dispatcher's "ask an expert" on a request: the expert list, or the case already open."""

    KIND: ClassVar[str] = "ex"
    request_id: int
    action: str


@dataclass(frozen=True)
class ExpertPickButton(_Payload):
    """The dispatcher chose `expert_id` for the request; the question is asked next."""

    KIND: ClassVar[str] = "xp"
    request_id: int
    expert_id: int


@dataclass(frozen=True)
class CaseButton(_Payload):
    """An expert's action on an escalated case: open it, or write the analysis."""

    KIND: ClassVar[str] = "xc"
    escalation_id: int
    action: str


@dataclass(frozen=True)
class ConsultationButton(_Payload):
    """Answering the customer: a dispatcher's answer/close, the customer's resolved."""

    KIND: ClassVar[str] = "cn"
    request_id: int
    action: str


@dataclass(frozen=True)
class ProductsButton(_Payload):
    """An action under the customer's product list: claim (a product by serial)."""

    KIND: ClassVar[str] = "prd"
    action: str


@dataclass(frozen=True)
class ClaimButton(_Payload):
    """A dispatcher's verdict on a product claim: confirm or reject."""

    KIND: ClassVar[str] = "clm"
    claim_id: int
    action: str


@dataclass(frozen=True)
class ProfileButton(_Payload):
    """A staff member editing their own profile: `field` to change, or "duty_on" / "duty_off" (an
    older card's "duty" toggled: it only shows the profile again)."""

    KIND: ClassVar[str] = "pf"
    field: str


@dataclass(frozen=True)
class ApprovalButton(_Payload):
    """An action on one step of an approval: approve, reject, ask (approvers), answer (the
    requester), open. Names the step, so a press after the step moved on is recognised as late."""

    KIND: ClassVar[str] = "ap"
    approval_id: int
    step: int
    action: str


@dataclass(frozen=True)
class QuoteButton(_Payload):
    """The customer's answer to a quote: accept or decline; or the answer they gave on the phone,
    as a dispatcher or the salesperson who filed the request records it: phone_yes or phone_no."""

    KIND: ClassVar[str] = "qt"
    quote_id: int
    action: str
    on_card: int = 0  # 1: pressed on the request card (its other buttons stay), not on the offer message


@dataclass(frozen=True)
class ReturnButton(_Payload):
    """Staff tracking a return: open, received, inspected, refunded, exchanged, repaired."""

    KIND: ClassVar[str] = "rt"
    return_id: int
    action: str


@dataclass(frozen=True)
class ReturnProductButton(_Payload):
    """The customer asks to return or exchange one of their products (from /products)."""

    KIND: ClassVar[str] = "rtp"
    product_id: int


PAYLOADS: dict[str, type[_Payload]] = {
    cls.KIND: cls
    for cls in (DialogButton, LanguageButton, ListPageButton, RequestButton, InviteRoleButton, StaffButton, DispatchButton, AssignButton, JobButton,
                VisitButton, ReportAnswerButton, SurveyButton, ProfileButton,
                EscalationButton, ExpertPickButton, CaseButton, ConsultationButton,
                ProductsButton, ClaimButton, ApprovalButton, QuoteButton,
                ReturnButton, ReturnProductButton)
}


def parse(data: str | None) -> _Payload:
    """Parse callback data strictly; anything unexpected raises `BadCallback`."""
    if not data or len(data.encode()) > MAX_BYTES:
        raise BadCallback(data)
    version, _, rest = data.partition(":")
    kind, _, tail = rest.partition(":")
    if version != VERSION or kind not in PAYLOADS:
        raise BadCallback(data)
    cls = PAYLOADS[kind]
    values = tail.split(":") if tail else []
    spec = fields(cls)
    required = sum(1 for field in spec if field.default is MISSING)
    if not required <= len(values) <= len(spec):  # a field added later has a default: buttons sent before it still parse
        raise BadCallback(data)
    converted: list[object] = []
    for field, value in zip(spec, values):
        if field.type in ("int", int):
            if not _INT.match(value):
                raise BadCallback(data)
            converted.append(int(value))
        else:
            if not (value == "" or _WORD.match(value)):
                raise BadCallback(data)
            converted.append(value)
    return cls(*converted)


# --- spare parts and stock (bot/services/stock.py) ---------------------------------------


@dataclass(frozen=True)
class IssueButton(_Payload):
    """The warehouse issues requisition `requisition_id` from `warehouse_id` (0: refresh the card).
    With warehouse 0, `action` "plan" shows the plan for issuing from several warehouses, and
    "split" issues it if it is still the plan whose fingerprint is `plan`."""

    KIND: ClassVar[str] = "iss"
    requisition_id: int
    warehouse_id: int
    action: str = ""
    plan: str = ""


@dataclass(frozen=True)
class RequisitionButton(_Payload):
    """The engineer's action on their parts requisition: received, cancel."""

    KIND: ClassVar[str] = "rqn"
    requisition_id: int
    action: str


PAYLOADS.update({cls.KIND: cls for cls in (IssueButton, RequisitionButton)})


# --- complaints (bot/services/complaints.py) ---------------------------------------------


@dataclass(frozen=True)
class ComplaintButton(_Payload):
    """The complaint supervisor's action on a complaint: open, take, note, link, fault, nofault,
    action, answer (managers only open); complaint 0 with "list" shows /complaints again; "req"
    opens the complaint whose *request* id is given (a deadline reminder knows only the request)."""

    KIND: ClassVar[str] = "cpl"
    complaint_id: int
    action: str


@dataclass(frozen=True)
class ComplaintOfferButton(_Payload):
    """The customer's answer to "file a complaint?" after a low survey score: yes or no."""

    KIND: ClassVar[str] = "cpo"
    request_id: int
    action: str


PAYLOADS.update({cls.KIND: cls for cls in (ComplaintButton, ComplaintOfferButton)})


# --- follow-up calls (bot/services/followups.py) -----------------------------------------


@dataclass(frozen=True)
class FollowUpButton(_Payload):
    """The callback role's action on a follow-up call: open, sat, unsat, noans (with `seen`, the
    tries the card showed, so a double press counts once); call 0 with "list" shows /calls again."""

    KIND: ClassVar[str] = "fu"
    call_id: int
    action: str
    seen: int = 0


PAYLOADS.update({cls.KIND: cls for cls in (FollowUpButton,)})


# --- maintenance reminders (bot/services/maintenance.py) -----------------------------------


@dataclass(frozen=True)
class MaintenanceButton(_Payload):
    """The customer's "Book maintenance" under a maintenance reminder (action: book)."""

    KIND: ClassVar[str] = "mnt"
    reminder_id: int
    action: str


PAYLOADS.update({cls.KIND: cls for cls in (MaintenanceButton,)})


# --- the managers' monthly report (handlers/reports.py) -------------------------------------


@dataclass(frozen=True)
class ReportMonthButton(_Payload):
    """A manager's month picker: show the report of `month` (YYYYMM), or close the picker (month 0)."""

    KIND: ClassVar[str] = "rpm"
    month: int
    action: str


PAYLOADS.update({ReportMonthButton.KIND: ReportMonthButton})
