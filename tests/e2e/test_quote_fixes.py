"""Quotes the customer answers outside the chat, and who hears an answer: a customer a salesperson
filed for without Telegram, whose answer comes by phone; the warehouse holding a paid-repair return."""
from __future__ import annotations

from sqlalchemy import select

from bot.callbacks import QuoteButton
from storage.models import Quote
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import enrol, onboard
from tests.e2e.test_returns import _ask_return, _quoted_paid_return, _sold_to
from tests.e2e.test_sales import _approve, _sell

ACCEPTED_BY_PHONE, DECLINED_BY_PHONE = "☎️ Accepted by phone", "☎️ Declined by phone"
PAID_WORK_REFUSAL = "This is paid work: it starts after the customer accepts the quote or a fee waiver is approved."


async def _quoted_sales_job(fake):
    """Sam files a repair for a phone nobody uses the bot with; both VPs approve; the dispatcher rules
    it paid and gives it to Ed, who quotes 600 CNY of labour. Returns the people and the number."""
    dora = fake.users[DISPATCHER_ID]
    sam = await enrol(fake, dora, 7201, "Sam", "salesperson")
    mia = await enrol(fake, dora, 7101, "Mia", "marketing_vp")
    pavel = await enrol(fake, dora, 7102, "Pavel", "production_vp")
    ed = await enrol(fake, dora, 7401, "Ed", "engineer")
    number = await _sell(sam, "+86 139 1111 2222", "The pump at Field 3 trips the breaker")
    await _approve(mia, number)
    await _approve(pavel, number)
    await dora.send_text(number)
    await dora.press("Warranty…")
    await dora.press("warranty expired")
    await dora.send_text(number)
    await dora.press("Assign")
    await dora.press("Ed")
    await ed.press("✅ Accept")
    await ed.press("🧮 Quote")
    await ed.press("Parts done ›")
    await ed.send_text("600")
    await ed.send_text("0")
    return dora, sam, ed, number


async def _quote_events(desk, number: str) -> list[tuple[str, int | None, dict]]:
    """The request's quote events: action, the actor's Telegram id, details."""
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        return [(e.action, (await uow.users.get(e.actor_user_id)).telegram_id, dict(e.details))
                for e in await uow.requests.events(request.id, include_internal=True) if e.action.startswith("quote_")]


async def _latest_quote(desk, number: str) -> tuple[int, str]:
    """The request's newest quote: its id and status."""
    async with desk.db.uow() as uow:
        request = await uow.requests.by_number(number)
        quote = await uow.session.scalar(select(Quote).where(Quote.request_id == request.id).order_by(Quote.id.desc()).limit(1))
        return quote.id, quote.status


async def test_the_salesperson_gets_the_quote_of_their_customer_without_telegram_and_records_the_yes_given_by_phone(fake, desk):
    dora, sam, ed, number = await _quoted_sales_job(fake)
    sam_seen, dora_seen = len(sam.messages), len(dora.messages)
    await ed.press("📤 Send to the customer")
    sent = ed.last.text
    assert "Quote of CN¥600.00 sent" in sent
    assert "you will be told when the customer answers" not in sent  # nobody can answer in a chat they do not have
    assert "record the answer" in sent

    told = [m for m in sam.messages[sam_seen:] if number in (m.text or "")]
    assert len(told) == 1 and "Total: CN¥600.00" in told[0].text  # the itemised offer, for the call
    assert told[0].button_texts == [ACCEPTED_BY_PHONE, DECLINED_BY_PHONE]

    await ed.press("🚗 On my way")
    assert ed.callback_answers[-1][1] == PAID_WORK_REFUSAL  # nothing recorded yet

    ed_seen = len(ed.messages)
    accept = next(b["callback_data"] for b in told[0].buttons if b["text"] == ACCEPTED_BY_PHONE)
    await sam.press(ACCEPTED_BY_PHONE, told[0])
    assert number in sam.last.text and "accepted" in sam.last.text
    assert (await _latest_quote(desk, number))[1] == "accepted"
    action, actor, details = (await _quote_events(desk, number))[-1]
    assert (action, actor, details.get("by_phone")) == ("quote_accepted", 7201, True)  # Sam recorded it, by phone
    assert any("accepted the quote of CN¥600.00" in (m.text or "") for m in ed.messages[ed_seen:])  # as the customer's own answer tells
    assert any("accepted the quote of CN¥600.00" in (m.text or "") for m in dora.messages[dora_seen:])

    assert told[0].button_texts == []  # the buttons are taken off the quote
    await sam.press_data(accept, told[0])  # a second press (a stale client) records nothing more
    assert "already answered" in sam.callback_answers[-1][1]
    assert [action for action, _, _ in await _quote_events(desk, number)] == ["quote_sent", "quote_accepted"]

    await ed.press("🚗 On my way")
    assert ed.callback_answers[-1][1] != PAID_WORK_REFUSAL
    fake.assert_no_rejections()


