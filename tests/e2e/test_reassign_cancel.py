"""The customer cancels while the dispatcher gives the job to another engineer: the one on the job hears."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services import dispatch, requests
from storage.models import User
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import assign, enrol, file_request, onboard, t

CANCELLED = "✖️ The customer cancelled request {number}."


async def assigned_job(fake, base: int):
    """Alice's repair, given to Ed, who has not accepted it yet (she may still cancel)."""
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, base + 1, "Ed", "engineer")
    fay = await enrol(fake, dora, base + 2, "Fay", "engineer")
    alice = fake.add_user(user_id=base + 3, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed")
    return dora, ed, fay, alice, number


def _told_cancelled(person, number: str, since: int) -> bool:
    return any(t("en", CANCELLED, number=number) in (m.text or "") for m in person.messages[since:])


async def test_the_engineer_given_the_job_after_the_card_was_opened_is_told_of_the_cancel(fake, desk):
    dora, ed, fay, alice, number = await assigned_job(fake, 8410)
    await alice.send_text(f"/status {number}")
    await alice.press("✖️ Cancel this request")
    question = alice.last
    await dora.send_text(number)  # meanwhile the dispatcher gives the job to Fay
    await dora.press("👷 Reassign", dora.last)
    await dora.press("Fay")
    seen_ed, seen_fay = len(ed.messages), len(fay.messages)
    await alice.press("Yes, cancel it", question)
    assert _told_cancelled(fay, number, seen_fay), "the engineer on the job was not told"
    assert not _told_cancelled(ed, number, seen_ed)
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(number)).status == requests.CANCELLED
    fake.assert_no_rejections()


async def test_a_reassignment_committed_while_the_cancel_is_handled_tells_the_new_engineer(fake, desk, monkeypatch):
    """Another bot process commits the reassignment after this one read the request, before it
    locked it to cancel (PostgreSQL: SQLite runs whole transactions one after another)."""
    if desk.db.engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL lets two transactions on one request overlap")
    dora, ed, fay, alice, number = await assigned_job(fake, 8420)
    await alice.send_text(f"/status {number}")
    await alice.press("✖️ Cancel this request")
    question = alice.last
    original, armed = requests.own_request, [True]

    async def own_request_then_reassigned(uow, customer, request_id, **kwargs):
        request = await original(uow, customer, request_id, **kwargs)
        if armed:
            armed.clear()
            async with desk.db.uow() as other:  # the dispatcher's process
                ids = [await other.session.scalar(select(User.id).where(User.telegram_id == i)) for i in (DISPATCHER_ID, fay.id, ed.id)]
                actor, to, was = [await other.users.get(i) for i in ids]
                await dispatch.assign(other, actor, request_id, to.id, was.id, desk.clock.now())
                await other.commit()
        return request

    monkeypatch.setattr(requests, "own_request", own_request_then_reassigned)
    seen_ed, seen_fay = len(ed.messages), len(fay.messages)
    await alice.press("Yes, cancel it", question)
    assert not armed
    assert _told_cancelled(fay, number, seen_fay), "the engineer on the job when it was cancelled was not told"
    assert not _told_cancelled(ed, number, seen_ed)
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert request.status == requests.CANCELLED
        assert (await uow.users.get(request.assigned_engineer_id)).telegram_id == fay.id
    fake.assert_no_rejections()
