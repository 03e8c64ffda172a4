"""Personal-data erasure on SQLite and PostgreSQL: nothing personal left anywhere, statistics unchanged,
a second erasure harmless, and only admins may ask."""
from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bot.services import erasure
from bot.services.errors import NotAllowed, NotFound
from storage.models import (
    Attachment,
    AuditEntry,
    Base,
    Complaint,
    ComplaintNote,
    Customer,
    Draft,
    ParkedDraft,
    Escalation,
    FollowUpCall,
    JobReport,
    OutboxMessage,
    Product,
    Project,
    Quote,
    RequestEvent,
    ServiceRequest,
    Survey,
    User,
    UserRole,
    Visit,
)

NAME, COMPANY, USERNAME = "Zhang Weilin", "Lotus Orchard Cooperative", "zhang_weilin_88"
PHONE = "+8613912345678"
ADDRESS = "No. 17 Lotus Lane, Jinshui District"
DESCRIPTION = "Compressor rattles at night in the cold store"
COMMENT = "The gate code is 4471, ring twice"
SURVEY_COMMENT = "Engineer Li was polite but late"
COMPLAINT_TEXT = "Nobody called me back for three days"
COMPLAINT_ANSWER = "Dear Zhang Weilin, we apologise for the delay"
FEEDBACK = "Works fine since the visit, thank you"
OPINION = "Satisfied, the noise is gone"
COUNTER = "Only after 6 pm please"
DRAFT_TEXT = "Second unit leaks oil near the valve"
PERSONAL = [NAME, COMPANY, USERNAME, ADDRESS, DESCRIPTION, COMMENT, SURVEY_COMMENT, COMPLAINT_TEXT, COMPLAINT_ANSWER,
            FEEDBACK, OPINION, COUNTER, DRAFT_TEXT, "Lotus Lane", "Weilin"]
PHONE_DIGITS = "13912345678"
CUSTOMER_TELEGRAM_ID = 3301


async def _user(uow, telegram_id, first_name, clock, *roles, **fields):
    user = await uow.users.add(User(telegram_id=telegram_id, first_name=first_name, language="en", created_at=clock.now(), roles=[], **fields))
    for role in roles:
        await uow.users.add_role(user, role)
    return user


