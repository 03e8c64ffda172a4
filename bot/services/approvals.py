"""Approvals: one engine for every decision a chain of roles must take about a request.

An approval names a kind (fee waiver, sales-filed request, requisition, return), the request, an
amount when money is involved, who asked, and the chain of approver roles the policy gives for
that kind and amount. Each step is decided by whoever of its role presses first: the state moves
only by a conditional UPDATE on (status, step), so a second press, a replayed button or a
simultaneous press by another approver finds the approval already moved and changes nothing.

Decisions, questions and answers go on the request's timeline (internal events), which also runs
the step's deadline clock and pauses the request's own clocks (see the policy's
`clocks.approval_decided` and `waits.approval`).
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.policy import Policy
from bot.services import dialogs, requests
from bot.services.dispatch import ROLE_ENGINEER, open_request
from bot.services.errors import DomainError, InvalidValue, NotAllowed, NotFound
from bot.services.users import ROLE_DISPATCHER
from bot.services.validation import clean_text, typed_number
from storage.db import UnitOfWork
from storage.models import Approval, ApprovalAction, Draft, Quote, RequestEvent, ServiceRequest, User

PENDING, INFO, APPROVED, REJECTED, WITHDRAWN = "pending", "info", "approved", "rejected", "withdrawn"
OPEN = (PENDING, INFO)
APPROVE, REJECT, ASK, ANSWER, WITHDRAW = "approve", "reject", "ask", "answer", "withdraw"
REQUESTER_LEFT = "requester_left"  # the question went unanswered: its requester left or changed role
# Why an approval was withdrawn (the withdraw action's comment; approval_views words them).
SUBJECT_WITHDRAWN, JOB_LEFT_ENGINEER, REQUEST_ENDED = "subject_withdrawn", "job_left_engineer", "request_ended"
JOB_REPORTED = "job_reported"  # the job's report was sent: parts not issued by then were not used
QUOTE_ACCEPTED = "quote_accepted"  # the customer accepted the quote a fee waiver would have covered
QUOTE_REPLACED = "quote_replaced"  # a new quote replaced the one a fee waiver was asked against
WORK_IN_WARRANTY = "work_in_warranty"  # the dispatcher ruled the work in warranty: nothing left to waive
ENDED = (requests.CLOSED, requests.CANCELLED)  # nothing about such a request is left to decide
# The role a requester must still hold to answer an approver's question, by kind (a return's
# requester is the customer: being active is enough).
ASKING_ROLES = {"waiver": ROLE_DISPATCHER, "sales_request": "salesperson", "requisition": ROLE_ENGINEER}
COMMENT_LIMIT = 1000
AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")
DECIMAL_COMMA = re.compile(r"[0-9]+,[0-9]{1,2}")
THOUSANDS = re.compile(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]{1,2})?")
MAX_AMOUNT_MINOR = 10_000_000_000  # 100 million CNY: anything above is a typing mistake

COMMENT_DIALOG = "approval_comment"  # an approver's reason or question, typed after pressing
ANSWER_DIALOG = "approval_answer"  # the requester's answer to a question
WAIVER_DIALOG = "waiver"  # a dispatcher asks for a fee waiver: amount, then reason


class AlreadyDecided(DomainError):
    """The step was decided (or the question answered) by someone else first, or earlier."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(approval.status)
        self.approval = approval


class RequesterCannotAnswer(DomainError):
    """Ask for info, when the requester was deactivated or no longer holds the role that asked:
    the question would wait for nobody."""

    def __init__(self, requester: User | None) -> None:
        super().__init__("requester cannot answer")
        self.requester = requester


class RequestEnded(AlreadyDecided):
    """The approval's request was closed or cancelled: a decision would act on work that is over
    (an approved fee waiver would still tell the customer the company pays)."""


def request_ended(request: ServiceRequest | None) -> bool:
    return request is not None and request.status in ENDED


async def _require_request_open(uow: UnitOfWork, approval: Approval) -> None:
    if request_ended(await uow.requests.get(approval.request_id)):
        raise RequestEnded(approval)


async def _locked(uow: UnitOfWork, approval_id: int) -> Approval | None:
    """The approval, for a change: its request is locked first (the one lock order, request
    before what hangs on it, so an approver and a dispatcher closing the request never deadlock),
    then the approval is read again as the request's previous holder left it."""
    approval = await uow.approvals.get(approval_id)
    if approval is None:
        return None
    await uow.requests.lock(approval.request_id)
    return await uow.approvals.get(approval_id) if uow.requests.takes_row_locks else approval


