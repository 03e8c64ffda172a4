"""Users, roles, language and the customer profile (onboarding)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from bot.i18n import SUPPORTED_LANGUAGES, language_from_telegram
from bot.services import dialogs
from bot.services.errors import InvalidValue, NotAllowed, WrongInput
from bot.services.inputs import ContactInput, TextInput, UserInput
from bot.services.validation import COMPANY_MAX, NAME_MAX, clean_text, contact_phone, international_phone
from storage.db import UnitOfWork
from storage.models import AuditEntry, Customer, Draft, Project, User

ROLE_ADMIN = "admin"
ROLE_DISPATCHER = "dispatcher"
STAFF_ROLES = frozenset({
    ROLE_ADMIN, ROLE_DISPATCHER, "engineer", "technical_expert", "salesperson", "warehouse", "finance",
    "complaint_supervisor", "callback", "service_manager", "marketing_vp", "production_vp", "general_manager",
})

MANAGER_ROLES = frozenset({"service_manager", "marketing_vp", "production_vp", "general_manager"})
OVERSEER_ROLES = MANAGER_ROLES | {ROLE_DISPATCHER}  # may read any request's staff card and /overdue
ROLE_FINANCE = "finance"
# DESIGN: finance "prices parts and services, checks costs": it reads the monthly report's costs
# and the parts' stock and prices, as managers do, but approves nothing.
COST_READERS = MANAGER_ROLES | {ROLE_FINANCE}

ONBOARDING = "onboarding"
STEP_NAME, STEP_PHONE, STEP_COMPANY = "name", "phone", "company"


async def touch(
    uow: UnitOfWork, telegram_id: int, first_name: str, username: str | None,
    telegram_language: str | None, default_language: str, now: datetime,
) -> User:
    """The user behind an update, created on first contact with their Telegram language."""
    user, customer, draft = await uow.users.with_customer_and_draft(telegram_id)
    if user is None:
        return await uow.users.add(User(
            telegram_id=telegram_id, first_name=first_name[:128], username=username,
            language=language_from_telegram(telegram_language, default_language), created_at=now, roles=[],
        ))
    uow.drafts.remember(user.id, draft)  # so the handler's dialogs.current() and customer_of() cost no second query
    if customer is not None:
        uow.customers.remember(customer)
    # Assigned only when different: an unchanged user leaves the session clean, so the commit has nothing to flush.
    _set_if_changed(user, first_name=first_name[:128], username=username, is_reachable=True)  # they wrote: not blocked
    return user


def follow_telegram_language(user: User, telegram_language: str | None, default_language: str) -> bool:
    """Speak the language of the person's Telegram app until they choose one with /language;
    True when it changed (a staff member's command menu must follow)."""
    if user.language_chosen or not telegram_language:
        return False
    language = language_from_telegram(telegram_language, default_language)
    if user.language == language:
        return False
    user.language = language
    return True


def _set_if_changed(user: User, **values: object) -> None:
    for name, value in values.items():
        if getattr(user, name) != value:
            setattr(user, name, value)


async def ensure_bootstrap_staff(uow: UnitOfWork, telegram_ids: Iterable[int], default_language: str, now: datetime) -> None:
    """ADMIN_TELEGRAM_IDS are admins and dispatchers from the first start, before they write."""
    for telegram_id in telegram_ids:
        user = await uow.users.by_telegram_id(telegram_id)
        if user is None:
            user = await uow.users.add(User(telegram_id=telegram_id, language=default_language, created_at=now, roles=[]))
        await uow.users.add_role(user, ROLE_ADMIN)
        await uow.users.add_role(user, ROLE_DISPATCHER)
        user.is_active = True  # the settings file is the authority for bootstrap admins


def is_staff(user: User) -> bool:
    """Active staff only: a deactivated person is treated as a customer at once."""
    return user.is_active and bool(user.role_names & STAFF_ROLES)


async def set_language(user: User, language: str) -> None:
    if language not in SUPPORTED_LANGUAGES:
        raise InvalidValue("language")
    user.language = language
    user.language_chosen = True


async def customer_of(uow: UnitOfWork, user: User) -> Customer | None:
    return await uow.customers.by_user_id(user.id)


# --- onboarding: name → phone → company (optional) --------------------------------------


# What a customer asked for before onboarding interrupted them; opened once they are registered.
THEN_INTAKE, THEN_COMPLAINT, THEN_PRODUCTS = "intake", "complaint", "products"


@dataclass(frozen=True)
class OnboardingStep:
    draft: Draft | None
    customer: Customer | None = None
    then: str | None = None  # what the user wanted before onboarding interrupted them


async def start_onboarding(uow: UnitOfWork, user: User, now: datetime, then: str | None = None) -> Draft:
    """Ask for the customer's details; one already under way goes on where it stopped (a /new
    typed at the company question keeps the name and phone given), now leading to `then`."""
    current = await dialogs.current(uow, user.id)
    if current is not None and current.kind == ONBOARDING:
        dialogs.move(current, current.step, now, then=then or current.data.get("then"))
        return current
    return await dialogs.begin(uow, user.id, ONBOARDING, STEP_NAME, {"then": then}, now)


async def onboarding_input(uow: UnitOfWork, user: User, draft: Draft, message: UserInput, now: datetime) -> OnboardingStep:
    if draft.step == STEP_NAME:
        if not isinstance(message, TextInput):
            raise WrongInput("name")
        name = clean_text(message.text, limit=NAME_MAX, expected="name")
        dialogs.move(draft, STEP_PHONE, now, name=name)
        return OnboardingStep(draft)
    if draft.step == STEP_PHONE:
        phone, verified = _phone_from(message)
        dialogs.move(draft, STEP_COMPANY, now, phone=phone, phone_verified=verified)
        return OnboardingStep(draft)
    if draft.step == STEP_COMPANY:
        if not isinstance(message, TextInput):
            raise WrongInput("company")
        company = clean_text(message.text, limit=COMPANY_MAX, expected="company")
        return await _finish_onboarding(uow, user, draft, company, now)
    raise WrongInput(draft.step)


def _phone_from(message: UserInput) -> tuple[str, bool]:
    """The customer's own number: their shared contact, or typed with the country code; and
    whether it is verified (their own contact, shared: Telegram vouches the number is theirs)."""
    if isinstance(message, ContactInput):
        if message.contact_user_id != message.sender_user_id:
            raise InvalidValue("own_contact")
        return contact_phone(message.phone), True
    if isinstance(message, TextInput):
        return international_phone(clean_text(message.text, limit=32, expected="phone")), False
    raise WrongInput("phone")


async def onboarding_button(uow: UnitOfWork, user: User, draft: Draft, action: str, now: datetime) -> OnboardingStep:
    """Buttons: use the Telegram name, skip the company, go back."""
    if action == "use_tg_name" and draft.step == STEP_NAME:
        name = " ".join(filter(None, [user.first_name])).strip()
        if not name:
            raise WrongInput("name")
        dialogs.move(draft, STEP_PHONE, now, name=name[:NAME_MAX])
        return OnboardingStep(draft)
    if action == "skip" and draft.step == STEP_COMPANY:
        return await _finish_onboarding(uow, user, draft, None, now)
    if action == "back" and draft.step in (STEP_PHONE, STEP_COMPANY):
        dialogs.move(draft, STEP_NAME if draft.step == STEP_PHONE else STEP_PHONE, now)
        return OnboardingStep(draft)
    raise NotAllowed()


async def _finish_onboarding(uow: UnitOfWork, user: User, draft: Draft, company: str | None, now: datetime) -> OnboardingStep:
    name, phone, then = draft.data["name"], draft.data["phone"], draft.data.get("then")
    if not is_staff(user):  # a staff member's own name and work phone (/profile) are not their customer record's
        user.full_name, user.phone = name, phone
    customer = await uow.customers.by_user_id(user.id)
    if customer is None and draft.data.get("phone_verified"):
        customer = await _take_over_sales_record(uow, user, phone, company, now)
    elif customer is not None:
        customer.name, customer.phone, customer.company = name, phone, company
    if customer is None:
        customer = await uow.customers.add(Customer(user_id=user.id, name=name, phone=phone, company=company, created_at=now))
    if company and await uow.customers.first_project(customer.id) is None:
        await uow.customers.add_project(Project(customer_id=customer.id, name=company, created_at=now))
    await dialogs.end(uow, draft)
    return OnboardingStep(None, customer=customer, then=then)


CUSTOMER_LINKED_AUDIT = "customer_linked"


async def _take_over_sales_record(uow: UnitOfWork, user: User, phone: str, company: str | None, now: datetime) -> Customer | None:
    """The record sales filed for this phone, now the user's: they shared their own contact, so
    Telegram vouches the number is theirs (a typed one proves nothing, NOTES.md). Two such records
    would be a guess: None, and the user gets their own. The record keeps its id (its requests
    follow) and its name, which staff filed it and wrote their notes under; /profile changes it."""
    records = await uow.customers.chatless_with_phone(phone, limit=2)
    if len(records) != 1:
        return None
    customer = records[0]
    customer.user_id = user.id
    customer.company = customer.company or company
    await uow.audit.add(AuditEntry(
        actor_telegram_id=user.telegram_id, action=CUSTOMER_LINKED_AUDIT, details={"customer_id": customer.id}, created_at=now,
    ))
    return customer


# --- a registered customer changes their details (/profile) --------------------------------

DETAILS_DIALOG = "customer_details"
# Buttons of the customer's details card name their field with this prefix, so a staff member who
# is also a customer edits their customer record there and their work profile on the staff card.
DETAIL_BUTTON = "c_"
SHOW_DETAILS = "c_show"
DETAIL_FIELDS = (STEP_NAME, STEP_PHONE, STEP_COMPANY)
DETAILS_CHANGED_AUDIT = "customer_details_changed"
DETAIL_COMPANY = "company_detail"  # its prompt has no "Skip"


async def start_detail_change(uow: UnitOfWork, user: User, field: str, now: datetime) -> Draft:
    """Ask for one new value; the dialog's step is the field (never taken from a button later)."""
    if field not in DETAIL_FIELDS:
        raise InvalidValue("field")
    if await customer_of(uow, user) is None:
        raise NotAllowed()
    return await dialogs.begin(uow, user.id, DETAILS_DIALOG, field, {}, now)


async def change_detail(uow: UnitOfWork, user: User, draft: Draft, message: UserInput | None, now: datetime) -> Customer:
    """Store the value the customer sent for the dialog's field, by the rules of registration;
    `message` None removes the company. Engineers read the phone from here on their next call."""
    customer = await customer_of(uow, user)
    if customer is None:  # erased meanwhile
        await dialogs.end(uow, draft)
        raise NotAllowed()
    field = draft.step
    was = {STEP_NAME: customer.name, STEP_PHONE: customer.phone, STEP_COMPANY: customer.company}[field]
    if field == STEP_NAME:
        if not isinstance(message, TextInput):
            raise WrongInput("name")
        customer.name = clean_text(message.text, limit=NAME_MAX, expected="name")
    elif field == STEP_PHONE:
        if message is None:
            raise WrongInput("phone")
        customer.phone, _ = _phone_from(message)  # no sales record is taken over here: registration did that
    elif message is None:
        customer.company = None
    elif isinstance(message, TextInput):
        customer.company = clean_text(message.text, limit=COMPANY_MAX, expected=DETAIL_COMPANY)
        if await uow.customers.first_project(customer.id) is None:
            await uow.customers.add_project(Project(customer_id=customer.id, name=customer.company, created_at=now))
    else:
        raise WrongInput(DETAIL_COMPANY)
    if not is_staff(user):  # as registration keeps them (a staff member's own are their /profile's)
        user.full_name, user.phone = customer.name, customer.phone
    # the old value stays on record: erasure must also find it in staff notes written before the change
    await uow.audit.add(AuditEntry(actor_telegram_id=user.telegram_id, action=DETAILS_CHANGED_AUDIT, details={"field": field, "was": was}, created_at=now))
    await dialogs.end(uow, draft)
    return customer