async def _seed(uow, clock) -> dict[str, int]:
    """A customer with a repair (visit, report, survey, follow-up, comment, photo), a complaint about it and an open draft."""
    now = clock.now()
    admin = await _user(uow, 9001, "Dora", clock, "admin", "dispatcher")
    engineer = await _user(uow, 9101, "Li", clock, "engineer")
    supervisor = await _user(uow, 9102, "Qian", clock, "complaint_supervisor")
    person = await _user(uow, CUSTOMER_TELEGRAM_ID, "Weilin", clock, username=USERNAME, full_name=NAME, phone=PHONE)
    customer = await uow.customers.add(Customer(user_id=person.id, name=NAME, phone=PHONE, company=COMPANY, created_at=now))
    project = await uow.customers.add_project(Project(customer_id=customer.id, name=f"{COMPANY} cold store", created_at=now))
    product = await uow.products.add(Product(serial="QJ-7001", model="QJ 50-120", customer_id=customer.id, project_id=project.id,
                                             sale_date=date(2025, 6, 1), owner_name=COMPANY))
    # Another customer, whose data must stay as it is.
    other = await uow.customers.add(Customer(name="Wang Fang", phone="+8613700000000", company="Other Farm", created_at=now))

    def request(number, kind, status, customer_id, description, **fields):
        fields.setdefault("created_by_user_id", person.id)
        return ServiceRequest(number=number, kind=kind, status=status, customer_id=customer_id, description=description,
                              created_at=now, updated_at=now, **fields)

    repair = await uow.requests.add(request("SR-2026-000001", "repair", "closed", customer.id, DESCRIPTION, site_address=ADDRESS,
                                            site_latitude=34.7466, site_longitude=113.6253, product_id=product.id,
                                            assigned_engineer_id=engineer.id, warranty="in"))
    complaint_request = await uow.requests.add(request("SR-2026-000002", "complaint", "answered", customer.id, COMPLAINT_TEXT))
    others_request = await uow.requests.add(request("SR-2026-000003", "repair", "new", other.id, "Other farm's pump is loud",
                                                    site_address="Other Farm, Kaifeng", created_by_user_id=admin.id))
    add = uow.session.add
    add(RequestEvent(request_id=repair.id, actor_user_id=person.id, action="created", details={"status": "new"}, created_at=now))
    add(RequestEvent(request_id=repair.id, actor_user_id=person.id, action="comment", details={"text": COMMENT}, created_at=now))
    add(RequestEvent(request_id=repair.id, actor_user_id=admin.id, action="contacted",
                     details={"note": f"Called {PHONE}, confirmed the site"}, internal=True, created_at=now))
    add(RequestEvent(request_id=repair.id, actor_user_id=engineer.id, action="arrived", details={"note": "on site"}, created_at=now))
    add(RequestEvent(request_id=others_request.id, actor_user_id=admin.id, action="created", details={"status": "new"}, created_at=now))
    add(Attachment(request_id=repair.id, kind="photo", file_id="AgACAgQAAxkBAAIB-customer-photo", added_by_user_id=person.id, created_at=now))
    add(Attachment(request_id=repair.id, kind="photo", file_id="AgACAgQAAxkBAAIC-engineer-photo", added_by_user_id=engineer.id, created_at=now))
    add(Visit(request_id=repair.id, engineer_id=engineer.id, planned_at=now, state="arrived", counter_note=COUNTER,
              arrived_at=now, latitude=34.7467, longitude=113.6254, created_at=now))
    add(JobReport(request_id=repair.id, engineer_id=engineer.id, symptom="Compressor noise", cause="Loose mounting bolt",
                  solution=f"Tightened bolts at {ADDRESS}", labour_hours=2.5, travel_km=42.0, travel_cost=12_600,
                  customer_opinion=OPINION, certificate=False, fault_type="mechanical", submitted_at=now, updated_at=now,
                  confirmed_at=now, outcome="confirmed"))
    add(Survey(request_id=repair.id, stars=4, on_time=False, comment=SURVEY_COMMENT, created_at=now, completed_at=now))
    add(Quote(request_id=repair.id, created_by_id=admin.id, status="accepted", parts_minor=30_000, labour_minor=20_000,
              travel_minor=12_600, total_minor=62_600, created_at=now, answered_at=now))
    add(Escalation(request_id=repair.id, expert_id=engineer.id, requested_by_user_id=admin.id,
                   question=f"Customer {NAME} reports rattling", analysis="Mounting", plan="Tighten", created_at=now, answered_at=now))
    add(FollowUpCall(request_id=repair.id, round=1, due_on=date(2026, 3, 5), due_by=date(2026, 3, 9), state="done",
                     caller_id=admin.id, outcome="satisfied", feedback=FEEDBACK, done_at=now, created_at=now))
    complaint = Complaint(request_id=complaint_request.id, about_request_id=repair.id, subject="service", source="command",
                          supervisor_id=supervisor.id, state="answered", service_fault=True, cause_note=f"{NAME} waited 3 days",
                          corrective_action="Call-back rota", answer=COMPLAINT_ANSWER, created_at=now, answered_at=now, updated_at=now)
    add(complaint)
    await uow.session.flush()
    add(ComplaintNote(complaint_id=complaint.id, author_id=supervisor.id, text=f"Phoned {PHONE[:3]} 139 1234 5678 back", created_at=now))
    add(ComplaintNote(complaint_id=complaint.id, author_id=supervisor.id, text="Dispatcher rota was short that week", created_at=now))
    add(Draft(user_id=person.id, kind="intake", step="site", data={"description": DRAFT_TEXT, "site": {"address": ADDRESS}}, updated_at=now))
    add(ParkedDraft(user_id=person.id, kind="intake", step="confirm", data={"description": DRAFT_TEXT}, parked_at=now))  # kept aside
    await uow.session.flush()
    return {"admin": admin.id, "engineer": engineer.id, "supervisor": supervisor.id, "customer": customer.id, "other": other.id, "person": person.id}