@dataclass(frozen=True)
class Outcome:
    """What one action did, for the handler to tell people."""

    approval: Approval
    request: ServiceRequest
    action: str
    actor: User
    comment: str | None
    decided_step: int  # the step the action was taken on
    finished: bool  # approved at the last step, or rejected


# What a decided approval does to its subject, by kind (e.g. a requisition becomes issuable).
# Kinds without an entry change nothing beyond the approval itself.
Finisher = Callable[[UnitOfWork, Approval, datetime], Awaitable[None]]
FINISHERS: dict[str, Finisher] = {}


def amount_of(approval: Approval) -> Decimal | None:
    return None if approval.amount_minor is None else Decimal(approval.amount_minor) / 100


def parse_amount(text: str, *, allow_zero: bool = False) -> int:
    """A typed amount of CNY ("12000", "12,000.50", "¥ 9 999") in fen; InvalidValue otherwise."""
    cleaned = typed_number(text).replace("¥", "").replace(" ", "").replace("\u00a0", "")
    cleaned = cleaned.removesuffix("CNY").removesuffix("元")
    if DECIMAL_COMMA.fullmatch(cleaned):
        cleaned = cleaned.replace(",", ".")  # "9999,50": a decimal comma, as Russian writes it
    elif "," in cleaned:
        if not THOUSANDS.fullmatch(cleaned):
            raise InvalidValue("amount")  # "1,2,3" or "12,0000": which number was meant is a guess
        cleaned = cleaned.replace(",", "")
    if not AMOUNT.fullmatch(cleaned):  # digits only: no signs, exponents or NaN
        raise InvalidValue("amount")
    minor = int(Decimal(cleaned) * 100)
    if minor > MAX_AMOUNT_MINOR or (minor == 0 and not allow_zero):
        raise InvalidValue("amount")
    return minor


async def request_approval(
    uow: UnitOfWork, policy: Policy, requester: User, request: ServiceRequest, kind: str, now: datetime, *,
    amount_minor: int | None = None, reason: str = "", subject_id: int | None = None,
) -> Approval:
    """Open an approval at the first step of the chain the policy gives for its kind and amount."""
    await uow.requests.lock(request.id)  # the caller's fetcher has usually taken it already: then free
    amount = None if amount_minor is None else Decimal(amount_minor) / 100
    chain = policy.approvals.chain(kind, amount)
    approval = await uow.approvals.add(Approval(
        request_id=request.id, kind=kind, amount_minor=amount_minor, currency="CNY", reason=reason,
        subject_id=subject_id, requested_by_id=requester.id, chain=list(chain), step=0, status=PENDING,
        created_at=now, updated_at=now,
    ))
    await _event(uow, approval, requester, "approval_requested", now, role=chain[0])
    return approval


def may_decide(policy: Policy, actor: User, approval: Approval) -> bool:
    """Holds the role of the pending step, is active, and (unless the policy allows) did not ask."""
    if not actor.is_active or approval.current_role not in actor.role_names:
        return False
    return policy.approvals.self_approval or actor.id != approval.requested_by_id


async def get_for_approver(uow: UnitOfWork, policy: Policy, actor: User, approval_id: int) -> tuple[Approval, ServiceRequest]:
    """An approval the actor may look at as an approver (any step of its chain)."""
    approval = await uow.approvals.get(approval_id)
    if approval is None or not actor.is_active or not (set(approval.chain) & actor.role_names):
        raise NotFound()
    return approval, await uow.requests.get(approval.request_id)


async def check_decision(uow: UnitOfWork, policy: Policy, actor: User, approval_id: int, step: int) -> Approval:
    """The approval, if `actor` may act on `step` now; AlreadyDecided / NotAllowed / NotFound otherwise.
    Checked with its request locked (`_locked`)."""
    approval = await _locked(uow, approval_id)
    if approval is None:
        raise NotFound()
    if not (set(approval.chain) & actor.role_names) or not actor.is_active:
        raise NotAllowed()  # not an approver of this chain at all: a forged or foreign button
    if approval.status != PENDING or approval.step != step:
        raise AlreadyDecided(approval)
    if not may_decide(policy, actor, approval) or actor.id in await _earlier_approvers(uow, approval):
        raise NotAllowed()
    await _require_request_open(uow, approval)
    return approval


async def _earlier_approvers(uow: UnitOfWork, approval: Approval) -> set[int]:
    """Who approved an earlier step: a chain of two roles asks two people, even when one person
    holds both roles (DESIGN: the marketing VP, then the production VP)."""
    return {a.user_id for a in await uow.approvals.actions(approval.id) if a.action == APPROVE and a.step < approval.step}


