"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError

from storage.db import Database, alembic_config
from storage.models import Base, Customer, JobReport, ServiceRequest, User, UTCDateTime
from tests import pg_cluster
from tests.conftest import _admin

ROOT = Path(__file__).resolve().parents[1]


async def test_migrated_schema_matches_the_models(database):
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with database.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == [], "a model changed without a migration (or the other way round)"


@pytest.mark.postgres
async def test_processes_migrating_a_fresh_postgresql_together_wait_for_each_other(postgres_server):
    """A fleet started at once: every process runs the migrations; they once raced and one exited."""
    if postgres_server is None:
        pytest.skip(f"POSTGRESQL NOT AVAILABLE: {pg_cluster.last_error}")
    name = f"t_{uuid.uuid4().hex[:12]}"
    await _admin(postgres_server.url, f'CREATE DATABASE "{name}"')
    url = postgres_server.url.rsplit("/", 1)[0] + f"/{name}"
    try:
        # separate processes, as a fleet's are (Alembic's context is one per process)
        script = "import sys; from storage.db import upgrade_database; upgrade_database(sys.argv[1])"
        processes = [subprocess.Popen([sys.executable, "-c", script, url], cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        errors = [process.communicate(timeout=120)[1] for process in processes]
        assert [process.returncode for process in processes] == [0, 0, 0], errors
        database = Database(url)
        try:
            async with database.engine.connect() as connection:
                versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        finally:
            await database.dispose()
        assert len(versions) == 1
    finally:
        await _admin(postgres_server.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')



async def test_keeping_disputed_reports_upgrades_and_downgrades_a_database_with_reports(database_url):
    """0018 on a database with reports: one disputed before it is kept (superseded) for the repeat
    repair's new report, one current report per request is still enforced, and the downgrade keeps
    each request's latest report with its parts."""
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0017")
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    database = Database(database_url)
    try:
        async with database.uow() as uow:  # these tables are the same at 0017
            ed = User(telegram_id=100, first_name="Ed", language="en", created_at=t0, roles=[])
            customer = Customer(name="Farm", phone="+8613800138000", created_at=t0)
            uow.session.add_all([ed, customer])
            await uow.session.flush()
            disputed, confirmed = (ServiceRequest(number=f"SR-2026-00000{i}", kind="repair", status=status, customer_id=customer.id,
                                                  description="x", created_by_user_id=ed.id, created_at=t0, updated_at=t0)
                                   for i, status in ((1, "in_progress"), (2, "closed")))
            uow.session.add_all([disputed, confirmed])
            await uow.commit()
            ids = {"ed": ed.id, "disputed": disputed.id, "confirmed": confirmed.id}
        report = text(
            "INSERT INTO job_reports (request_id, engineer_id, by_phone, symptom, cause, solution, labour_hours, travel_km, travel_cost, "
            "customer_opinion, submitted_at, updated_at, confirmed_at, outcome) "
            "VALUES (:request, :engineer, false, 's', :cause, 's', 3, 0, 0, 'ok', :t, :t, :t, :outcome)"
        ).bindparams(bindparam("t", type_=UTCDateTime()))
        async with database.engine.begin() as connection:
            for request, cause, outcome in (("disputed", "Valve closed", "disputed"), ("confirmed", "Worn seal", "confirmed")):
                await connection.execute(report, {"request": ids[request], "engineer": ids["ed"], "cause": cause, "t": t0, "outcome": outcome})
            await connection.execute(text("INSERT INTO report_parts (report_id, name, quantity) SELECT id, 'Seal', 2 FROM job_reports"))
    finally:
        await database.dispose()

    await asyncio.to_thread(command.upgrade, config, "head")
    database = Database(database_url)
    try:
        async with database.uow() as uow:
            assert await uow.jobs.report_of(ids["disputed"]) is None  # its repeat repair is reported anew
            kept = await uow.jobs.latest_report(ids["disputed"])
            assert (kept.cause, kept.outcome, kept.superseded_at, [(p.name, p.quantity) for p in kept.parts]) == ("Valve closed", "disputed", t0, [("Seal", 2)])
            assert (await uow.jobs.report_of(ids["confirmed"])).cause == "Worn seal"
            uow.session.add(JobReport(request_id=ids["disputed"], engineer_id=ids["ed"], symptom="s", cause="Cracked impeller", solution="s",
                                      labour_hours=2, customer_opinion="ok", submitted_at=t0, updated_at=t0, parts=[]))
            await uow.commit()
        async with database.uow() as uow:
            assert [r.cause for r in await uow.jobs.reports_of(ids["disputed"])] == ["Valve closed", "Cracked impeller"]
            uow.session.add(JobReport(request_id=ids["disputed"], engineer_id=ids["ed"], symptom="s", cause="twice", solution="s",
                                      labour_hours=1, customer_opinion="ok", submitted_at=t0, updated_at=t0, parts=[]))
            with pytest.raises(IntegrityError):  # a second current report of the same request
                await uow.session.flush()
    finally:
        await database.dispose()

    await asyncio.to_thread(command.downgrade, config, "0017")
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            rows = (await connection.execute(text("SELECT request_id, cause FROM job_reports ORDER BY request_id"))).all()
            parts = (await connection.execute(text("SELECT COUNT(*) FROM report_parts"))).scalar_one()
        assert rows == [(ids["disputed"], "Cracked impeller"), (ids["confirmed"], "Worn seal")]
        assert parts == 1  # the confirmed report's; the dropped report's parts went with it
        with pytest.raises(IntegrityError):  # one report per request again
            async with database.engine.begin() as connection:
                await connection.execute(report, {"request": ids["confirmed"], "engineer": ids["ed"], "cause": "again", "t": t0, "outcome": None})
    finally:
        await database.dispose()
    await asyncio.to_thread(command.upgrade, config, "head")  # and up again


async def test_dialogs_kept_aside_per_subject_upgrade_and_downgrade(database_url):
    """0019: a dialog kept aside before it stays (subject ''), two of a kind about different
    subjects are kept side by side, and the downgrade keeps the latest of each kind."""
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0018")
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    database = Database(database_url)
    try:
        async with database.uow() as uow:
            ed = User(telegram_id=100, first_name="Ed", language="en", created_at=t0, roles=[])
            uow.session.add(ed)
            await uow.commit()
            ed_id = ed.id
        park = text("INSERT INTO parked_drafts (user_id, kind, step, data, parked_at) VALUES (:user, 'report', 'cause', :data, :t)"
                    ).bindparams(bindparam("t", type_=UTCDateTime()))
        async with database.engine.begin() as connection:
            await connection.execute(park, {"user": ed_id, "data": '{"request_id": 1, "symptom": "No water"}', "t": t0})
    finally:
        await database.dispose()

    await asyncio.to_thread(command.upgrade, config, "head")
    later = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    insert = text("INSERT INTO parked_drafts (user_id, kind, subject, step, data, parked_at) VALUES (:user, 'report', '2', 'symptom', :data, :t)"
                  ).bindparams(bindparam("t", type_=UTCDateTime()))
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(insert, {"user": ed_id, "data": '{"request_id": 2, "symptom": "Leaks"}', "t": later})
        async with database.uow() as uow:
            kept = await uow.drafts.kept_aside(ed_id, "report")
            assert [(row.subject, row.data["symptom"]) for row in kept] == [("2", "Leaks"), ("", "No water")]
    finally:
        await database.dispose()

    await asyncio.to_thread(command.downgrade, config, "0018")
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            rows = (await connection.execute(text("SELECT kind, step FROM parked_drafts"))).all()
        assert rows == [("report", "symptom")]  # the latest report kept aside
    finally:
        await database.dispose()
    await asyncio.to_thread(command.upgrade, config, "head")


async def test_maintenance_due_day_chase_upgrades_and_downgrades_with_reminders(database_url):
    """0021: reminders recorded before it are kept, not chased; the downgrade keeps them too."""
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0020")
    t0 = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text("INSERT INTO products (serial, model, maintenance_cycle_months) VALUES ('QJ-1', 'QJ', 6)"))
            await connection.execute(text("INSERT INTO maintenance_reminders (product_id, due_on, created_at) SELECT id, '2026-03-16', :t FROM products"
                                          ).bindparams(bindparam("t", type_=UTCDateTime())), {"t": t0})
    finally:
        await database.dispose()

    await asyncio.to_thread(command.upgrade, config, "head")
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            rows = (await connection.execute(text("SELECT due_on, due_day_chased_at FROM maintenance_reminders"))).all()
        assert [(str(due_on), chased) for due_on, chased in rows] == [("2026-03-16", None)]
    finally:
        await database.dispose()

    await asyncio.to_thread(command.downgrade, config, "0020")
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            assert (await connection.execute(text("SELECT COUNT(*) FROM maintenance_reminders"))).scalar_one() == 1
    finally:
        await database.dispose()
    await asyncio.to_thread(command.upgrade, config, "head")
