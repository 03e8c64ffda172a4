"""Structured logs: every line of an update carries its ids; no phone, address or message text is ever logged."""
from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy import select
from telegram import Update

from bot.ops.logs import JsonFormatter, KeyValueFormatter, bind, bind_update, clear_context, install_redaction, redact_text
from storage.models import Customer, ServiceRequest
from tests.e2e.conftest import desk, fake  # noqa: F401 - the end-to-end fixtures
from tests.e2e.helpers import onboard, t

PHONE = "+8613912345678"
ADDRESS = "No. 17 Lotus Lane, Jinshui District, Zhengzhou"
DESCRIPTION = "Compressor rattles at night, call me on 139 1234 5678"
ALL_LOGGERS = ("", "telegram", "telegram.ext", "httpx", "httpcore", "apscheduler", "aiosqlite", "asyncpg",
               "sqlalchemy", "sqlalchemy.engine", "aiohttp", "handlers", "bot", "storage")


@pytest.fixture
def redaction():
    previous = logging.getLogRecordFactory()
    install_redaction()
    yield
    logging.setLogRecordFactory(previous)
    clear_context()


def _leaks(text: str) -> list[str]:
    found = [needle for needle in ("Lotus Lane", "Jinshui", "Compressor rattles", "call me on") if needle in text]
    if "13912345678" in re.sub(r"\D", "", text):  # in any spelling: +86 139-1234-5678, 13912345678…
        found.append("phone")
    return found


async def test_a_customer_flow_logs_no_phone_address_or_text_and_carries_the_ids(desk, fake, caplog, redaction):
    for name in ALL_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    alice = fake.add_user(user_id=3101, first_name="Alice", language_code="en")
    await onboard(alice, phone=PHONE)
    await alice.send_text("/new")
    await alice.press(t("en", "Fault repair"))
    await alice.press(t("en", "I don't know the serial number"))
    await alice.send_text(DESCRIPTION)
    await alice.press(t("en", "Skip, no photos"))
    await alice.send_text(ADDRESS)  # typed instead of a location: the site address
    await alice.press(t("en", "✅ Confirm and send"))
    fake.assert_no_rejections()

    # The flow really carried the personal data into the database…
    async with desk.db.uow() as uow:
        assert await uow.session.scalar(select(Customer.phone).where(Customer.phone == PHONE)) == PHONE
        request = await uow.session.scalar(select(ServiceRequest).where(ServiceRequest.site_address == ADDRESS))
        assert request is not None and request.description == DESCRIPTION
        number = request.number

    # …and none of it into the log, at DEBUG, from any library.
    assert len(caplog.records) > 50, "DEBUG logging of the libraries was captured"
    for record in caplog.records:
        text = record.getMessage() + "\n" + (record.exc_text or "")
        assert not _leaks(text), (record.name, text[:500])
    assert not _leaks(caplog.text)

    handled = [r for r in caplog.records if r.name == "handlers.common" and r.getMessage().startswith("handled by")]
    assert handled and all(getattr(r, "user", None) == alice.id for r in handled)
    assert {getattr(r, "update", None) for r in handled} <= set(alice.update_ids)
    numbered = [r for r in handled if getattr(r, "request", None)]
    assert numbered and numbered[-1].request == [number]
    line = KeyValueFormatter().format(numbered[-1])
    assert f"update={numbered[-1].update}" in line and f"user={alice.id}" in line and f"request={number}" in line


def test_structured_arguments_lose_the_values_people_typed(redaction, caplog):
    caplog.set_level(logging.DEBUG)
    bind_update(41, 3001)
    logging.getLogger("telegram.Bot").debug(
        "Calling Bot API endpoint `%s` with parameters `%s`", "sendMessage",
        {"chat_id": 3001, "text": f"Your address: {ADDRESS}", "reply_markup": {"inline_keyboard": [[{"text": "Use “Alice”", "callback_data": "1:x"}]]}},
    )
    record = caplog.records[-1]
    assert "Lotus" not in record.getMessage() and "Alice" not in record.getMessage()
    assert "'chat_id': 3001" in record.getMessage()
    assert (record.update, record.user) == (41, 3001)


