"""`servicedesk erase`: the personal-data erasure of bot/services/erasure.py from the shell.

The operator names the admin on whose authority it runs (`--by`, default the first of
ADMIN_TELEGRAM_IDS): the service checks that this user is an active admin, and the audit row
names them, as when the admin uses /erase in Telegram. A phone several customer records have is
refused, naming them, unless `--all-matching` says to erase them all: they may be one person
(filed by a salesperson, then registered) or people sharing a phone, and only a person can tell.
"""
from __future__ import annotations

from bot.clock import SystemClock
from bot.config import Settings
from bot.services import erasure
from bot.services.errors import NotAllowed, NotFound
from storage.db import Database, UnitOfWork
from storage.models import Customer


async def erase_from_cli(settings: Settings, admin_telegram_id: int, reference: str, *, by_id: bool,
                         all_matching: bool = False) -> tuple[bool, str]:
    """(done, message) for the console."""
    db = Database(settings.database_url, hide_parameters=True)
    try:
        async with db.uow() as uow:
            admin = await uow.users.by_telegram_id(admin_telegram_id)
            if admin is None:
                return False, f"erase: no user with Telegram id {admin_telegram_id} (the admin must have started the bot once)"
            try:
                if by_id:
                    customers = [await uow.customers.get(int(reference))]
                    if customers[0] is None:
                        raise NotFound("customer")
                else:
                    customers = await erasure.find_customers(uow, reference)
                if len(customers) > 1 and not all_matching:
                    return False, (f"erase: {len(customers)} customer records have the phone {reference!r}: "
                                   f"{'; '.join([await _described(uow, c) for c in customers])}. Erase one with --customer ID, "
                                   "or all of them with --all-matching")
                others = await erasure.same_phone_elsewhere(uow, customers[0]) if len(customers) == 1 else []
                left = [await _described(uow, c) for c in others]
                results = await erasure.erase_customers(uow, admin, [c.id for c in customers], SystemClock().now())
            except NotFound:
                return False, f"erase: no customer found for {reference!r}"
            except NotAllowed as exc:
                why = "is a staff member (withdraw their roles first)" if str(exc) == "staff" else f"cannot be erased by user {admin_telegram_id} (not an active admin)"
                return False, f"erase: customer {reference} {why}"
            await uow.commit()
    finally:
        await db.dispose()
    messages = [_outcome(result) for result in results]
    if left:
        messages.append(f"{len(left)} other customer record(s) have the same phone and were not erased: "
                        f"{'; '.join(left)} (erase with --customer ID)")
    return True, "\n".join(messages)


async def _described(uow: UnitOfWork, customer: Customer) -> str:
    """A record as the operator tells records apart: its id and its requests' numbers (no names on the console)."""
    numbers = [request.number for request in await uow.personal_data.requests_of(customer.id)]
    return f"customer {customer.id} ({', '.join(numbers) if numbers else 'no requests'})"


def _outcome(result: erasure.ErasureResult) -> str:
    if result.already_erased and not result.fields:
        return f"customer {result.customer_id} was already erased; nothing changed (the request is recorded in the audit log)"
    if result.already_erased:
        return f"customer {result.customer_id} was already erased: {result.fields} values recorded since replaced"
    return f"customer {result.customer_id} erased: {result.fields} values replaced, {result.requests} requests kept with their numbers"