async def decide(
    uow: UnitOfWork, policy: Policy, actor: User, approval_id: int, step: int, action: str, comment: str | None, now: datetime,
) -> Outcome:
    """Approve, reject (with a reason) or ask for information (with a question) at `step`."""
    if action not in (APPROVE, REJECT, ASK):
        raise NotAllowed()
    approval = await check_decision(uow, policy, actor, approval_id, step)
    if action == ASK:
        await _require_requester_answers(uow, approval)
    if action != APPROVE:
        comment = clean_text(comment, limit=COMMENT_LIMIT, expected="text")
    last_step = step + 1 >= len(approval.chain)
    if action == APPROVE and not last_step:
        values = {"step": step + 1}
    elif action == APPROVE:
        values = {"status": APPROVED, "decided_by_id": actor.id, "decided_at": now}
    elif action == REJECT:
        values = {"status": REJECTED, "decided_by_id": actor.id, "decided_at": now}
    else:
        values = {"status": INFO, "question": comment}
    if not await uow.approvals.transition(approval, PENDING, step, updated_at=now, **values):
        raise AlreadyDecided(approval)
    await uow.approvals.add_action(ApprovalAction(
        approval_id=approval.id, step=step, user_id=actor.id, action=action, comment=comment, created_at=now,
    ))
    if action == ASK:
        await _event(uow, approval, actor, "approval_info_requested", now, step=step, comment=comment)
    else:
        await _event(uow, approval, actor, "approval_decided", now, step=step, decision=action, comment=comment)
    finished = approval.status in (APPROVED, REJECTED)
    if action == APPROVE and not finished:
        await _event(uow, approval, actor, "approval_requested", now, role=approval.current_role)
    if finished and approval.kind in FINISHERS:
        await FINISHERS[approval.kind](uow, approval, now)
    request = await uow.requests.get(approval.request_id)
    return Outcome(approval, request, action, actor, comment, step, finished)


SHOWN_EXCHANGES = 6  # the latest questions and answers on an approver's card, 500 characters each at most


async def questions_and_answers(uow: UnitOfWork, approval: Approval) -> list[ApprovalAction]:
    """The current step's questions to the requester and their answers (or that none will come,
    REQUESTER_LEFT), oldest first: an approver decides with them in front of them, not only on the
    request's timeline."""
    asked = [a for a in await uow.approvals.actions(approval.id) if a.step == approval.step and a.action in (ASK, ANSWER, REQUESTER_LEFT)]
    return asked[-SHOWN_EXCHANGES:]  # the card stays one message


def may_answer(actor: User, approval: Approval) -> bool:
    """The requester, still active and still in the role that asks for this kind: someone who left
    (or moved on) must not push a decision along with an answer nobody can stand behind. A kind no
    staff role asks for (a return) was asked for as a customer: a customer answers, whatever their
    staff status (`is_active` is a staff flag; someone who left is a customer again)."""
    if approval.requested_by_id != actor.id:
        return False
    role = ASKING_ROLES.get(approval.kind)
    return role is None or (actor.is_active and role in actor.role_names)


async def _require_requester_answers(uow: UnitOfWork, approval: Approval) -> None:
    requester = await uow.users.get(approval.requested_by_id)
    if requester is None or not may_answer(requester, approval):
        raise RequesterCannotAnswer(requester)


async def requester_left(uow: UnitOfWork, actor: User, person: User, now: datetime) -> list[Approval]:
    """`person` was deactivated or lost a role (by `actor`): the steps waiting for their answer that
    they may no longer give are the approvers' again, as an answer would have made them (pending,
    the step's clock running from `approval_requester_left`); returned, for the approvers to be told.
    Deactivation ends what the person had open; else the step would wait for nobody."""
    back = []
    for waiting in await uow.approvals.awaiting_answer_from(person.id):
        approval = await _locked(uow, waiting.id)
        if approval is None or approval.status != INFO or may_answer(person, approval) or request_ended(await uow.requests.get(approval.request_id)):
            continue  # answered or decided meanwhile; still theirs; or ended with its request
        step = approval.step
        if not await uow.approvals.transition(approval, INFO, step, status=PENDING, question=None, updated_at=now):
            continue
        await uow.approvals.add_action(ApprovalAction(approval_id=approval.id, step=step, user_id=actor.id, action=REQUESTER_LEFT, created_at=now))
        await _event(uow, approval, actor, "approval_requester_left", now, step=step, requester_id=person.id)
        back.append(approval)
    return back