async def _all_texts(uow) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text and JSON value in the whole database."""
    found = []
    for table in Base.metadata.sorted_tables:
        rows = (await uow.session.execute(select(table))).mappings().all()
        for row in rows:
            for column, value in row.items():
                if isinstance(value, str):
                    found.append((table.name, column, value))
                elif isinstance(value, (dict, list)):
                    found.append((table.name, column, json.dumps(value, ensure_ascii=False)))
    return found


def _personal_left(texts) -> list[tuple[str, str, str]]:
    left = []
    for table, column, value in texts:
        digits = re.sub(r"\D", "", value)
        if any(p.lower() in value.lower() for p in PERSONAL) or PHONE_DIGITS in digits:
            left.append((table, column, value[:80]))
    return left


async def _statistics(uow) -> dict:
    """What reports count: rows per table, numbers, kinds, statuses, stars, costs, hours, dates."""
    counts = {t.name: await uow.session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables if t.name != "audit_log"}
    requests = (await uow.session.execute(select(ServiceRequest.number, ServiceRequest.kind, ServiceRequest.status,
                                                 ServiceRequest.warranty, ServiceRequest.created_at).order_by(ServiceRequest.id))).all()
    reports = (await uow.session.execute(select(JobReport.labour_hours, JobReport.travel_km, JobReport.travel_cost,
                                                JobReport.fault_type, JobReport.outcome))).all()
    surveys = (await uow.session.execute(select(Survey.stars, Survey.on_time))).all()
    quotes = (await uow.session.execute(select(Quote.total_minor, Quote.status))).all()
    complaints = (await uow.session.execute(select(Complaint.service_fault, Complaint.state, Complaint.subject))).all()
    calls = (await uow.session.execute(select(FollowUpCall.outcome, FollowUpCall.state))).all()
    events = (await uow.session.execute(select(RequestEvent.action, RequestEvent.created_at).order_by(RequestEvent.id))).all()
    return {"counts": counts, "requests": requests, "reports": reports, "surveys": surveys, "quotes": quotes,
            "complaints": complaints, "calls": calls, "events": events}


async def test_erasure_leaves_no_personal_data_and_the_same_statistics(database, clock):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        await uow.commit()
    async with database.uow() as uow:
        assert len(_personal_left(await _all_texts(uow))) > 15  # the seed really is personal
        before = await _statistics(uow)
        admin = await uow.users.get(ids["admin"])
        result = await erasure.erase_customer(uow, admin, ids["customer"], clock.now())
        await uow.commit()
    assert (result.already_erased, result.requests) == (False, 2) and result.fields > 15

    async with database.uow() as uow:
        assert _personal_left(await _all_texts(uow)) == []
        after = await _statistics(uow)
        assert after["counts"]["drafts"] == before["counts"]["drafts"] - 1  # the open dialog went with what was typed in it
        assert after["counts"]["parked_drafts"] == before["counts"]["parked_drafts"] - 1  # and the one kept aside
        after["counts"]["drafts"], after["counts"]["parked_drafts"] = before["counts"]["drafts"], before["counts"]["parked_drafts"]
        assert after == before
        customer = await uow.customers.get(ids["customer"])
        assert (customer.name, customer.phone, customer.erased_at) == (erasure.ERASED, erasure.ERASED, clock.now())
        person = await uow.users.get(ids["person"])
        assert person.telegram_id != CUSTOMER_TELEGRAM_ID and person.username is None and person.phone is None
        assert await uow.users.by_telegram_id(CUSTOMER_TELEGRAM_ID) is None  # writing again starts a new, empty profile
        repair = await uow.requests.by_number("SR-2026-000001")
        assert (repair.site_latitude, repair.site_longitude) == (None, None)
        files = dict((await uow.session.execute(select(Attachment.added_by_user_id, Attachment.file_id))).all())
        assert files == {ids["person"]: erasure.ERASED, ids["engineer"]: "AgACAgQAAxkBAAIC-engineer-photo"}
        notes = [n for (n,) in (await uow.session.execute(select(ComplaintNote.text).order_by(ComplaintNote.id))).all()]
        assert notes == [erasure.ERASED, "Dispatcher rota was short that week"]  # staff text kept unless it names the customer
        report = await uow.jobs.report_of(repair.id)
        assert (report.symptom, report.cause, report.solution) == ("Compressor noise", "Loose mounting bolt", erasure.ERASED)
        other = await uow.customers.get(ids["other"])
        assert (other.name, other.phone, other.erased_at) == ("Wang Fang", "+8613700000000", None)
        assert (await uow.requests.by_number("SR-2026-000003")).site_address == "Other Farm, Kaifeng"
        audit = await uow.audit.by_action(erasure.AUDIT_ACTION)
        assert [(a.actor_telegram_id, a.details["customer_id"], a.details["already_erased"]) for a in audit] == [(9001, ids["customer"], False)]


async def test_erasing_twice_changes_nothing_but_is_audited_again(database, clock):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        admin = await uow.users.get(ids["admin"])
        await erasure.erase_customer(uow, admin, ids["customer"], clock.now())
        await uow.commit()
    async with database.uow() as uow:
        snapshot = sorted(await _all_texts(uow))
        stats = await _statistics(uow)
    clock.advance(timedelta(days=1))
    async with database.uow() as uow:
        admin = await uow.users.get(ids["admin"])
        again = await erasure.erase_customer(uow, admin, ids["customer"], clock.now())
        await uow.commit()
    assert (again.already_erased, again.fields, again.requests) == (True, 0, 2)
    async with database.uow() as uow:
        texts = sorted(await _all_texts(uow))
        audit = await uow.audit.by_action(erasure.AUDIT_ACTION)
        assert [a.details["already_erased"] for a in audit] == [False, True]
        audit_texts = {(t, c, v) for t, c, v in texts if t == "audit_log"}
        assert [x for x in texts if x not in audit_texts] == [x for x in snapshot if x[0] != "audit_log"]
        assert await _statistics(uow) == stats
        customer = await uow.customers.get(ids["customer"])
        assert customer.erased_at == clock.now() - timedelta(days=1)  # the first erasure's time stays


@pytest.mark.parametrize("roles", [(), ("dispatcher",), ("service_manager", "general_manager")])
async def test_only_an_admin_may_erase(database, clock, roles):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        someone = await _user(uow, 9500, "Mo", clock, *roles)
        await uow.commit()
    async with database.uow() as uow:
        someone = await uow.users.get(someone.id)
        with pytest.raises(NotAllowed):
            await erasure.erase_customer(uow, someone, ids["customer"], clock.now())
    async with database.uow() as uow:
        assert (await uow.customers.get(ids["customer"])).name == NAME
        assert await uow.audit.by_action(erasure.AUDIT_ACTION) == []


async def test_a_deactivated_admin_or_a_staff_member_as_customer_is_refused(database, clock):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        admin = await uow.users.get(ids["admin"])
        staff_customer = await uow.customers.add(Customer(user_id=ids["engineer"], name="Li", phone="+8613600000000", created_at=clock.now()))
        with pytest.raises(NotAllowed, match="staff"):
            await erasure.erase_customer(uow, admin, staff_customer.id, clock.now())
        with pytest.raises(NotFound):
            await erasure.erase_customer(uow, admin, 999_999, clock.now())
        admin.is_active = False
        with pytest.raises(NotAllowed):
            await erasure.erase_customer(uow, admin, ids["customer"], clock.now())


async def test_the_customer_is_found_by_phone_in_any_spelling_or_by_request_number(database, clock):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        assert [c.id for c in await erasure.find_customers(uow, "+86 139-1234-5678")] == [ids["customer"]]
        assert [c.id for c in await erasure.find_customers(uow, "sr-2026-000002")] == [ids["customer"]]
        for unknown in ("+86 100 0000 0000", "SR-2026-999999", "not a phone", ""):
            with pytest.raises(NotFound):
                await erasure.find_customers(uow, unknown)


async def test_a_phone_shared_without_the_plus_is_found_with_it_and_the_other_way_round(database, clock):
    async with database.uow() as uow:
        shared = await uow.customers.add(Customer(name="Shared", phone="8613511112222", created_at=clock.now()))  # as Telegram sends contacts
        typed = await uow.customers.add(Customer(name="Typed", phone="+8613633334444", created_at=clock.now()))
        assert [c.id for c in await erasure.find_customers(uow, "+86 135 1111 2222")] == [shared.id]
        assert [c.id for c in await erasure.find_customers(uow, "86 136 3333 4444")] == [typed.id]


async def _filed_by_sales_too(uow, clock, ids) -> tuple[int, str]:
    """A record a salesperson filed for the customer's phone (typed with "+", no chat), with a
    request on which the dispatcher noted the company only the customer's own record knows."""
    now = clock.now()
    filed = await uow.customers.add(Customer(name="Weilin", phone=PHONE, company=None, created_at=now))
    request = await uow.requests.add(ServiceRequest(number="SR-2026-000004", kind="repair", status="new", customer_id=filed.id,
                                                    description="Cold store door seal torn", created_at=now, updated_at=now,
                                                    created_by_user_id=ids["admin"]))
    uow.session.add(RequestEvent(request_id=request.id, actor_user_id=ids["admin"], action="contacted",
                                 details={"note": f"Called the {COMPANY} office"}, internal=True, created_at=now))
    await uow.session.flush()
    return filed.id, request.number


