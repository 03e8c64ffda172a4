"""The fault-intake dialog: type → product → description → photos → site → confirm.

The draft is a row (see `dialogs`), so a customer can close Telegram, the bot can restart,
and the dialog continues where it was. Each function validates one input for the current
step and moves the draft; the handler only renders the step the draft is now at.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.policy import Policy
from bot.services import dialogs, requests
from bot.services.errors import LimitReached, NotAllowed, StaleAction, WrongInput
from bot.services.inputs import LocationInput, PhotoInput, TextInput, UserInput, VoiceInput
from bot.services.validation import (
    ADDRESS_MAX,
    DESCRIPTION_MAX,
    MAX_PHOTOS,
    MAX_VOICES,
    clean_text,
    normalize_serial,
)
from storage.db import UnitOfWork
from storage.models import Customer, Draft, Product, ServiceRequest, User

INTAKE = "intake"
TYPE, PRODUCT, DESCRIPTION, PHOTOS, SITE, CONFIRM, EDIT = (
    "type", "product", "description", "photos", "site", "confirm", "edit",
)
STEPS = (TYPE, PRODUCT, DESCRIPTION, PHOTOS, SITE, CONFIRM)
EDITABLE = (TYPE, PRODUCT, DESCRIPTION, PHOTOS, SITE)
REGISTERED_PRODUCTS_SHOWN = 8
DESCRIPTION_PHOTOS = "photos_at_description"  # LimitReached.what: one photo too many where words are asked for

# Notices: what happened besides moving on, for the handler to mention.
PHOTO_ADDED = "photo_added"
CAPTION_TOO_LONG = "caption_too_long"  # the photo is kept, its caption would not fit the description
PHOTO_KEPT_NEED_TEXT = "photo_kept_need_text"
VOICE_KEPT_NEED_TEXT = "voice_kept_need_text"
PHOTOS_CLEARED = "photos_cleared"
VOICES_CLEARED = "voices_cleared"
PHOTO_NOT_ADDED = "photo_not_added"  # its caption became the description, the photo was one too many
VOICE_NOT_ADDED = "voice_not_added"  # likewise a voice message
COMPLAINT_CHOSEN = "complaint_chosen"  # a complaint has its own dialog (bot/services/complaints.py)
RETURN_CHOSEN = "return_chosen"  # so has a return of a registered product (bot/services/returns.py)


async def start(uow: UnitOfWork, user: User, now: datetime) -> tuple[Draft, bool]:
    """Open the intake dialog, or resume the one in progress (returns `resumed=True`)."""
    draft = await dialogs.current(uow, user.id)
    if draft is not None and draft.kind == INTAKE:
        return draft, True
    parked = await dialogs.resume_parked(uow, user.id, INTAKE, now)  # put aside by another dialog
    if parked is not None:
        return parked, True
    draft = await dialogs.begin(uow, user.id, INTAKE, TYPE, {"photos": [], "voices": []}, now)
    return draft, False


async def start_prefilled(
    uow: UnitOfWork, user: User, now: datetime, *, kind: str, product: Product, description: str, site: dict | None, **extra: object,
) -> Draft:
    """Open the intake with the type, product and description already given (e.g. "Book
    maintenance" from a reminder): at the summary when the site is known, else at the site step.
    Replaces any dialog the user had open; `extra` is kept in the draft for `submit`."""
    data = {
        "photos": [], "voices": [], "kind": kind, "product_id": product.id, "serial": product.serial,
        "product_model": product.model, "description": description[:DESCRIPTION_MAX], **extra,
    }
    if site:
        data["site"] = site
    return await dialogs.begin(uow, user.id, INTAKE, CONFIRM if site else SITE, data, now)


async def start_as(uow: UnitOfWork, user: User, kind: str, now: datetime) -> Draft:
    """Open the intake with its type already chosen (the return dialog's "not in the list")."""
    return await dialogs.begin(uow, user.id, INTAKE, PRODUCT, {"photos": [], "voices": [], "kind": kind}, now)


async def registered_products(uow: UnitOfWork, customer: Customer) -> list[Product]:
    return await uow.products.of_customer(customer.id, REGISTERED_PRODUCTS_SHOWN)


def _advance(draft: Draft, now: datetime, **changes: object) -> None:
    """Go to the next step, or straight back to the summary when editing one field."""
    if draft.data.get("editing"):
        dialogs.move(draft, CONFIRM, now, editing=False, **changes)
        return
    dialogs.move(draft, STEPS[STEPS.index(draft.step) + 1], now, **changes)


def previous_step(draft: Draft) -> str | None:
    if draft.step == EDIT or draft.data.get("editing"):
        return CONFIRM
    index = STEPS.index(draft.step)
    return STEPS[index - 1] if index > 0 else None


async def handle_input(uow: UnitOfWork, customer: Customer, draft: Draft, message: UserInput, now: datetime) -> str | None:
    """Apply a message to the current step; returns a notice or None. Raises on bad input."""
    step = draft.step
    if step == PRODUCT and isinstance(message, TextInput):
        serial = normalize_serial(message.text)
        product = await uow.products.by_serial(serial)
        own = product if product is not None and product.customer_id == customer.id else None
        _advance(draft, now, product_id=own.id if own else None, serial=serial, product_model=own.model if own else None)
        return None
    if step == DESCRIPTION:
        return _description(draft, message, now)
    if step == PHOTOS and isinstance(message, PhotoInput):
        photos = list(draft.data.get("photos", []))
        if len(photos) >= MAX_PHOTOS:
            raise LimitReached(MAX_PHOTOS)
        changes: dict = {"photos": [*photos, message.file_id]}
        notice = PHOTO_ADDED
        if message.caption and message.caption.strip():  # keep what they wrote under the photo
            described = f"{draft.data.get('description', '')}\n{message.caption.strip()}"
            if len(described) <= DESCRIPTION_MAX:
                changes["description"] = described
            else:
                notice = CAPTION_TOO_LONG  # said, not cut: a half sentence would read as what they meant
        dialogs.move(draft, PHOTOS, now, **changes)
        return notice
    if step == SITE and isinstance(message, LocationInput):
        _advance(draft, now, site={"latitude": message.latitude, "longitude": message.longitude})
        return None
    if step == SITE and isinstance(message, TextInput):
        address = clean_text(message.text, limit=ADDRESS_MAX, expected=SITE)
        _advance(draft, now, site={"address": address})
        return None
    raise WrongInput(step)


def _description(draft: Draft, message: UserInput, now: datetime) -> str | None:
    """Text, or a photo/voice whose caption is the description; a bare photo/voice is kept."""
    if isinstance(message, TextInput):
        _advance(draft, now, description=clean_text(message.text, limit=DESCRIPTION_MAX, expected=DESCRIPTION))
        return None
    if isinstance(message, (PhotoInput, VoiceInput)):
        key = "photos" if isinstance(message, PhotoInput) else "voices"
        files = list(draft.data.get(key, []))
        limit = MAX_PHOTOS if key == "photos" else MAX_VOICES
        captioned = bool(message.caption and message.caption.strip())
        if len(files) >= limit:
            if not captioned:  # at this step the way on is words, not "Done"
                raise LimitReached(limit, DESCRIPTION_PHOTOS if key == "photos" else key)
            # what they wrote under it is the description they were asked for: kept, the file is not
            _advance(draft, now, description=clean_text(message.caption, limit=DESCRIPTION_MAX, expected=DESCRIPTION))
            return PHOTO_NOT_ADDED if key == "photos" else VOICE_NOT_ADDED
        files.append(message.file_id)
        if captioned:
            _advance(draft, now, description=clean_text(message.caption, limit=DESCRIPTION_MAX, expected=DESCRIPTION), **{key: files})
            return None
        dialogs.move(draft, DESCRIPTION, now, **{key: files})
        return PHOTO_KEPT_NEED_TEXT if key == "photos" else VOICE_KEPT_NEED_TEXT
    raise WrongInput(DESCRIPTION)


async def handle_button(uow: UnitOfWork, customer: Customer, draft: Draft, action: str, value: str, now: datetime) -> str | None:
    """Apply an inline-button press (already checked to belong to this draft and step)."""
    step = draft.step
    if action == "back":
        target = previous_step(draft)
        if target is None:
            raise NotAllowed()
        dialogs.move(draft, target, now, editing=False)
        return None
    if step == TYPE and action == "type" and value == "complaint":
        return COMPLAINT_CHOSEN  # the handler hands over; this draft is replaced by the complaint's
    if step == TYPE and action == "type" and value == "return" and not draft.data.get("editing") and await registered_products(uow, customer):
        return RETURN_CHOSEN  # likewise; a return of a product the registry does not know stays an intake
    if step == TYPE and action == "type" and value in requests.KINDS:
        _advance(draft, now, kind=value)
        return None
    if step == PRODUCT and action == "product":
        product = await uow.products.get(int(value)) if value.isdigit() else None
        if product is None or product.customer_id != customer.id:
            raise StaleAction()
        _advance(draft, now, product_id=product.id, serial=product.serial, product_model=product.model)
        return None
    if step == PRODUCT and action == "unknown":
        _advance(draft, now, product_id=None, serial=None, product_model=None)
        return None
    if step == PHOTOS and action == "done":
        _advance(draft, now)
        return None
    if step == PHOTOS and action == "clear":
        dialogs.move(draft, PHOTOS, now, photos=[])
        return PHOTOS_CLEARED
    if step == DESCRIPTION and action == "clear_voices":  # a voice note sent by mistake
        dialogs.move(draft, DESCRIPTION, now, voices=[])
        return VOICES_CLEARED
    if step == CONFIRM and action == "edit":
        dialogs.move(draft, EDIT, now)
        return None
    if step == EDIT and action == "field" and value in EDITABLE:
        dialogs.move(draft, value, now, editing=True)
        return None
    raise StaleAction()


def is_complete(draft: Draft) -> bool:
    data = draft.data
    return bool(data.get("kind") and data.get("description") and data.get("site"))


async def submit(
    uow: UnitOfWork, user: User, customer: Customer, draft: Draft, policy: Policy, now: datetime, timezone: ZoneInfo,
) -> ServiceRequest:
    """Turn the confirmed draft into a request and close the dialog."""
    if draft.step != CONFIRM or not is_complete(draft):
        raise StaleAction()
    data = draft.data
    site = data["site"]
    product_id = data.get("product_id")
    if product_id is not None:
        product = await uow.products.get(product_id)
        if product is None or product.customer_id != customer.id:
            # it changed hands while the form was open: the report goes with the serial as typed,
            # not linked to someone else's product (a maintenance booking is refused before this)
            product_id = None
    request = await requests.create(uow, user, customer, requests.NewRequest(
        kind=data["kind"], description=data["description"], product_id=product_id,
        serial=data.get("serial"), photos=tuple(data.get("photos", [])), voices=tuple(data.get("voices", [])),
        site_address=site.get("address"), site_latitude=site.get("latitude"), site_longitude=site.get("longitude"),
    ), policy, now, timezone)
    reminder_id = data.get("maintenance_reminder_id")
    if reminder_id and data["kind"] == "maintenance" and product_id:  # booked from a maintenance reminder
        await uow.maintenance.link_booking(reminder_id, product_id, request.id)
    await dialogs.end(uow, draft)
    return request
