"""Onboarding a first-time customer: name, phone, company (optional)."""
from __future__ import annotations

from bot import views
from bot.callbacks import DialogButton
from bot.services import complaints as complaint_service
from bot.services import users
from bot.services.errors import DomainError
from bot.services.inputs import UserInput
from handlers import intake
from handlers.common import Turn
from storage.models import Draft


async def begin(turn: Turn, then: str | None = None) -> None:
    """Ask for the customer's details; `then` is what to open afterwards (e.g. the intake)."""
    draft = await users.start_onboarding(turn.uow, turn.user, turn.now, then)
    await turn.reply(views.onboarding_prompt(turn._, draft, turn.user.first_name))


async def on_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    try:
        step = await users.onboarding_input(turn.uow, turn.user, draft, message, turn.now)
    except DomainError as error:
        await turn.reply(views.input_error(turn._, error))
        return
    await _after(turn, step)


async def on_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    step = await users.onboarding_button(turn.uow, turn.user, draft, payload.action, turn.now)
    await turn.edit_off()
    await _after(turn, step)


async def _after(turn: Turn, step: users.OnboardingStep) -> None:
    if step.draft is not None:
        await turn.reply(views.onboarding_prompt(turn._, step.draft, turn.user.first_name))
        return
    await turn.reply(views.onboarding_done(turn._, step.customer.name))
    await _continue(turn, step.then)


async def _continue(turn: Turn, then: str | None) -> None:
    """Open what the customer had asked for before registering (/new, /complain, /products)."""
    from handlers import complaints, registry  # they start onboarding themselves: imported at use

    if then == users.THEN_INTAKE:
        await intake.open_intake(turn)
    elif then == users.THEN_COMPLAINT:
        await complaints.open_dialog(turn, complaint_service.COMMAND)
    elif then == users.THEN_PRODUCTS:
        await registry.show_products(turn)