async def test_every_record_with_the_phone_is_found_and_erasing_them_together_uses_the_details_of_all(database, clock):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        filed, number = await _filed_by_sales_too(uow, clock, ids)
        assert [c.id for c in await erasure.find_customers(uow, "+86 139 1234 5678")] == [ids["customer"], filed]  # the oldest first
        assert [c.id for c in await erasure.find_customers(uow, number)] == [filed]
        assert [c.id for c in await erasure.same_phone_elsewhere(uow, await uow.customers.get(filed))] == [ids["customer"]]
        results = await erasure.erase_customers(uow, await uow.users.get(ids["admin"]), [ids["customer"], filed], clock.now())
        await uow.commit()
    assert [(r.customer_id, r.already_erased, r.requests) for r in results] == [(ids["customer"], False, 2), (filed, False, 1)]
    async with database.uow() as uow:
        assert _personal_left(await _all_texts(uow)) == []  # the note on the filed record named the company of her own
        assert [a.details["customer_id"] for a in await uow.audit.by_action(erasure.AUDIT_ACTION)] == [ids["customer"], filed]


async def test_a_staff_account_among_the_records_refuses_them_all_before_anything_changes(database, clock):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        staff_record = await uow.customers.add(Customer(user_id=ids["engineer"], name="Li", phone=PHONE, created_at=clock.now()))
        with pytest.raises(NotAllowed, match="staff"):
            await erasure.erase_customers(uow, await uow.users.get(ids["admin"]), [ids["customer"], staff_record.id], clock.now())
        assert (await uow.customers.get(ids["customer"])).name == NAME


