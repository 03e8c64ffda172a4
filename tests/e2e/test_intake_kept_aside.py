"""Two unfinished fault reports kept aside at once: neither is lost. A customer's own report, put
aside by another dialog, and a maintenance booking opened from a reminder (then put aside too)
used to share one place, so the second overwrote the first and the customer's description was gone."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import ServiceRequest
from tests.e2e.helpers import t
from tests.e2e.test_maintenance import _reminded


def en(message: str, **values: object) -> str:
    return t("en", message, **values)


async def test_a_report_kept_aside_survives_a_maintenance_booking_kept_aside_after_it(fake, desk):
    dora, alice, reminder = await _reminded(fake, desk)
    await alice.send_text("/new")
    await alice.press(en("Fault repair"))
    await alice.press(en("I don't know the serial number"))
    await alice.send_text("The cable gland drips oil after an hour")
    await alice.send_text("/products")
    await alice.press(en("Claim a product by serial"))  # her report is kept aside
    await alice.press(en("🔧 Book maintenance"), reminder)  # a second form, from the reminder
    await alice.send_location(34.7466, 113.6253)
    await alice.send_text("/products")
    await alice.press(en("Claim a product by serial"))  # the booking is kept aside as well

    await alice.send_text("/new")  # the latest comes back first: the booking
    await alice.press(en("✅ Confirm and send"))
    assert "is registered" in alice.last.text
    await alice.send_text("/new")  # then her own report, where she stopped (at the photos; what she wrote is sent below)
    resumed = "\n".join(m.text or "" for m in alice.messages[-2:])
    assert "where you stopped" in resumed and "Send photos" in alice.last.text
    await alice.press(en("Skip, no photos"))
    await alice.send_location(34.7466, 113.6253)
    await alice.press(en("✅ Confirm and send"))
    assert "is registered" in alice.last.text
    async with desk.db.uow() as uow:
        rows = (await uow.session.execute(select(ServiceRequest.kind, ServiceRequest.description))).all()
    assert sorted(kind for kind, _ in rows) == ["maintenance", "repair"]
    assert ("repair", "The cable gland drips oil after an hour") in rows
    fake.assert_no_rejections()