def test_ptb_debug_dump_of_an_update_keeps_no_document_name_forwarded_senders_name_or_link(redaction, caplog):
    caplog.set_level(logging.DEBUG)
    update = Update.de_json({
        "update_id": 5,
        "message": {
            "message_id": 1, "date": 1700000000, "chat": {"id": 3001, "type": "private"},
            "from": {"id": 3001, "is_bot": False, "first_name": "A"},
            "document": {"file_id": "x", "file_unique_id": "y", "file_name": "Zhang Weilin ID card.pdf", "file_size": 48213},
            "forward_origin": {"type": "hidden_user", "date": 1700000000, "sender_user_name": "Wang Fang"},
            "caption": "see the card", "author_signature": "Li Na",
            "caption_entities": [{"type": "text_link", "offset": 0, "length": 3, "url": "https://example.com/chen-jie"}],
            "audio": {"file_id": "a", "file_unique_id": "b", "duration": 3, "performer": "Zhou Xun", "title": "Voice memo"},
            "venue": {"location": {"latitude": 34.7466, "longitude": 113.6253}, "title": "Works", "address": "Lotus Lane",
                      "google_place_id": "ChIJ-the-customers-site"},
        },
    }, None)
    logging.getLogger("telegram.ext.Application").debug("Processing update %s", update)
    text = caplog.records[-1].getMessage()
    assert not [name for name in ("Zhang Weilin", "Wang Fang", "Li Na", "chen-jie", "Zhou Xun", "Lotus", "ChIJ", "34.74", "113.62")
                if name in text], text
    # What is needed to follow an update stays: ids, types, flags, file ids, sizes, positions.
    for kept in ("'update_id': 5", "'message_id': 1", "'id': 3001", "HIDDEN_USER", "'is_bot': False", "'file_id': 'x'",
                 "'file_size': 48213", "TEXT_LINK", "'offset': 0", "'duration': 3"):
        assert kept in text, (kept, text)


def test_phone_like_numbers_and_tokens_are_redacted_but_dates_and_addresses_of_servers_are_not():
    assert redact_text("call +86 139-1234-5678 now") == "call <phone> now"
    assert redact_text("call 13912345678") == "call <phone>"
    assert "<bot-token>" in redact_text("POST https://api.telegram.org/bot123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi/getMe")
    assert redact_text("at 2026-03-02 01:30 on 127.0.0.1:8080 took 12.5 s") == "at 2026-03-02 01:30 on 127.0.0.1:8080 took 12.5 s"
    assert redact_text("[SQL: INSERT ...]\n[parameters: ('+8613912345678', 'No. 17 Lotus Lane')]\n") == "[SQL: INSERT ...]\n[parameters: <redacted>]\n"


def test_exceptions_are_redacted_in_the_traceback(redaction, caplog):
    caplog.set_level(logging.ERROR)
    try:
        raise ValueError(f"customer phone {PHONE} rejected")
    except ValueError:
        logging.getLogger("handlers.common").exception("error while handling update %s", 9)
    record = caplog.records[-1]
    assert "13912345678" not in record.exc_text and "<phone>" in record.exc_text
    assert "13912345678" not in caplog.text


def test_json_lines_carry_the_context_fields(redaction):
    bind_update(77, 3001)
    bind(request=["SR-2026-000001"])
    record = logging.getLogger("handlers.x").makeRecord("handlers.x", logging.INFO, __file__, 1, "handled by %s", ("cmd_new",), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["update"] == 77 and entry["user"] == 3001 and entry["request"] == ["SR-2026-000001"]
    assert entry["message"] == "handled by cmd_new" and entry["level"] == "INFO"
    clear_context()
    record = logging.getLogger("bot.scheduler").makeRecord("bot.scheduler", logging.INFO, __file__, 1, "sweep", (), None)
    assert "update" not in json.loads(JsonFormatter().format(record))


def test_a_skipped_scheduler_run_is_not_logged_but_other_scheduler_warnings_are(caplog):
    import bot.scheduler  # noqa: F401 - installs the filter

    scheduler_log = logging.getLogger("apscheduler.scheduler")
    with caplog.at_level(logging.WARNING, logger="apscheduler.scheduler"):
        scheduler_log.warning('Execution of job "%s" skipped: maximum number of running instances reached (%d)', "outbox", 1)
        scheduler_log.warning('Run time of job "%s" was missed by %s', "sweep", "0:00:05")
    assert [record.getMessage() for record in caplog.records] == ['Run time of job "sweep" was missed by 0:00:05']