async def test_the_console_command_erases_once_and_names_what_it_did(database, clock):
    from bot.config import Settings
    from bot.ops.erase_cli import erase_from_cli

    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        await uow.commit()
    settings = Settings(bot_token="123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi", database_url=database.url)
    assert await erase_from_cli(settings, 9001, "SR-2026-999999", by_id=False) == (False, "erase: no customer found for 'SR-2026-999999'")
    assert await erase_from_cli(settings, 9001, "999999", by_id=True) == (False, "erase: no customer found for '999999'")
    ok, refused = await erase_from_cli(settings, 9101, str(ids["customer"]), by_id=True)  # the engineer is no admin
    assert not ok and "not an active admin" in refused
    ok, message = await erase_from_cli(settings, 9001, "+86 139 1234 5678", by_id=False)
    assert ok and f"customer {ids['customer']} erased" in message
    ok, message = await erase_from_cli(settings, 9001, str(ids["customer"]), by_id=True)
    assert ok and "already erased" in message
    async with database.uow() as uow:
        assert _personal_left(await _all_texts(uow)) == []
        assert [a.details["already_erased"] for a in await uow.audit.by_action(erasure.AUDIT_ACTION)] == [False, True]


async def _servicedesk_erase(monkeypatch, capsys, tmp_path, database_url: str, *arguments: str) -> str:
    """`servicedesk erase …` as typed in the shell (its own event loop, so in a thread); what it printed."""
    from bot.__main__ import main

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("BOT_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ADMIN_TELEGRAM_IDS", "9001")
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["erase", *arguments]) == 0
    return capsys.readouterr().out


async def test_the_console_command_refuses_a_phone_several_records_have_unless_told_to_erase_them_all(database, clock, monkeypatch, capsys, tmp_path):
    from bot.config import Settings
    from bot.ops.erase_cli import erase_from_cli

    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        filed, number = await _filed_by_sales_too(uow, clock, ids)
        await uow.commit()
    settings = Settings(bot_token="123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi", database_url=database.url)
    ok, refused = await erase_from_cli(settings, 9001, "+86 139 1234 5678", by_id=False)
    assert not ok and refused == (
        f"erase: 2 customer records have the phone '+86 139 1234 5678': customer {ids['customer']} (SR-2026-000001, SR-2026-000002); "
        f"customer {filed} ({number}). Erase one with --customer ID, or all of them with --all-matching")
    async with database.uow() as uow:
        assert await uow.audit.by_action(erasure.AUDIT_ACTION) == [] and (await uow.customers.get(filed)).name == "Weilin"

    message = await _servicedesk_erase(monkeypatch, capsys, tmp_path, database.url, "--phone", "+86 139 1234 5678", "--all-matching")
    assert [re.sub(r"\d+ values", "N values", line) for line in message.splitlines()] == [
        f"customer {ids['customer']} erased: N values replaced, 2 requests kept with their numbers",
        f"customer {filed} erased: N values replaced, 1 requests kept with their numbers"]
    async with database.uow() as uow:
        assert _personal_left(await _all_texts(uow)) == []


async def test_the_console_command_erasing_one_record_names_the_others_with_the_same_phone(database, clock):
    from bot.config import Settings
    from bot.ops.erase_cli import erase_from_cli

    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        filed, number = await _filed_by_sales_too(uow, clock, ids)
        await uow.commit()
    settings = Settings(bot_token="123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi", database_url=database.url)
    ok, message = await erase_from_cli(settings, 9001, number, by_id=False)
    assert ok and message.splitlines()[1:] == [
        f"1 other customer record(s) have the same phone and were not erased: customer {ids['customer']} "
        "(SR-2026-000001, SR-2026-000002) (erase with --customer ID)"]
    async with database.uow() as uow:
        assert (await uow.customers.get(filed)).erased_at is not None and (await uow.customers.get(ids["customer"])).name == NAME


