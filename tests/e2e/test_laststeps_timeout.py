"""A customer still in comment mode when the confirmation timeout closes their request: what they
send next is kept on the request and passed to the dispatchers, and they learn what happens with
it. It was refused ("This request is closed; comments can no longer be added.") and lost.

The check lives in handlers/status.py (`_comment_after_close`, for any request closed while
comment mode was open; the other reasons: tests/e2e/test_closedcomment_kept.py)."""
from __future__ import annotations

from datetime import timedelta

from tests.e2e.helpers import accepted_job, report_by_phone

async def _in_comment_mode_when_the_timeout_closes(fake, desk, engineer_id: int, customer_id: int):
    """Alice opens comment mode on her repair; Ed reports it done by phone; she never answers, and
    the sweep closes it as confirmed by timeout. (dora, ed, alice, number)"""
    dora, ed, alice, number = await accepted_job(fake, engineer_id, customer_id)
    await alice.send_text(number)
    await alice.press("💬 Add comment or photos")
    await ed.send_text("/jobs")
    await ed.press(number)
    await report_by_phone(ed)
    desk.clock.advance(desk.policy.closing.confirmation_timeout + timedelta(minutes=1))
    await desk.sweep()
    async with desk.db.uow() as uow:
        assert (await uow.requests.by_number(number)).closed_reason == "timeout"
    return dora, ed, alice, number


async def _check_kept(fake, desk, dora, alice, number: str) -> None:
    dora_seen = len(dora.messages)
    await alice.send_text("It still trips the breaker every evening")
    said = alice.last
    assert "comments can no longer be added" not in said.text
    assert number in said.text and "confirmed by timeout" in said.text and "/complain" in said.text
    told = [m.text or "" for m in dora.messages[dora_seen:]]
    assert any(number in text and "It still trips the breaker every evening" in text for text in told), told
    notice = next(m for m in dora.messages[dora_seen:] if "It still trips" in (m.text or ""))
    await dora.press("Open", notice)  # the request's staff card, its history with what she wrote
    assert number in dora.last.text and "It still trips the breaker every evening" in dora.last.text

    dora_seen = len(dora.messages)
    await alice.send_photo(caption="The breaker, yesterday")  # still heard: nothing they send is lost
    assert "comments can no longer be added" not in alice.last.text and "Send more" in alice.last.text
    photo_told = [m for m in dora.messages[dora_seen:] if number in (m.text or m.caption or "")]
    assert photo_told and "The breaker, yesterday" in (photo_told[0].text or photo_told[0].caption or "")
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        assert (request.status, request.closed_reason) == ("closed", "timeout")  # it stays closed
        comments = [e.details.get("text") for e in await uow.requests.events(request.id, include_internal=False) if e.action == "comment"]
        assert comments == ["It still trips the breaker every evening", "The breaker, yesterday"]
        photos = [a for a in await uow.requests.attachments(request.id) if a.kind == "photo"]
        assert len(photos) == 1
    await alice.press("✅ Done", alice.last)
    assert number in alice.last.text  # her card
    async with desk.db.uow() as uow:
        assert await uow.drafts.of_user((await uow.users.by_telegram_id(alice.id)).id) is None
    fake.assert_no_rejections()


async def test_what_a_customer_writes_in_comment_mode_after_the_timeout_closed_the_request_is_kept(fake, desk):
    dora, ed, alice, number = await _in_comment_mode_when_the_timeout_closes(fake, desk, 7991, 5991)
    await _check_kept(fake, desk, dora, alice, number)


async def test_an_empty_or_too_long_message_after_the_timeout_is_answered_and_comment_mode_stays(fake, desk):
    dora, ed, alice, number = await _in_comment_mode_when_the_timeout_closes(fake, desk, 7993, 5993)
    await alice.send_text("x" * 5000)
    assert "too long" in alice.last.text
    await alice.send_text("Still broken")
    assert "confirmed by timeout" in alice.last.text
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        events = [e for e in await uow.requests.events(request.id, include_internal=False) if e.action == "comment"]
        assert [e.details.get("text") for e in events] == ["Still broken"]
    fake.assert_no_rejections()
