"""Work done on time rather than on a message: the periodic sweep and what it tells people."""
from __future__ import annotations

from telegram.error import BadRequest, Forbidden
from telegram.ext import Application

from bot.i18n import Translator
from bot.services import confirmation
from bot.views import View
from handlers.common import DEPS_KEY, Deps, send


async def sweep(app: Application) -> int:
    """Close reports the customer left unanswered; returns how many requests were closed."""
    deps: Deps = app.bot_data[DEPS_KEY]
    window = deps.policy.closing.confirmation_timeout
    async with deps.db.uow() as uow:
        closed = await confirmation.close_unconfirmed(uow, deps.clock.now(), window)
        await uow.commit()  # closed first: a failed message must not reopen anything
        for request in closed:
            customer = await uow.customers.get(request.customer_id)
            user = await uow.users.get(customer.user_id) if customer.user_id else None
            if user is None or not user.is_reachable:
                continue
            _ = Translator(user.language, deps.settings.timezone)
            text = _("Request {number} is closed: we did not hear back within {hours} hours after the work report, so we count it as resolved. If the problem comes back, report it with /new.",
                     number=request.number, hours=int(window.total_seconds() // 3600))
            try:
                await send(app.bot, user.telegram_id, View(text))
            except Forbidden:
                user.is_reachable = False
            except BadRequest:
                pass
        await uow.commit()
    return len(closed)
