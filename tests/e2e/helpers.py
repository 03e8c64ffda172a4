"""Steps a customer takes, shared by the end-to-end tests."""
from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from bot.i18n import Translator
from tests.e2e.conftest import DISPATCHER_ID

TRANSLATORS = {lang: Translator(lang, ZoneInfo("Asia/Shanghai")) for lang in ("en", "ru", "zh_Hans")}


def t(language: str, message: str, **values: object) -> str:
    """The visible text of a message id in a language (tags dropped, as the fake shows it)."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", TRANSLATORS[language](message, **values)))


async def onboard(user, name: str | None = None, phone: str = "+8613800138000", company: str | None = "Yellow River Farm", language: str = "en") -> None:
    await user.send_text("/start")
    if name is None:
        await user.press(user.first_name)  # "Use “Alice”"
    else:
        await user.send_text(name)
    await user.share_contact(phone=phone, own=True)
    if company is None:
        await user.press(t(language, "Skip"))
    else:
        await user.send_text(company)


async def fill_request(user, *, photos: int = 0, kind_label: str = "Fault repair", description: str = "Pump trips the breaker after 5 minutes", language: str = "en") -> None:
    """An intake in the user's language up to its confirmation card (not sent yet)."""
    await user.send_text("/new")
    await user.press(t(language, kind_label))
    await user.press(t(language, "I don't know the serial number"))
    await user.send_text(description)
    for _ in range(photos):
        await user.send_photo()
    await user.press(t(language, "✅ Done") if photos else t(language, "Skip, no photos"))
    await user.send_location(34.7466, 113.6253)


async def file_request(user, *, photos: int = 0, kind_label: str = "Fault repair", description: str = "Pump trips the breaker after 5 minutes", language: str = "en") -> str:
    """A full intake in the user's language; returns the request number the bot announced."""
    await fill_request(user, photos=photos, kind_label=kind_label, description=description, language=language)
    await user.press(t(language, "✅ Confirm and send"))
    registered = t(language, "✅ Request <b>{number}</b> is registered.", number="SR-").split("SR-")[1]
    announcement = next(m for m in reversed(user.messages) if registered in (m.text or ""))
    return re.search(r"SR-\d{4}-\d{6}", announcement.text).group(0)


async def enrol(fake, admin, user_id: int, name: str, role: str, language_code: str = "en"):
    """A staff member enrolled the real way: the admin's `/invite <role>` and the deep link."""
    person = fake.add_user(user_id=user_id, first_name=name, language_code=language_code)
    await admin.send_text(f"/invite {role}")
    code = re.search(r"start=(inv_[\w-]+)", admin.last.text).group(1)
    await person.send_text(f"/start {code}")
    return person


async def assign(dispatcher, number: str, engineer_name: str, language: str = "en") -> None:
    """The dispatcher gives a queued request to an engineer from /queue."""
    await dispatcher.send_text("/queue")
    await dispatcher.press(number)
    await dispatcher.press(t(language, "👷 Assign"))
    await dispatcher.press(engineer_name)


async def accepted_job(fake, engineer_id: int, customer_id: int) -> tuple:
    """Alice's repair, assigned to Ed, who accepted it: (dispatcher, engineer, customer, number)."""
    dora = fake.users[DISPATCHER_ID]
    ed = await enrol(fake, dora, engineer_id, "Ed", "engineer")
    alice = fake.add_user(user_id=customer_id, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await assign(dora, number, "Ed", "en")
    await ed.press("Accept")
    return dora, ed, alice, number


async def arrive(engineer, number: str) -> None:
    """The engineer opens the job from /jobs, sets off and records the arrival on site."""
    await engineer.send_text("/jobs")
    await engineer.press(number)
    await engineer.press("🚗 On my way")
    await engineer.press("📍 Arrived")
    await engineer.send_location(34.7467, 113.6254)


async def report_by_phone(
    engineer, *, symptom: str = "No water", cause: str = "Valve closed", fault_type: str = "Misuse or operating error",
    solution: str = "Told the customer to open the valve", hours: str = "0.5", opinion: str = "Customer will try",
) -> None:
    """The engineer closes an accepted job as solved by phone with a complete report (English labels)."""
    await engineer.press("Solved by phone")
    await engineer.send_text(symptom)
    await engineer.send_text(cause)
    await engineer.press(fault_type)
    await engineer.send_text(solution)
    await engineer.press("No parts were used")
    await engineer.send_text(hours)
    await engineer.send_text(opinion)
    await engineer.press("Send the report")


async def move_to_warehouse(admin, name: str) -> None:
    """The admin gives the engineer `name` the warehouse role and takes the engineer role away."""
    await admin.send_text("/staff")
    await admin.press(name)
    await admin.press("➕ Warehouse")
    await admin.press("✅ Field engineer")


async def complaint_ready_to_answer(fake, supervisor_id: int, customer_id: int):
    """Alice complains about her request's service; supervisor Qin takes the complaint and records
    its cause and corrective action, so the written answer is next. Returns (qin, alice, the
    number of the request complained about, the complaint's number)."""
    qin = await enrol(fake, fake.users[DISPATCHER_ID], supervisor_id, "Qin", "complaint_supervisor")
    alice = fake.add_user(user_id=customer_id, first_name="Alice", language_code="en")
    await onboard(alice)
    number = await file_request(alice)
    await alice.send_text(number)
    await alice.press("📣 Complain")
    await alice.press("🛎 The service")
    await alice.send_text("Nobody called me back")
    await alice.press("✅ Send the complaint")
    complaint_number = re.search(r"SR-\d{4}-\d{6}", alice.last.text).group(0)
    await qin.press("🙋 Take it", qin.last)
    await qin.press("❗ Cause: service fault")
    await qin.send_text("Callback forgotten")
    await qin.press("🛠 Corrective action")
    await qin.send_text("Callbacks are now on the dispatch board")
    return qin, alice, number, complaint_number