async def test_what_staff_record_after_an_erasure_is_erased_by_the_next_one_and_nothing_else_changes(database, clock):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        await erasure.erase_customer(uow, await uow.users.get(ids["admin"]), ids["customer"], clock.now())
        await uow.commit()
    clock.advance(timedelta(days=1))
    async with database.uow() as uow:  # the engineer reports a second job, with her words, after she was erased
        complaint_request = await uow.requests.by_number("SR-2026-000002")
        uow.session.add(JobReport(request_id=complaint_request.id, engineer_id=ids["engineer"], symptom="Door seal", cause="Wear",
                                  solution="Replaced the seal", labour_hours=1, travel_km=0, travel_cost=0,
                                  customer_opinion="Mrs Zhang says the old one lasted ten years", certificate=False,
                                  fault_type="mechanical", submitted_at=clock.now(), updated_at=clock.now()))
        await uow.commit()
    async with database.uow() as uow:
        snapshot = [x for x in sorted(await _all_texts(uow)) if x[0] != "audit_log"]
        again = await erasure.erase_customer(uow, await uow.users.get(ids["admin"]), ids["customer"], clock.now())
        await uow.commit()
    assert (again.already_erased, again.fields) == (True, 1)
    async with database.uow() as uow:
        texts = Counter(x for x in await _all_texts(uow) if x[0] != "audit_log")
        assert (Counter(snapshot) - texts, texts - Counter(snapshot)) == (
            Counter([("job_reports", "customer_opinion", "Mrs Zhang says the old one lasted ten years")]),
            Counter([("job_reports", "customer_opinion", erasure.ERASED)]))
        assert [(a.details["already_erased"], a.details["fields"]) for a in await uow.audit.by_action(erasure.AUDIT_ACTION)][1] == (True, 1)
        assert (await uow.customers.get(ids["customer"])).erased_at == clock.now() - timedelta(days=1)  # the first erasure's time stays


CUSTOMER_FILE, ENGINEER_FILE = "AgACAgQAAxkBAAIB-customer-photo", "AgACAgQAAxkBAAIC-engineer-photo"


async def test_waiting_messages_never_reach_the_erased_customer_and_lose_what_names_them(database, clock):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        queued = clock.now()

        def message(key, user_id, kind, payload, *, sent=False):
            return OutboxMessage(key=key, user_id=user_id, kind=kind, payload=payload, not_before=queued, created_at=queued,
                                 sent_at=queued if sent else None)

        for row in (
            message("customer-view", ids["person"], "view", {"text": "Your request <b>SR-2026-000001</b> is registered.", "markup": None}),
            message("customer-answer", ids["person"], "complaint_answer", {"complaint_id": 1}),
            message("customer-sent", ids["person"], "view", {"text": f"Hello, {NAME}!"}, sent=True),
            message("admin-name", ids["admin"], "view", {"text": f"New request from <b>{NAME}</b>", "photos": [CUSTOMER_FILE, ENGINEER_FILE]}),
            message("admin-phone", ids["admin"], "view", {"text": "Please call +86 139 1234 5678 back", "markup": None}),
            message("admin-other", ids["admin"], "view", {"text": "Wang Fang's pump SR-2026-000003 waits", "photos": [ENGINEER_FILE]}),
            message("engineer-deadline", ids["engineer"], "deadline", {"clock_id": 1, "point": 0}),
        ):
            await uow.outbox.add_once(row)
        await uow.commit()
    clock.advance(timedelta(minutes=5))
    async with database.uow() as uow:
        admin = await uow.users.get(ids["admin"])
        await erasure.erase_customer(uow, admin, ids["customer"], clock.now())
        await uow.commit()

    async with database.uow() as uow:
        rows = {m.key: m for m in await uow.session.scalars(select(OutboxMessage))}
        # Nothing waiting goes to the erased account; what it was already sent keeps its delivery record.
        for key in ("customer-view", "customer-answer"):
            assert (rows[key].sent_at, rows[key].failure) == (clock.now(), erasure.OUTBOX_FAILURE)
        assert (rows["customer-sent"].sent_at, rows["customer-sent"].failure) == (queued, None)
        assert rows["customer-view"].payload["text"] == rows["customer-sent"].payload["text"] == erasure.ERASED
        assert rows["customer-answer"].payload == {"complaint_id": 1}
        # Waiting messages to staff still go out, without the customer's name, phone or photos.
        assert rows["admin-name"].payload == {"text": erasure.ERASED, "photos": [ENGINEER_FILE]}
        assert rows["admin-phone"].payload == {"text": erasure.ERASED, "markup": None}
        assert rows["admin-other"].payload == {"text": "Wang Fang's pump SR-2026-000003 waits", "photos": [ENGINEER_FILE]}
        assert rows["engineer-deadline"].payload == {"clock_id": 1, "point": 0}
        for key in ("admin-name", "admin-phone", "admin-other", "engineer-deadline"):
            assert (rows[key].sent_at, rows[key].failure) == (None, None)
        assert _personal_left(await _all_texts(uow)) == []


