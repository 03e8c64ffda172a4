"""Finance changes a spare part's catalog price from the chat (DESIGN: finance "prices parts").

A dialog (a `drafts` row, so a restart in the middle loses nothing): the part's code, then the new
price, then a confirmation card naming the part with its old and new price. The change is checked
again when confirmed: the role (finance or admin), and that nobody changed the price meanwhile, so
two people pricing one part cannot overwrite each other unseen. Every change is audited.

What a price change touches: quotes already sent keep their amounts; reports written from now on
cost the part at the new price (report_parts.unit_price), earlier reports keep theirs.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.services import dialogs
from bot.services.errors import DomainError, InvalidValue, NotAllowed, NotFound, StaleAction
from bot.services.registry import PRICE_MAX, as_amount
from bot.services.users import ROLE_ADMIN, ROLE_FINANCE
from bot.services.validation import clean_text
from storage.db import UnitOfWork
from storage.models import AuditEntry, Draft, Part, User

DIALOG = "part_price"
CODE_STEP, PRICE_STEP, CONFIRM_STEP = "code", "price", "confirm"
PRICING_ROLES = frozenset({ROLE_FINANCE, ROLE_ADMIN})
CODE_MAX = 64  # a part code as typed; the catalog's codes are shorter
PRICE_TEXT_MAX = 32
AUDIT_ACTION = "part_price_changed"


class PriceChanged(DomainError):
    """Somebody changed the part's price after the card was shown; nothing was changed."""

    def __init__(self, part: Part) -> None:
        super().__init__(part.code)
        self.part = part


@dataclass(frozen=True)
class PriceChange:
    """A part's price from `old` to `new` (fen; None: no price): proposed on the card, or made."""

    part: Part
    old: int | None
    new: int


def may_price(user: User) -> bool:
    return user.is_active and bool(user.role_names & PRICING_ROLES)


def _require(actor: User) -> None:
    if not may_price(actor):
        raise NotAllowed()


async def start(uow: UnitOfWork, actor: User, now: datetime) -> Draft:
    """Open the dialog at the question for the part's code (finance and admins only)."""
    _require(actor)
    return await dialogs.begin(uow, actor.id, DIALOG, CODE_STEP, {}, now)


async def pick_part(uow: UnitOfWork, actor: User, draft: Draft, text: str, now: datetime) -> Part:
    """The part with the typed code (any case); the dialog moves on to its new price.
    Raises WrongInput/TooLong (bad text), NotFound (no such code), NotAllowed (no longer finance)."""
    _require(actor)
    code = clean_text(text, limit=CODE_MAX, expected=CODE_STEP)
    part = await uow.parts.by_code(code)
    if part is None:
        raise NotFound(code)
    dialogs.move(draft, PRICE_STEP, now, part_id=part.id, new=None)
    return part


async def propose(uow: UnitOfWork, actor: User, draft: Draft, text: str, now: datetime) -> PriceChange:
    """The typed new price, shown on a card before anything changes; the price seen on the card is
    kept, so the confirmation can tell whether somebody changed it meanwhile.
    Raises InvalidValue("price") for anything but 0–PRICE_MAX CNY with at most 2 decimals."""
    _require(actor)
    part = await part_of(uow, draft)
    amount = as_amount(clean_text(text, limit=PRICE_TEXT_MAX, expected=PRICE_STEP))
    if amount is None or amount > PRICE_MAX:
        raise InvalidValue("price")
    new = int(amount * 100)
    dialogs.move(draft, CONFIRM_STEP, now, part_id=part.id, old=part.price, new=new)
    return PriceChange(part, part.price, new)


async def part_of(uow: UnitOfWork, draft: Draft) -> Part:
    """The part the dialog is about (NotFound once it left the catalog)."""
    part = await uow.jobs.part(draft.data.get("part_id") or 0)
    if part is None:
        raise NotFound()
    return part


async def confirm(uow: UnitOfWork, actor: User, draft: Draft, shown: int, now: datetime) -> PriceChange:
    """✅ on the card that showed the new price `shown`: the price changes if it is still the one
    the card showed as old; the dialog ends either way. A card replaced by a corrected price is
    stale (StaleAction): its ✅ must not apply an amount it does not show.
    Raises NotAllowed (no longer finance), StaleAction, PriceChanged, NotFound."""
    _require(actor)
    if draft.step != CONFIRM_STEP:
        raise InvalidValue("step")
    if shown != draft.data.get("new"):
        raise StaleAction()
    part_id = draft.data["part_id"]
    part = (await uow.stock.lock_parts([part_id])).get(part_id)  # two pricing at once take turns
    await dialogs.end(uow, draft)
    if part is None:
        raise NotFound()
    old, new = draft.data["old"], draft.data["new"]
    if part.price != old:
        raise PriceChanged(part)
    part.price = new
    await uow.audit.add(AuditEntry(actor_telegram_id=actor.telegram_id, action=AUDIT_ACTION,
                                   details={"part_id": part.id, "code": part.code, "old": old, "new": new}, created_at=now))
    return PriceChange(part, old, new)


def back(draft: Draft, now: datetime) -> str:
    """One step back: from the card to the price, from the price to the code; returns the step."""
    if draft.step == CONFIRM_STEP:
        dialogs.move(draft, PRICE_STEP, now, new=None)
    elif draft.step == PRICE_STEP:
        dialogs.move(draft, CODE_STEP, now, part_id=None)
    else:
        raise NotAllowed()
    return draft.step