async def test_the_dispatcher_records_a_no_by_phone_from_the_request_card_and_nobody_else_may(fake, desk):
    dora, sam, ed, number = await _quoted_sales_job(fake)
    await ed.press("📤 Send to the customer")
    quote_id, _ = await _latest_quote(desk, number)

    # buttons are references, not authority: the engineer and another salesperson are refused
    sue = await enrol(fake, dora, 7202, "Sue", "salesperson")
    for outsider in (ed, sue):
        await outsider.press_data(QuoteButton(quote_id, "phone_yes").pack())
        assert "no longer valid" in outsider.callback_answers[-1][1]
    assert (await _latest_quote(desk, number))[1] == "sent"

    await dora.send_text(number)
    card = dora.last
    assert ACCEPTED_BY_PHONE in card.button_texts and DECLINED_BY_PHONE in card.button_texts
    ed_seen, sam_seen = len(ed.messages), len(sam.messages)
    accept = next(b["callback_data"] for b in card.buttons if b["text"] == ACCEPTED_BY_PHONE)
    await dora.press(DECLINED_BY_PHONE, card)
    assert (await _latest_quote(desk, number))[1] == "declined"
    action, actor, details = (await _quote_events(desk, number))[-1]
    assert (action, actor, details.get("by_phone")) == ("quote_declined", DISPATCHER_ID, True)
    assert any("declined the quote of CN¥600.00" in (m.text or "") for m in ed.messages[ed_seen:])
    assert any("declined the quote of CN¥600.00" in (m.text or "") for m in sam.messages[sam_seen:])  # the customer's contact
    assert any("💸 Ask for a fee waiver" in m.button_texts for m in dora.messages if "declined the quote" in (m.text or ""))

    assert ACCEPTED_BY_PHONE not in card.button_texts and "🧮 Quote" in card.button_texts  # the card drawn again, as it is now
    await dora.press_data(accept, card)  # a stale client: answered already
    assert "already answered" in dora.callback_answers[-1][1]
    assert (await _latest_quote(desk, number))[1] == "declined"
    fake.assert_no_rejections()


async def test_a_phone_answer_to_a_replaced_quote_is_refused(fake, desk):
    dora, sam, ed, number = await _quoted_sales_job(fake)
    await ed.press("📤 Send to the customer")
    first = next(m for m in reversed(sam.messages) if ACCEPTED_BY_PHONE in m.button_texts)
    await ed.press("🧮 Quote", next(m for m in reversed(ed.messages) if "🧮 Quote" in m.button_texts))
    await ed.press("Parts done ›")
    await ed.send_text("500")
    await ed.send_text("0")
    await ed.press("📤 Send to the customer")
    await sam.press(ACCEPTED_BY_PHONE, first)
    assert "already answered or replaced" in sam.callback_answers[-1][1]
    assert (await _latest_quote(desk, number))[1] == "sent"  # the new quote still waits
    await sam.press(ACCEPTED_BY_PHONE, sam.last)
    assert (await _latest_quote(desk, number))[1] == "accepted"
    fake.assert_no_rejections()


async def test_the_warehouse_and_service_managers_hear_the_customers_yes_to_a_paid_repair_and_may_repair(fake, desk):
    dora, alice, sun, wen, number, _ = await _quoted_paid_return(fake, desk, 5021)
    wen_seen, sun_seen = len(wen.messages), len(sun.messages)
    await alice.press("✅ Accept", alice.last)
    for tracker, seen in ((wen, wen_seen), (sun, sun_seen)):
        told = [m for m in tracker.messages[seen:] if number in (m.text or "")]
        assert len(told) == 1 and "accepted the quote" in told[0].text
        assert "🔧 Repaired" in told[0].button_texts
    await wen.press("🔧 Repaired", wen.last)
    async with desk.db.uow() as uow:
        case = await uow.returns.of_request((await uow.requests.by_number(number)).id)
        assert case.state == "repaired"
    fake.assert_no_rejections()


async def test_the_trackers_hear_a_no_by_phone_to_a_paid_repair_and_send_the_product_back(fake, desk):
    dora, alice, sun, wen, number, _ = await _quoted_paid_return(fake, desk, 5022)
    wen_seen = len(wen.messages)
    await dora.send_text(number)
    await dora.press(DECLINED_BY_PHONE, dora.last)
    told = [m for m in wen.messages[wen_seen:] if number in (m.text or "")]
    assert len(told) == 1 and "declined the quote" in told[0].text and "📤 Sent back unrepaired" in told[0].button_texts
    assert any(number in (m.text or "") and "declined the quote" in m.text for m in sun.messages)
    fake.assert_no_rejections()
