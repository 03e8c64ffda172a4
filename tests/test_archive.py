"""The service archive on SQLite and PostgreSQL: finding a customer or project, and the workbook
read back with openpyxl (only the chosen customer's or project's rows, totals that add up)."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from bot.i18n import Translator
from bot import archive_views
from bot.services import archive, dialogs
from bot.services.errors import NotAllowed, StaleAction, WrongInput
from storage.models import (
    AuditEntry, Customer, JobReport, Part, Product, Project, Quote, ReportPart, RequestEvent, ServiceRequest, User, UserRole, Visit,
)
from tests.conftest import SHANGHAI

EN = Translator("en", SHANGHAI)


async def _seed(database, clock) -> dict:
    """Alice (two projects) and Bob; requests with visits, reports, parts and quotes.

    Alice: R1 on project Yellow River Farm (visit, report with a catalog part ×2 at 35.50 and an
    unknown part, accepted quote 500.00 and a declined one), R2 on East Pump Station (report, one
    part ×1 at 12.00), R3 without a project, nothing done yet. Bob: R4 (report, part ×5)."""
    now = clock.now()
    async with database.uow() as uow:
        dispatcher = await uow.users.add(User(telegram_id=500, first_name="Dora", language="en", created_at=now, roles=[UserRole(role="dispatcher")]))
        engineer = await uow.users.add(User(telegram_id=600, first_name="Ed", full_name="Ed Engineer", language="en", created_at=now, roles=[UserRole(role="engineer")]))
        alice = await uow.customers.add(Customer(name="Alice Zhang", phone="+8613800138000", company="Yellow River Agro", created_at=now))
        bob = await uow.customers.add(Customer(name="Bob Li", phone="+8613900139000", company="Bob's Mill", created_at=now))
        farm = await uow.customers.add_project(Project(customer_id=alice.id, name="Yellow River Farm", created_at=now))
        station = await uow.customers.add_project(Project(customer_id=alice.id, name="East Pump Station", created_at=now))
        pump = await uow.products.add(Product(serial="QJ-1001", model="QJ 50-120", customer_id=alice.id))
        bearing = Part(code="BRG-6204", name="Bearing 6204", price=3550)
        seal = Part(code="SEAL-1", name="Shaft seal", price=1200)
        uow.session.add_all([bearing, seal])
        await uow.session.flush()

        def request(number: str, customer: Customer, project: Project | None, days: int, **values) -> ServiceRequest:
            return ServiceRequest(number=number, kind=values.pop("kind", "repair"), status=values.pop("status", "closed"), customer_id=customer.id,
                                  project_id=project.id if project else None, description=values.pop("description", "Pump trips"),
                                  created_by_user_id=dispatcher.id, created_at=now + timedelta(days=days), updated_at=now + timedelta(days=days), **values)

        r1 = await uow.requests.add(request("SR-2026-000001", alice, farm, 0, product_id=pump.id, warranty="in_warranty",
                                            assigned_engineer_id=engineer.id, description="=HYPERLINK(\"http://x\")"))
        r2 = await uow.requests.add(request("SR-2026-000002", alice, station, 1, assigned_engineer_id=engineer.id, kind="maintenance"))
        await uow.requests.add(request("SR-2026-000003", alice, None, 2, status="new"))
        r4 = await uow.requests.add(request("SR-2026-000004", bob, None, 3, assigned_engineer_id=engineer.id))
        await uow.requests.add_event(RequestEvent(request_id=r1.id, action="confirmed", details={}, created_at=now + timedelta(days=4)))
        uow.session.add_all([
            Visit(request_id=r1.id, engineer_id=engineer.id, planned_at=now + timedelta(hours=5), state="arrived",
                  arrived_at=now + timedelta(hours=6), latitude=34.7466, longitude=113.6253, created_at=now),
            Visit(request_id=r4.id, engineer_id=engineer.id, planned_at=now, state="arrived", arrived_at=now, created_at=now),
        ])

        def report(req: ServiceRequest, hours: float, travel: int, parts: list[ReportPart], **values) -> JobReport:
            return JobReport(request_id=req.id, engineer_id=engineer.id, symptom="Trips", cause="Worn bearing", solution="Replaced",
                             labour_hours=hours, travel_km=values.pop("km", 40), travel_cost=travel, customer_opinion="Good",
                             submitted_at=now, updated_at=now, outcome="confirmed", parts=parts, **values)

        uow.session.add_all([
            report(r1, 2.5, 8000, [ReportPart(part_id=bearing.id, name="Bearing 6204", quantity=2), ReportPart(name="Gasket (local)", quantity=3)],
                   certificate=True, fault_type="mechanical"),
            report(r2, 1.0, 0, [ReportPart(part_id=seal.id, name="Shaft seal", quantity=1)]),
            report(r4, 4.0, 9900, [ReportPart(part_id=bearing.id, name="Bearing 6204", quantity=5)]),
        ])
        for req, status, total in ((r1, "accepted", 50000), (r1, "declined", 70000), (r4, "accepted", 123400)):
            uow.session.add(Quote(request_id=req.id, created_by_id=dispatcher.id, status=status, parts_minor=0, labour_minor=total,
                                  travel_minor=0, total_minor=total, created_at=now))
        await uow.commit()
        return {"dispatcher": dispatcher.id, "alice": alice.id, "bob": bob.id, "farm": farm.id, "station": station.id, "engineer": engineer.id}


def _sheets(content: bytes) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    return {sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}


async def _export(database, clock, ids, text: str, kind: str, subject_id: int) -> tuple[archive.Archive, bytes]:
    async with database.uow() as uow:
        user = await uow.users.get(ids["dispatcher"])
        draft = await archive.start(uow, user, clock.now())
        result = await archive.search(uow, user, draft, text, clock.now())
        assert (kind, subject_id) in {(m.kind, m.id) for m in result.matches}
        data = await archive.export(uow, user, draft, kind, str(subject_id), clock.now())
        await uow.commit()
    return data, archive_views.workbook(EN, data)


async def test_a_customers_archive_holds_all_their_requests_and_nobody_elses(database, clock):
    ids = await _seed(database, clock)
    data, content = await _export(database, clock, ids, "alice", archive.CUSTOMER, ids["alice"])
    sheets = _sheets(content)
    assert list(sheets) == ["Requests", "Visits", "Reports", "Parts", "Costs"]

    requests = sheets["Requests"]
    assert requests[0] == ("Request", "Type", "Status", "Created", "Closed", "Product model", "Serial number", "Warranty", "Engineer", "Description")
    assert [row[0] for row in requests[1:]] == ["SR-2026-000001", "SR-2026-000002", "SR-2026-000003"]
    first = requests[1]
    assert first[1:3] == ("Fault repair", "Closed") and first[5:9] == ("QJ 50-120", "QJ-1001", "in warranty", "Ed Engineer")
    assert first[3] == datetime(2026, 3, 2, 9, 30) and first[4] == datetime(2026, 3, 6, 9, 30)  # local times
    assert first[9] == '=HYPERLINK("http://x")'  # kept as the text the customer typed, not a formula
    assert requests[3][4] is None  # still open

    assert sheets["Visits"][1:] == [("SR-2026-000001", "Ed Engineer", datetime(2026, 3, 2, 14, 30), datetime(2026, 3, 2, 15, 30), "34.74660, 113.62530")]
    reports = sheets["Reports"]
    assert [row[0] for row in reports[1:]] == ["SR-2026-000001", "SR-2026-000002"]
    assert reports[1][5:8] == (2.5, 40, 80) and reports[1][9:] == ("confirmed by the customer", "yes", "Mechanical (bearings, impeller, gears)")
    assert sheets["Parts"][1:] == [
        ("SR-2026-000001", "BRG-6204", "Bearing 6204", 2, 35.5, 71), ("SR-2026-000001", None, "Gasket (local)", 3, None, 0),
        ("SR-2026-000002", "SEAL-1", "Shaft seal", 1, 12, 12),
    ]

    # Totals computed here from what was seeded: parts 2 × 35.50 + 1 × 12.00 (the unknown gasket
    # has no price), hours 2.5 + 1.0, travel 80.00, accepted quotes 500.00 (the declined one not).
    costs = sheets["Costs"]
    assert costs[0] == ("Request", "Parts cost, CNY", "Labour hours", "Travel cost, CNY", "Accepted quotes, CNY")
    assert costs[1:4] == [("SR-2026-000001", 71, 2.5, 80, 500), ("SR-2026-000002", 12, 1, 0, 0), ("SR-2026-000003", 0, 0, 0, 0)]
    assert costs[4] == ("Total", pytest.approx(2 * 35.50 + 12.00), 3.5, 80, 500)
    assert all("SR-2026-000004" not in str(row) for sheet in sheets.values() for row in sheet)

    async with database.uow() as uow:
        [entry] = list(await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == archive.EXPORT_AUDIT)))
        assert (entry.actor_telegram_id, entry.details) == (500, {"kind": "customer", "id": ids["alice"], "customer_id": ids["alice"], "requests": 3})
        assert await dialogs.current(uow, ids["dispatcher"]) is None
    assert archive.file_name(data, date(2026, 3, 2)) == "archive-Alice-Zhang-2026-03-02.xlsx"


async def test_a_projects_archive_holds_only_that_projects_requests(database, clock):
    ids = await _seed(database, clock)
    data, content = await _export(database, clock, ids, "river farm", archive.PROJECT, ids["farm"])
    sheets = _sheets(content)
    assert [row[0] for row in sheets["Requests"][1:]] == ["SR-2026-000001"]
    assert [row[0] for row in sheets["Reports"][1:]] == ["SR-2026-000001"]
    assert sorted(row[2] for row in sheets["Parts"][1:]) == ["Bearing 6204", "Gasket (local)"]
    assert sheets["Costs"][1:] == [("SR-2026-000001", 71, 2.5, 80, 500), ("Total", 71, 2.5, 80, 500)]
    assert archive.file_name(data, date(2026, 3, 2)) == "archive-Yellow-River-Farm-2026-03-02.xlsx"


async def test_search_by_name_company_phone_and_project_with_limits(database, clock, monkeypatch):
    ids = await _seed(database, clock)
    async with database.uow() as uow:
        user = await uow.users.get(ids["dispatcher"])
        draft = await archive.start(uow, user, clock.now())

        async def found(text: str) -> set[tuple[str, int]]:
            return {(m.kind, m.id) for m in (await archive.search(uow, user, draft, text, clock.now())).matches}

        assert await found("YELLOW RIVER") == {("customer", ids["alice"]), ("project", ids["farm"])}  # company and project name
        assert await found("bob's") == {("customer", ids["bob"])}
        assert await found("139 0013") == {("customer", ids["bob"])}  # phone digits, spaces ignored
        assert await found("100%") == set()  # LIKE wildcards are taken literally
        assert await found("station") == {("project", ids["station"])}
        with pytest.raises(StaleAction):  # Bob is not in the latest list
            await archive.pick(uow, user, draft, archive.CUSTOMER, str(ids["bob"]))
        with pytest.raises(WrongInput):
            await archive.search(uow, user, draft, "a", clock.now())
        monkeypatch.setattr(archive, "MATCHES_SHOWN", 1)
        result = await archive.search(uow, user, draft, "yellow river", clock.now())  # Alice and her farm: one too many
        assert result.too_many and result.matches == [] and draft.data["customers"] == [] == draft.data["projects"]

        engineer = await uow.users.get(ids["engineer"])
        with pytest.raises(NotAllowed):
            await archive.start(uow, engineer, clock.now())
        user.is_active = False
        with pytest.raises(NotAllowed):
            await archive.search(uow, user, draft, "alice", clock.now())


async def test_search_finds_names_in_any_script_whatever_the_case(database, clock):
    if database.engine.dialect.name != "sqlite":
        # PostgreSQL lowercases by the database's locale (README): the test cluster's is "C", ASCII only.
        pytest.skip("case-insensitive search beyond ASCII follows the PostgreSQL database's locale")
    async with database.uow() as uow:
        user = await uow.users.add(User(telegram_id=501, first_name="Dora", language="ru", created_at=clock.now(), roles=[UserRole(role="dispatcher")]))
        ivan = await uow.customers.add(Customer(name="Иван Петров", phone="+79165550102", company="ООО Ромашка", created_at=clock.now()))
        await uow.commit()
    async with database.uow() as uow:
        user = await uow.users.get(user.id)
        draft = await archive.start(uow, user, clock.now())
        for text in ("иван петров", "РОМАШКА", "Петров"):  # SQLite's own lower() knows only ASCII
            assert [(m.kind, m.id) for m in (await archive.search(uow, user, draft, text, clock.now())).matches] == [("customer", ivan.id)]


def test_file_names_keep_only_safe_characters():
    base = archive.Archive(archive.PROJECT, 7, "黄河农场", None)
    assert archive.file_name(base, date(2026, 3, 2)) == "archive-project-7-2026-03-02.xlsx"
    base.title = "../../etc/passwd; rm -rf"
    assert archive.file_name(base, date(2026, 3, 2)) == "archive-etc-passwd-rm-rf-2026-03-02.xlsx"


async def test_a_report_the_customer_disputed_stays_beside_the_repeat_repairs_and_both_count(database, clock):
    ids = await _seed(database, clock)
    earlier = clock.now() - timedelta(days=1)
    async with database.uow() as uow:  # R2's first attempt, disputed before the report seeded as confirmed
        r2 = await uow.requests.by_number("SR-2026-000002")
        seal = await uow.session.scalar(select(Part).where(Part.code == "SEAL-1"))
        uow.session.add(JobReport(
            request_id=r2.id, engineer_id=ids["engineer"], symptom="Noise", cause="Loose mount", solution="Tightened", labour_hours=1.5,
            travel_km=10, travel_cost=2500, customer_opinion="Still noisy", submitted_at=earlier, updated_at=earlier, confirmed_at=earlier,
            outcome="disputed", superseded_at=earlier, parts=[ReportPart(part_id=seal.id, name="Shaft seal", quantity=1)],
        ))
        await uow.commit()
    data, content = await _export(database, clock, ids, "station", archive.PROJECT, ids["station"])
    sheets = _sheets(content)
    assert [(row[0], row[3], row[9]) for row in sheets["Reports"][1:]] == [
        ("SR-2026-000002", "Loose mount", "disputed by the customer"), ("SR-2026-000002", "Worn bearing", "confirmed by the customer")]
    assert [(row[2], row[3]) for row in sheets["Parts"][1:]] == [("Shaft seal", 1), ("Shaft seal", 1)]
    assert sheets["Costs"][1:] == [("SR-2026-000002", 24, 2.5, 25, 0), ("Total", 24, 2.5, 25, 0)]  # both attempts' parts, hours, travel
    assert archive_views.caption(EN, data).splitlines()[1] == EN(
        "Requests: {requests} · visits: {visits} · reports: {reports}", requests=1, visits=0, reports=2)


async def test_every_way_a_return_ends_gives_its_closed_time(database, clock):
    now = clock.now()
    async with database.uow() as uow:
        dora = await uow.users.add(User(telegram_id=500, first_name="Dora", language="en", created_at=now, roles=[UserRole(role="dispatcher")]))
        alice = await uow.customers.add(Customer(name="Alice Zhang", phone="+8613800138000", created_at=now))
        ended = {}
        for index, action in enumerate(("return_refunded", "return_exchanged", "return_repaired", "return_rejected", "return_sent_back"), 1):
            number = f"SR-2026-{index:06d}"
            request = await uow.requests.add(ServiceRequest(
                number=number, kind="return", status="closed", customer_id=alice.id, description="x",
                created_by_user_id=dora.id, created_at=now, updated_at=now))
            await uow.requests.add_event(RequestEvent(request_id=request.id, action="created", details={}, created_at=now))
            await uow.requests.add_event(RequestEvent(request_id=request.id, action=action, details={}, created_at=now + timedelta(days=index)))
            ended[number] = now + timedelta(days=index)
        await uow.commit()
    async with database.uow() as uow:
        kept = await archive.load(uow, archive.CUSTOMER, alice.id)
        assert {r.number: kept.closed_at.get(r.id) for r in kept.requests} == ended