async def answer(uow: UnitOfWork, actor: User, approval_id: int, text: str | None, now: datetime) -> Outcome:
    """The requester answers the approver's question; the step is pending again."""
    approval = await _locked(uow, approval_id)
    if approval is None or not may_answer(actor, approval):
        raise NotFound()
    await _require_request_open(uow, approval)
    text = clean_text(text, limit=COMMENT_LIMIT, expected="text")
    step = approval.step
    if approval.status != INFO or not await uow.approvals.transition(approval, INFO, step, status=PENDING, question=None, updated_at=now):
        raise AlreadyDecided(approval)
    await uow.approvals.add_action(ApprovalAction(approval_id=approval.id, step=step, user_id=actor.id, action=ANSWER, comment=text, created_at=now))
    await _event(uow, approval, actor, "approval_info_given", now, step=step, comment=text)
    return Outcome(approval, await uow.requests.get(approval.request_id), ANSWER, actor, text, step, False)


async def withdraw(uow: UnitOfWork, approval: Approval, actor: User, why: str, now: datetime) -> bool:
    """What the approval was about went away (the requisition was withdrawn, the job left its
    engineer, the request ended): an open approval closes as withdrawn and no press decides it
    any more. False when it was decided first.

    A pending step ends with the usual `approval_decided` event, so its clock stops as on any
    decision; a step waiting for an answer has no clock running, and `approval_withdrawn` only
    ends the request's wait on the approval."""
    await uow.requests.lock(approval.request_id)  # before the approval's row (the UPDATE below)
    was = approval.status
    if was not in OPEN or not await uow.approvals.transition(approval, was, approval.step, status=WITHDRAWN, updated_at=now):
        return False
    await uow.approvals.add_action(ApprovalAction(
        approval_id=approval.id, step=approval.step, user_id=actor.id, action=WITHDRAW, comment=why, created_at=now,
    ))
    if was == PENDING:
        await _event(uow, approval, actor, "approval_decided", now, step=approval.step, decision=WITHDRAW, comment=why)
    else:
        await _event(uow, approval, actor, "approval_withdrawn", now, step=approval.step, comment=why)
    return True


async def withdraw_open(uow: UnitOfWork, request_id: int, actor: User, why: str, now: datetime, *, kind: str | None = None,
                        subject_id: int | None = None) -> list[Approval]:
    """Withdraw the request's open approvals (only those of `kind` / `subject_id` when given)."""
    withdrawn = []
    for approval in await uow.approvals.of_request(request_id):
        if (kind is None or approval.kind == kind) and (subject_id is None or approval.subject_id == subject_id):
            if await withdraw(uow, approval, actor, why, now):
                withdrawn.append(approval)
    return withdrawn


async def waiting_for(uow: UnitOfWork, policy: Policy, actor: User) -> list[tuple[Approval, ServiceRequest]]:
    """Pending steps the actor may decide, oldest first."""
    found = []
    for approval in await uow.approvals.open():
        if approval.status == PENDING and may_decide(policy, actor, approval) and actor.id not in await _earlier_approvers(uow, approval):
            request = await uow.requests.get(approval.request_id)
            if not request_ended(request):  # its buttons would only refuse
                found.append((approval, request))
    return found


async def approvers(uow: UnitOfWork, policy: Policy, approval: Approval) -> list[User]:
    """Everyone who may decide the pending step (the requester left out unless self-approval is allowed)."""
    holders = await uow.users.active_with_role(approval.current_role)
    earlier = await _earlier_approvers(uow, approval)
    return [user for user in holders if may_decide(policy, user, approval) and user.id not in earlier]


async def people_to_tell(uow: UnitOfWork, approval: Approval, request: ServiceRequest, actor: User) -> list[User]:
    """The requester and the request's engineer, but not whoever acted; staff who left are not told,
    but a requester who is the request's own customer (a return) is, as any customer."""
    ids = [approval.requested_by_id, request.assigned_engineer_id]
    customer = await requests.customer_user(uow, request)
    found: dict[int, User] = {}
    for user_id in ids:
        if user_id is not None and user_id != actor.id and user_id not in found:
            user = await uow.users.get(user_id)
            if user is not None and (user.is_active or (customer is not None and user.id == customer.id)):
                found[user_id] = user
    return list(found.values())


async def _event(uow: UnitOfWork, approval: Approval, actor: User, action: str, now: datetime, **details: object) -> None:
    await uow.requests.add_event(RequestEvent(
        request_id=approval.request_id, actor_user_id=actor.id, action=action, internal=True, created_at=now,
        details={"approval_id": approval.id, "kind": approval.kind, **{k: v for k, v in details.items() if v is not None}},
    ))


# --- the dialogs around an approval -----------------------------------------------------------


