"""Steps a customer takes, shared by the end-to-end tests."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.i18n import Translator

TRANSLATORS = {lang: Translator(lang, ZoneInfo("Asia/Shanghai")) for lang in ("en", "ru", "zh_Hans")}


def t(language: str, message: str, **values: object) -> str:
    """The visible text of a message id in a language (tags dropped, as the fake shows it)."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", TRANSLATORS[language](message, **values)))


async def onboard(user, name: str | None = None, phone: str = "+8613800138000", company: str | None = "Yellow River Farm") -> None:
    await user.send_text("/start")
    if name is None:
        await user.press(user.first_name)  # "Use “Alice”"
    else:
        await user.send_text(name)
    await user.share_contact(phone=phone, own=True)
    if company is None:
        await user.press("Skip")
    else:
        await user.send_text(company)


async def file_request(user, *, photos: int = 0, kind_label: str = "Fault repair", description: str = "Pump trips the breaker after 5 minutes") -> str:
    """A full English intake; returns the request number the bot announced."""
    await user.send_text("/new")
    await user.press(kind_label)
    await user.press("I don't know the serial number")
    await user.send_text(description)
    for _ in range(photos):
        await user.send_photo()
    await user.press("Done" if photos else "Skip, no photos")
    await user.send_location(34.7466, 113.6253)
    await user.press("Confirm and send")
    announcement = next(m for m in reversed(user.messages) if "is registered" in (m.text or ""))
    return announcement.text.split("Request ", 1)[1].split(" ", 1)[0]