async def test_a_follow_up_call_still_due_is_taken_off_the_lists_when_its_customer_is_erased(database, clock):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        repair = await uow.requests.by_number("SR-2026-000001")
        uow.session.add(FollowUpCall(request_id=repair.id, round=2, due_on=date(2026, 3, 12), due_by=date(2026, 3, 19), state="due",
                                     created_at=clock.now()))
        await uow.commit()
    async with database.uow() as uow:
        assert len(await uow.follow_ups.due_by_day(date(2026, 3, 20), None)) == 1
        await erasure.erase_customer(uow, await uow.users.get(ids["admin"]), ids["customer"], clock.now())
        await uow.commit()
    async with database.uow() as uow:
        assert await uow.follow_ups.due_by_day(date(2026, 3, 20), None) == []  # nobody is asked to call an erased customer
        assert await uow.follow_ups.count_due(date(2026, 3, 20)) == (0, 0)
        states = (await uow.session.execute(select(FollowUpCall.round, FollowUpCall.state, FollowUpCall.outcome).order_by(FollowUpCall.round))).all()
        assert [tuple(row) for row in states] == [(1, "done", "satisfied"), (2, "done", "erased")]  # the call made stays as it was


# --- matching the customer in staff texts ------------------------------------------------------


def test_a_phone_counts_without_its_country_code_but_digits_of_different_numbers_never_add_up_to_it():
    eraser = erasure._Eraser(([], ["8613912345678"]))  # stored as +8613912345678
    for written in ("Called 139 1234 5678", "call 0139-1234-5678 after six", "(139) 1234.5678", "１３９ １２３４ ５６７８",
                    "ends in 12345678", "+86 139 1234 5678"):
        assert eraser.mentions(written), written
    for unrelated in ("2 x 1234, 5678 spare", "SR-2026-000123 at 12:34, bolts 5, 6, 7, 8", "call 139 1234 0000"):
        assert not eraser.mentions(unrelated), unrelated


def test_a_short_phone_is_matched_only_in_full():
    eraser = erasure._Eraser(([], ["1234567"]))  # a 7-digit local number: no shorter part of it counts
    assert eraser.mentions("call 123-4567") and not eraser.mentions("code 234567, room 12")


def test_two_character_names_count_in_chinese_japanese_and_korean_only():
    def words(name):
        return erasure._identifiers(Customer(name=name, phone=PHONE, company=None), None, [])[0]

    assert words("王芳") == ["王芳"] and words("김수") == ["김수"] and words("ゆい") == ["ゆい"]
    assert words("Li") == words("Ян") == words("王") == words("王a") == []
    assert words("Yan") == ["yan"]


# --- what else holds the customer ------------------------------------------------------------


async def test_coordinates_anywhere_on_the_customers_timeline_are_cleared_and_the_entry_stays(database, clock):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        repair = await uow.requests.by_number("SR-2026-000001")
        other = await uow.requests.by_number("SR-2026-000003")
        place = {"latitude": 34.7467, "longitude": 113.6254}
        uow.session.add(RequestEvent(request_id=repair.id, actor_user_id=ids["engineer"], action="arrived",
                                     details={**place, "site": {"lat": 34.7, "lng": 113.6, "label": "gate"}, "stops": [{"lon": 113.0}]},
                                     created_at=clock.now()))
        uow.session.add(RequestEvent(request_id=other.id, actor_user_id=ids["engineer"], action="arrived", details=place, created_at=clock.now()))
        await uow.commit()
    async with database.uow() as uow:
        await erasure.erase_customer(uow, await uow.users.get(ids["admin"]), ids["customer"], clock.now())
        await uow.commit()
    async with database.uow() as uow:
        arrivals = list(await uow.session.scalars(select(RequestEvent.details).where(RequestEvent.action == "arrived").order_by(RequestEvent.id)))
    assert arrivals == [
        {"note": "on site"},  # the seed's arrival, without coordinates
        {"latitude": None, "longitude": None, "site": {"lat": None, "lng": None, "label": "gate"}, "stops": [{"lon": None}]},
        place,  # another customer's site stays
    ]