async def start_comment(uow: UnitOfWork, policy: Policy, actor: User, approval_id: int, step: int, action: str, now: datetime) -> tuple[Draft, Approval]:
    """Reject and Ask need text: check the right now (and again when the text arrives)."""
    if action not in (REJECT, ASK):
        raise NotAllowed()
    approval = await check_decision(uow, policy, actor, approval_id, step)
    if action == ASK:
        await _require_requester_answers(uow, approval)
    draft = await dialogs.begin(uow, actor.id, COMMENT_DIALOG, action, {"approval_id": approval.id, "step": step}, now)
    return draft, approval


async def start_answer(uow: UnitOfWork, actor: User, approval_id: int, now: datetime) -> tuple[Draft, Approval]:
    approval = await uow.approvals.get(approval_id)
    if approval is None or not may_answer(actor, approval):
        raise NotFound()
    if approval.status != INFO:
        raise AlreadyDecided(approval)
    await _require_request_open(uow, approval)
    draft = await dialogs.begin(uow, actor.id, ANSWER_DIALOG, "answer", {"approval_id": approval.id}, now)
    return draft, approval


class QuoteAccepted(DomainError):
    """The customer accepted the quote: they pay it, so there is no fee to waive."""


class NoQuoteYet(DomainError):
    """A waiver covers a quote's amount (DESIGN: when the customer refuses to pay): without a quote
    a waiver of 1 CNY, approved by whoever that amount goes to, would clear a job of any size."""


class WaiverAlreadyAsked(DomainError):
    """The request has a fee waiver with the approvers, or an approved one that covers its latest
    quote: a second would be decided (and the customer told "you pay nothing") twice."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(approval.status)
        self.approval = approval


async def _waivable(uow: UnitOfWork, actor: User, request_id: int) -> tuple[ServiceRequest, Quote]:
    """The open request and the quote a waiver would cover (its latest). Checked after the
    request's lock, at the button and again at filing: the dialog may be open in two chats."""
    request = await open_request(uow, actor, request_id)
    latest = await uow.quotes.latest(request.id)
    if latest is None:
        raise NoQuoteYet()
    if latest.status == "accepted":
        raise QuoteAccepted()
    for approval in await uow.approvals.of_request(request.id):
        if approval.kind == "waiver" and (
            approval.status in OPEN or (approval.status == APPROVED and (approval.amount_minor or 0) >= latest.total_minor)
        ):
            raise WaiverAlreadyAsked(approval)
    return request, latest


async def start_waiver(uow: UnitOfWork, actor: User, request_id: int, now: datetime, *, amount_minor: int | None = None) -> Draft:
    """The waiver dialog; with a known amount (a declined quote's total) it starts at the reason."""
    request, _quote = await _waivable(uow, actor, request_id)
    if amount_minor is not None:
        return await dialogs.begin(uow, actor.id, WAIVER_DIALOG, "reason", {"request_id": request.id, "amount_minor": amount_minor}, now)
    return await dialogs.begin(uow, actor.id, WAIVER_DIALOG, "amount", {"request_id": request.id}, now)


class WaiverBelowQuote(DomainError):
    """A fee waiver for less than the quote the customer declined: it would clear the whole paid
    job while a smaller amount's approver signs it (the chain goes by amount)."""

    def __init__(self, quote_total_minor: int) -> None:
        super().__init__("waiver below the declined quote")
        self.quote_total_minor = quote_total_minor


async def waiver_amount(uow: UnitOfWork, draft: Draft, text: str | None, now: datetime) -> int:
    amount = parse_amount(clean_text(text, limit=40, expected="amount"))
    latest = await uow.quotes.latest(draft.data["request_id"])
    if latest is not None and amount < latest.total_minor:
        raise WaiverBelowQuote(latest.total_minor)
    dialogs.move(draft, "reason", now, amount_minor=amount)
    return amount


async def file_waiver(uow: UnitOfWork, policy: Policy, actor: User, draft: Draft, text: str | None, now: datetime) -> Approval:
    """The reason typed: the waiver goes to the chain for its amount; the dialog ends."""
    reason = clean_text(text, limit=COMMENT_LIMIT, expected="text")
    request, quote = await _waivable(uow, actor, draft.data["request_id"])  # accepted while the reason was typed
    if draft.data["amount_minor"] < quote.total_minor:  # a larger quote was sent while the reason was typed
        dialogs.move(draft, "amount", now)
        raise WaiverBelowQuote(quote.total_minor)
    # The quote it covers is its subject: a new quote withdraws it (quotes.send).
    approval = await request_approval(uow, policy, actor, request, "waiver", now, amount_minor=draft.data["amount_minor"],
                                      reason=reason, subject_id=quote.id)
    await dialogs.end(uow, draft)
    return approval
