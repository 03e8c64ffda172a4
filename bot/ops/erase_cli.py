"""`servicedesk erase`: the personal-data erasure of bot/services/erasure.py from the shell.

The operator names the admin on whose authority it runs (`--by`, default the first of
ADMIN_TELEGRAM_IDS): the service checks that this user is an active admin, and the audit row
names them, as when the admin uses /erase in Telegram.
"""
from __future__ import annotations

from bot.clock import SystemClock
from bot.config import Settings
from bot.services import erasure
from bot.services.errors import NotAllowed, NotFound
from storage.db import Database


async def erase_from_cli(settings: Settings, admin_telegram_id: int, reference: str, *, by_id: bool) -> tuple[bool, str]:
    """(done, message) for the console."""
    db = Database(settings.database_url, hide_parameters=True)
    try:
        async with db.uow() as uow:
            admin = await uow.users.by_telegram_id(admin_telegram_id)
            if admin is None:
                return False, f"erase: no user with Telegram id {admin_telegram_id} (the admin must have started the bot once)"
            try:
                if by_id:
                    customer_id = int(reference)
                else:
                    customer_id = (await erasure.find_customer(uow, reference)).id
                result = await erasure.erase_customer(uow, admin, customer_id, SystemClock().now())
            except NotFound:
                return False, f"erase: no customer found for {reference!r}"
            except NotAllowed as exc:
                why = "is a staff member (withdraw their roles first)" if str(exc) == "staff" else f"cannot be erased by user {admin_telegram_id} (not an active admin)"
                return False, f"erase: customer {reference} {why}"
            await uow.commit()
    finally:
        await db.dispose()
    if result.already_erased:
        return True, f"customer {result.customer_id} was already erased; nothing changed (the request is recorded in the audit log)"
    return True, f"customer {result.customer_id} erased: {result.fields} values replaced, {result.requests} requests kept with their numbers"