async def test_staff_dialogs_about_the_customers_requests_keep_the_staff_work_but_not_the_customers_words(database, clock):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        repair = await uow.requests.by_number("SR-2026-000001")
        other = await uow.requests.by_number("SR-2026-000003")
        complaint_id = await uow.session.scalar(select(Complaint.id))
        colleague = await _user(uow, 9103, "Ma", clock, "dispatcher")
        now = clock.now()
        uow.session.add(Draft(user_id=ids["engineer"], kind="report", step="summary", updated_at=now, data={
            "request_id": repair.id, "symptom": "Compressor noise", "solution": f"Tightened bolts for {NAME}", "hours": "2.5",
            "parts": [{"part_id": None, "name": "Bolt M8", "quantity": 4}], "opinion": "She says her late husband fixed it"}))
        uow.session.add(Draft(user_id=ids["supervisor"], kind="complaint_work", step="preview", updated_at=now, data={
            "complaint_id": complaint_id, "answer": "We are sorry about the delay"}))
        uow.session.add(Draft(user_id=colleague.id, kind="quote", step="review", updated_at=now, data={
            "request_id": other.id, "note": "Other farm, opinion pending", "opinion": "Their words stay"}))
        await uow.commit()
    async with database.uow() as uow:
        await erasure.erase_customer(uow, await uow.users.get(ids["admin"]), ids["customer"], clock.now())
        await uow.commit()
    async with database.uow() as uow:
        drafts = {d.user_id: (d.step, d.data) for d in await uow.session.scalars(select(Draft))}
    assert drafts[ids["engineer"]] == ("summary", {
        "request_id": repair.id, "symptom": "Compressor noise", "solution": erasure.ERASED, "hours": "2.5",
        "parts": [{"part_id": None, "name": "Bolt M8", "quantity": 4}], "opinion": erasure.ERASED})
    assert drafts[ids["supervisor"]] == ("preview", {"complaint_id": complaint_id, "answer": erasure.ERASED})
    assert drafts[colleague.id] == ("review", {"request_id": other.id, "note": "Other farm, opinion pending", "opinion": "Their words stay"})


async def test_the_customers_audit_rows_get_the_placeholder_id_and_lose_what_was_typed(database, clock):
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        for actor, action, details in (
            (CUSTOMER_TELEGRAM_ID, "claim_unknown_serial", {"serial": "QJ-7099"}),
            (CUSTOMER_TELEGRAM_ID, "request_not_found", {"number": "SR-2025-000777"}),
            (CUSTOMER_TELEGRAM_ID, "complaint_late_press", {"data": "1:cw:3:take", "state": "answered", "request_id": 2}),
            (9101, "stale_button", {"data": "1:job:1:way"}),
        ):
            uow.session.add(AuditEntry(actor_telegram_id=actor, action=action, details=details, created_at=clock.now()))
        await uow.commit()
    async with database.uow() as uow:
        await erasure.erase_customer(uow, await uow.users.get(ids["admin"]), ids["customer"], clock.now())
        await uow.commit()
    async with database.uow() as uow:
        placeholder = (await uow.users.get(ids["person"])).telegram_id
        rows = [(a.actor_telegram_id, a.action, a.details) for a in await uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert placeholder == -ids["person"]
    assert rows == [
        (placeholder, "claim_unknown_serial", {"serial": erasure.ERASED}),
        (placeholder, "request_not_found", {"number": erasure.ERASED}),
        (placeholder, "complaint_late_press", {"data": erasure.ERASED, "state": "answered", "request_id": 2}),
        (9101, "stale_button", {"data": "1:job:1:way"}),  # somebody else's row stays
        (9001, erasure.AUDIT_ACTION, rows[-1][2]),  # the erasure's own record, as written
    ]
    assert rows[-1][2]["customer_id"] == ids["customer"] and rows[-1][2]["already_erased"] is False


async def test_nothing_new_is_queued_to_the_erased_account(database, clock):
    from bot.services import notices

    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        await erasure.erase_customer(uow, await uow.users.get(ids["admin"]), ids["customer"], clock.now())
        await uow.commit()
    async with database.uow() as uow:
        person = await uow.users.get(ids["person"])
        assert person.is_reachable is False  # set quietly: no "blocked the bot" alert to the dispatchers
        assert await notices.queue(uow, person, notices.VIEW, {"text": "Your request is closed"}, "after-erasure", clock.now()) is False
        assert await uow.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_a_complaint_a_supervisor_is_registering_for_the_customer_loses_their_words(database, clock):
    from bot.services import complaints, dialogs

    phoned_in = "The technician shouted at my wife and broke the door frame"
    async with database.uow() as uow:
        ids = await _seed(uow, clock)
        supervisor = await uow.users.get(ids["supervisor"])
        draft, _ = await complaints.start_for_customer(uow, supervisor, "SR-2026-000001", clock.now())
        customer = await complaints.customer_of_draft(uow, supervisor, draft)
        await complaints.choose_subject(uow, customer, draft, complaints.SERVICE, clock.now())
        complaints.describe(draft, phoned_in, clock.now())
        await dialogs.begin(uow, supervisor.id, complaints.WORK_DIALOG, "note", {"complaint_id": 1}, clock.now())  # kept aside
        await uow.commit()
    async with database.uow() as uow:
        await erasure.erase_customer(uow, await uow.users.get(ids["admin"]), ids["customer"], clock.now())
        await uow.commit()
    async with database.uow() as uow:
        kept = await uow.drafts.kept_aside(ids["supervisor"], complaints.DIALOG)
        assert [d.data["description"] for d in kept] == [erasure.ERASED]  # the customer's account, phoned in
