"""Multi-step dialogs whose state is a `Draft` row: one active dialog per user."""
from __future__ import annotations

from datetime import datetime
from collections.abc import Callable
from typing import Any

from bot.services.errors import StaleAction
from storage.db import UnitOfWork
from storage.models import Draft


async def current(uow: UnitOfWork, user_id: int) -> Draft | None:
    return await uow.drafts.of_user(user_id)


# Dialogs worth keeping aside when another interrupts them, with the data keys that hold what the
# user typed or sent: a draft with none of them holds nothing worth keeping (whatever its step:
# Back or Edit can lead to the first step of a filled form). The intake is a long form with
# photos, the engineer's report a ten-step one, the expert's answer a long analysis, a complaint
# or a return the customer's own account, the salesperson's /sell form a customer's details, a
# spare-parts requisition the parts picked from the catalog one by one, a complaint supervisor's
# written answer (its text, once typed: previewed or being rewritten); the others are a few
# quick answers. One of each kind and subject (SUBJECT_KEYS) is kept per person
# (storage ParkedDraft); each is opened again by its own start (`reopen`).
KEPT_ASIDE = {
    "intake": ("description", "photos", "voices", "site"),
    "report": ("symptom", "cause", "solution", "parts", "photos", "opinion"),
    "expert_answer": ("analysis", "plan"),
    "complaint": ("description",),
    "return": ("description",),
    "sales_request": ("name", "phone", "serial", "description"),
    "requisition": ("lines", "pending"),
    "complaint_work": ("answer",),
}


# Data keys that mark a dialog no start button resumes: the edit of a sent report opens from the
# report itself, so keeping it would only push out a report still being written.
NOT_RESUMABLE = {"report": "editing_report"}


# What a kept-aside dialog is about, where a person may have several of a kind at once (two jobs'
# reports or requisitions, complaints about two requests, answers to two complaints; the
# customer's own fault report and a maintenance booking opened from a reminder, which names its
# product): each is kept apart. The others are kept one per kind.
SUBJECT_KEYS = {"report": "request_id", "requisition": "request_id", "expert_answer": "escalation_id",
                "complaint": "about_request_id", "return": "product_id", "complaint_work": "complaint_id",
                "intake": "product_id"}


def subject_of(draft: Draft) -> str:
    key = SUBJECT_KEYS.get(draft.kind)
    value = draft.data.get(key) if key else None
    return "" if value is None else str(value)


def worth_keeping(draft: Draft) -> bool:
    if draft.data.get(NOT_RESUMABLE.get(draft.kind, "")):
        return False
    return any(draft.data.get(key) for key in KEPT_ASIDE.get(draft.kind, ()))


async def begin(uow: UnitOfWork, user_id: int, kind: str, step: str, data: dict[str, Any], now: datetime) -> Draft:
    """Start a dialog, replacing any other the user had open. An unfinished one worth keeping
    (KEPT_ASIDE) is kept aside (`resume_parked` opens it again), so pressing a button of another
    message loses nothing."""
    existing = await uow.drafts.of_user(user_id)
    if existing is not None:
        if worth_keeping(existing):
            await uow.drafts.park(existing, subject_of(existing), now)
        await uow.drafts.delete(existing)
    return await uow.drafts.add(Draft(user_id=user_id, kind=kind, step=step, data=data, updated_at=now))


async def resume_parked(uow: UnitOfWork, user_id: int, kind: str, now: datetime,
                        belongs: Callable[[dict[str, Any]], bool] | None = None) -> Draft | None:
    """The dialog of `kind` kept aside when another interrupted it, open again where it stopped;
    with `belongs`, only one whose data passes it (a report of the same job)."""
    kept = next((row for row in await uow.drafts.kept_aside(user_id, kind) if belongs is None or belongs(row.data)), None)
    if kept is None:
        return None
    step, data = kept.step, kept.data
    await uow.drafts.unpark(kept)
    return await begin(uow, user_id, kind, step, data, now)


async def reopen(uow: UnitOfWork, user_id: int, kind: str, now: datetime,
                 belongs: Callable[[dict[str, Any]], bool] | None = None) -> Draft | None:
    """The user's dialog of `kind` where it stopped: the one open now, else the one kept aside
    (`resume_parked`); with `belongs`, only one whose data passes it. None when there is neither."""
    draft = await uow.drafts.of_user(user_id)
    if draft is not None and draft.kind == kind and (belongs is None or belongs(draft.data)):
        return draft
    return await resume_parked(uow, user_id, kind, now, belongs)


async def drop_parked(uow: UnitOfWork, user_id: int, kind: str, belongs: Callable[[dict[str, Any]], bool]) -> None:
    """Forget the user's dialogs of `kind` kept aside whose data passes `belongs` (they are outdated)."""
    for kept in await uow.drafts.kept_aside(user_id, kind):
        if belongs(kept.data):
            await uow.drafts.unpark(kept)


async def end(uow: UnitOfWork, draft: Draft) -> None:
    await uow.drafts.delete(draft)


def move(draft: Draft, step: str, now: datetime, **changes: Any) -> None:
    """Go to `step`, merging `changes` into the data (a new dict, so the JSON column is saved)."""
    draft.data = {**draft.data, **changes}
    draft.step = step
    draft.updated_at = now


def check_button(draft: Draft | None, draft_id: int, step: str) -> Draft:
    """A dialog button is valid only for the same dialog and the step it was shown at."""
    if draft is None or draft.id != draft_id or draft.step != step:
        raise StaleAction()
    return draft
