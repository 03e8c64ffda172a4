"""/archive over HTTP: a dispatcher finds a customer's project, gets the upload chat action and an
XLSX document that opens with the project's requests; a customer is refused; a forged pick of a
customer that was not offered sends nothing."""
from __future__ import annotations

import io

import openpyxl
from sqlalchemy import select

from bot.callbacks import DialogButton
from storage.models import AuditEntry, Draft
from tests.e2e.conftest import DISPATCHER_ID
from tests.e2e.helpers import file_request, onboard, t


def en(message: str, **values) -> str:
    return t("en", message, **values)


def _documents(user) -> list:
    return [m for m in user.messages if m.document is not None]


async def test_a_dispatcher_exports_a_project_archive_and_others_cannot(fake, desk):
    dora = fake.users[DISPATCHER_ID]
    alice = fake.add_user(user_id=7201, first_name="Alice", language_code="en")
    bob = fake.add_user(user_id=7202, first_name="Bob", language_code="en")
    await onboard(alice, company="Yellow River Farm")
    first = await file_request(alice, description="Pump trips the breaker")
    second = await file_request(alice, description="Noise from the motor")
    await onboard(bob, phone="+8613900139000", company="Bob's Mill")
    bobs = await file_request(bob, description="Leaking seal")

    await alice.send_text("/archive")
    assert alice.last.text == en("This command is for dispatchers and managers.")

    await dora.send_text("/archive")
    assert en("Type part of a customer's name, company or phone, or of a project name.") in dora.last.text
    await dora.send_text("x")
    assert dora.last.text == en("Please type at least {n} characters of a name, company, phone or project.", n=2)
    await dora.send_text("nobody-like-this")
    assert dora.last.text == en("Nothing found for “{query}”. Try another part of the name or the phone number.", query="nobody-like-this")
    await desk.restart()  # the search is a draft row: it continues after a restart
    await dora.send_text("yellow")
    assert dora.last.button_texts == ["👤 Alice · Yellow River Farm · +8613800138000", "🏗 Yellow River Farm · Alice", en("✖️ Cancel")]

    # A forged pick of Bob, who was not offered, is refused and sends nothing.
    async with desk.db.uow() as uow:
        draft_id = await uow.session.scalar(select(Draft.id).where(Draft.kind == "archive"))
        bob_id = (await uow.customers.by_user_id((await uow.users.by_telegram_id(7202)).id)).id
    await dora.press_data(DialogButton(draft_id, "search", "customer", str(bob_id)).pack())
    assert dora.callback_answers[-1][1] == en("This button is no longer valid.")
    assert _documents(dora) == []

    await dora.press("🏗 Yellow River Farm · Alice")
    assert dora.chat_actions[-1] == "upload_document"
    [sent] = _documents(dora)
    assert sent.document["file_name"] == "archive-Yellow-River-Farm-2026-03-02.xlsx"
    assert en("📁 Service archive: {name}", name="Yellow River Farm") in sent.caption
    assert en("Requests: {requests} · visits: {visits} · reports: {reports}", requests=2, visits=0, reports=0) in sent.caption
    book = openpyxl.load_workbook(io.BytesIO(fake.files.get(sent.document["file_id"]).data))
    requests = [row for row in book["Requests"].iter_rows(values_only=True)]
    assert [row[0] for row in requests[1:]] == [first, second] and bobs not in str(requests)
    assert requests[1][9] == "Pump trips the breaker"
    assert [row[0] for row in book["Costs"].iter_rows(values_only=True)][-1] == "Total"

    # The press after the export is stale (the dialog is closed); /archive <text> searches at once.
    await dora.press_data(DialogButton(draft_id, "search", "project", "1").pack())
    assert dora.callback_answers[-1][1] == en("This button is no longer valid.")
    await dora.send_text("/archive 139 0013")
    assert dora.last.button_texts[0].startswith("👤 Bob")
    await dora.press(dora.last.button_texts[0])
    assert len(_documents(dora)) == 2 and _documents(dora)[-1].document["file_name"] == "archive-Bob-2026-03-02.xlsx"

    async with desk.db.uow() as uow:
        exports = list(await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "archive_exported").order_by(AuditEntry.id)))
        assert [(e.actor_telegram_id, e.details["kind"], e.details["requests"]) for e in exports] == [(DISPATCHER_ID, "project", 2), (DISPATCHER_ID, "customer", 1)]
        stale = list(await uow.session.scalars(select(AuditEntry.actor_telegram_id).where(AuditEntry.action == "stale_button")))
        assert stale == [DISPATCHER_ID, DISPATCHER_ID]
    fake.assert_no_rejections()
