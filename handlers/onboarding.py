"""Onboarding a first-time customer: name, phone, company (optional); later changes (/profile)."""
from __future__ import annotations

from bot import views
from bot.callbacks import DialogButton, ProfileButton
from bot.services import complaints as complaint_service
from bot.services import users
from bot.services.errors import DomainError, InvalidValue, NotAllowed, StaleAction
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


# --- /profile for a customer: change name, phone or company ------------------------------


async def show_details(turn: Turn) -> None:
    """The customer's own details with a button per field; someone not registered registers."""
    customer = await users.customer_of(turn.uow, turn.user)
    if customer is None:
        await begin(turn)
        return
    await turn.reply(views.customer_details(turn._, customer))


async def on_details_button(turn: Turn, payload: ProfileButton) -> None:
    """The button names a field of the presser's own record, never a person."""
    if payload.field == users.SHOW_DETAILS:  # from a staff member's own profile card
        await show_details(turn)
        return
    try:
        if not payload.field.startswith(users.DETAIL_BUTTON):
            raise InvalidValue("field")
        draft = await users.start_detail_change(turn.uow, turn.user, payload.field.removeprefix(users.DETAIL_BUTTON), turn.now)
    except (NotAllowed, InvalidValue):
        await turn.audit("not_allowed_button", data=payload.pack())
        await turn.answer(turn._("This button is no longer valid."), alert=True)
        return
    customer = await users.customer_of(turn.uow, turn.user)
    await turn.reply(views.detail_prompt(turn._, draft, customer))


async def on_details_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    await _change_detail(turn, draft, message)


async def on_details_dialog_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    if payload.action != "remove" or draft.step != users.STEP_COMPANY:
        raise StaleAction()  # Cancel is the router's
    await turn.edit_off()
    await _change_detail(turn, draft, None)


async def _change_detail(turn: Turn, draft: Draft, message: UserInput | None) -> None:
    try:
        customer = await users.change_detail(turn.uow, turn.user, draft, message, turn.now)
    except NotAllowed:  # no customer record any more (erased meanwhile)
        await turn.reply(views.main_menu_view(turn._, turn._("This button is no longer valid.")))
        return
    except DomainError as error:
        await turn.reply(views.input_error(turn._, error))
        return
    await turn.reply(views.main_menu_view(turn._, turn._("Saved.")))  # also takes the share-phone keyboard away
    await turn.reply(views.customer_details(turn._, customer))
