"""Staff enrolment and administration: invites, roles, deactivation, duty.

Every function checks the actor's authority itself; callers never decide who may act.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.policy import StaffPolicy
from bot.services import approvals, dialogs, dispatch
from bot.services.errors import DomainError, InvalidValue, NotAllowed, NotFound, TooLong, WrongInput
from bot.services.validation import NAME_MAX, clean_text, international_phone
from bot.services.users import ONBOARDING, ROLE_ADMIN, STAFF_ROLES
from storage.db import UnitOfWork
from storage.models import Approval, AuditEntry, Invite, User, UserRole

INVITE_PREFIX = "inv_"
FAILED_INVITE = "invite_failed"
ALREADY_JOINED = "joined"  # InviteRefused.reason: the presser joined with this very invite and still has its role


class InviteRefused(DomainError):
    """The code is unknown, used, expired or revoked (its admin no longer is one), or the person
    already joined with it (ALREADY_JOINED); `reason` says which (for the message)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Throttled(DomainError):
    """Too many wrong codes from this person recently."""


def is_admin(user: User) -> bool:
    return user.is_active and ROLE_ADMIN in user.role_names


def _require_admin(user: User) -> None:
    if not is_admin(user):
        raise NotAllowed()


async def create_invite(uow: UnitOfWork, actor: User, role: str, policy: StaffPolicy, now: datetime) -> Invite:
    _require_admin(actor)
    if role not in STAFF_ROLES:
        raise InvalidValue("role")
    return await uow.invites.add(Invite(
        code=secrets.token_urlsafe(12), role=role, created_by_user_id=actor.id,
        created_at=now, expires_at=now + policy.invite_valid,
    ))


async def redeem_invite(uow: UnitOfWork, user: User, code: str, policy: StaffPolicy, now: datetime) -> str:
    """Give the user the invite's role; wrong codes are counted and throttled per hour."""
    if await uow.audit.count_since(user.telegram_id, FAILED_INVITE, now - timedelta(hours=1)) >= policy.invite_attempts_per_hour:
        raise Throttled()
    invite = await uow.invites.by_code(code)
    reason = None
    if invite is None:
        reason = "unknown"
    elif invite.used_at is not None:
        if invite.used_by_user_id == user.id and user.is_active and invite.role in user.role_names:
            # the one who joined with it, tapping the admin's link again (to find the bot): no
            # wrong code, and no "ask for a new one" for a role they have
            raise InviteRefused(ALREADY_JOINED)
        reason = "used"
    elif invite.expires_at <= now:
        reason = "expired"
    elif not await _inviter_still_admin(uow, invite):
        reason = "revoked"
    elif not await uow.invites.mark_used(invite.id, user.id, now):
        reason = "used"
    if reason is not None:
        await uow.audit.add(AuditEntry(actor_telegram_id=user.telegram_id, action=FAILED_INVITE, details={"reason": reason}, created_at=now))
        raise InviteRefused(reason)
    withdrawn: list[str] = []
    if not user.is_active:
        # Someone deactivated comes back with the invited role only: the roles they held when they
        # left (admin, say) are not what this invite offers.
        withdrawn = sorted(user.role_names & STAFF_ROLES - {invite.role})
        user.roles = [r for r in user.roles if r.role not in withdrawn]
    await uow.users.add_role(user, invite.role)
    user.is_active = True
    draft = await dialogs.current(uow, user.id)
    if draft is not None and draft.kind == ONBOARDING:  # staff need no customer registration (/new offers it later)
        await dialogs.end(uow, draft)
    await uow.audit.add(AuditEntry(actor_telegram_id=user.telegram_id, action="invite_used",
                                   details={"invite_id": invite.id, "role": invite.role, "roles_withdrawn": withdrawn}, created_at=now))
    return invite.role


async def _inviter_still_admin(uow: UnitOfWork, invite: Invite) -> bool:
    """An invite carries its creator's authority: once they are deactivated or no longer an admin,
    their unused links die with it (else a dismissed admin could re-enrol themselves, or anyone)."""
    creator = await uow.users.get(invite.created_by_user_id)
    return creator is not None and is_admin(creator)


async def staff_member(uow: UnitOfWork, actor: User, user_id: int) -> User:
    _require_admin(actor)
    target = await uow.users.get(user_id)
    if target is None or not target.role_names & STAFF_ROLES:
        raise NotFound()
    return target


async def list_staff(uow: UnitOfWork, actor: User) -> list[User]:
    _require_admin(actor)
    return await uow.staff.all_staff()


NOTHING_RELEASED = dispatch.Released([], [])


@dataclass(frozen=True)
class StaffChange:
    """What an admin's change to a staff member did, for the handler to tell people."""

    person: User
    changed: bool  # False: the person already was so (a button of an older card)
    released: dispatch.Released = NOTHING_RELEASED  # their open jobs, back in the queue
    back_to_approvers: list[Approval] = field(default_factory=list)  # steps waiting for an answer they can no longer give


async def set_role(uow: UnitOfWork, actor: User, user_id: int, role: str, grant: bool, now: datetime) -> StaffChange:
    """Grant (`grant`) or withdraw one role. Unchanged when the person already was so (a button
    of an older card must not undo what it offered). Withdrawing ends what the role had open:
    engineer jobs go back to the queue, approvals waiting for their answer to the approvers.
    The last active admin stays one; an active person keeps at least one role."""
    target = await staff_member(uow, actor, user_id)
    if role not in STAFF_ROLES:
        raise InvalidValue("role")
    if role == ROLE_ADMIN and not grant:
        await _keep_an_active_admin(uow, actor, target)  # the admins first: one lock order
    await _lock(uow, target)  # roles read again: another admin may have changed them meanwhile
    if grant == (role in target.role_names):
        return StaffChange(target, changed=False)
    if grant:
        target.roles.append(UserRole(role=role))
    else:
        if len(target.role_names & STAFF_ROLES) == 1 and target.is_active:
            # the last role of someone active: deactivate them instead. Someone deactivated may lose
            # it too (and leave the staff list): a former staff member who is also a customer can only
            # be erased so (/erase: "Withdraw their roles in /staff first").
            raise NotAllowed()
        target.roles = [r for r in target.roles if r.role != role]
    await uow.session.flush()
    await uow.audit.add(AuditEntry(actor_telegram_id=actor.telegram_id, action="role_granted" if grant else "role_withdrawn", details={"user_id": target.id, "role": role}, created_at=now))
    if grant:
        return StaffChange(target, changed=True)
    released = await dispatch.release_jobs(uow, actor, target, now) if role == dispatch.ROLE_ENGINEER else NOTHING_RELEASED
    return StaffChange(target, True, released, await approvals.requester_left(uow, actor, target, now))


async def toggle_role(uow: UnitOfWork, actor: User, user_id: int, role: str, now: datetime) -> tuple[bool, dispatch.Released]:
    """The other state of one role (for scripts and tests; buttons say which they mean: `set_role`);
    returns whether the person has it now."""
    grant = role not in (await staff_member(uow, actor, user_id)).role_names
    return grant, (await set_role(uow, actor, user_id, role, grant, now)).released


async def _lock(uow: UnitOfWork, person: User) -> None:
    """Lock the person's row until the transaction ends and read their state and roles again:
    two admins changing the same person at once (two processes of a fleet) take turns, and the
    second decides on what the first left (else both could withdraw one of the last two roles,
    or both grant one and the second fail on the unique key). A no-op lock on SQLite, whose
    transactions run one at a time anyway."""
    await uow.session.refresh(person, ["is_active"], with_for_update=True)  # the row alone: PostgreSQL locks no outer join
    await uow.session.refresh(person, ["roles"])


async def _keep_an_active_admin(uow: UnitOfWork, actor: User, target: User) -> None:
    """Before an admin is demoted or deactivated: the active admins' rows are locked (in id order)
    and only then counted, so two admins removing each other at once take turns, and the second
    finds they are no longer an admin. Someone already deactivated is not counted, and may lose
    the role whatever the count."""
    admins = await uow.staff.lock_active_with_role(ROLE_ADMIN)
    if actor.id not in admins:
        raise NotAllowed()  # demoted or deactivated meanwhile
    if target.id in admins and len(admins) == 1:
        raise NotAllowed()


async def change_active(uow: UnitOfWork, actor: User, user_id: int, active: bool, now: datetime) -> StaffChange:
    """Deactivation takes effect at once: every staff check reads `is_active`, and it ends what the
    person had open: their jobs return to the queue, the approval steps waiting for their answer
    to the approvers (both returned, so people can be told)."""
    target = await staff_member(uow, actor, user_id)
    if target.id == actor.id and not active:
        raise NotAllowed()
    admins_checked = not active and is_admin(target)
    if admins_checked:
        await _keep_an_active_admin(uow, actor, target)  # the admins first: one lock order
    await _lock(uow, target)  # another admin may have changed them meanwhile
    if target.is_active == active:  # a second press, an older card's button, or another admin's press
        return StaffChange(target, changed=False)
    if not active and is_admin(target) and not admins_checked:  # made an admin meanwhile
        await _keep_an_active_admin(uow, actor, target)
    target.is_active = active
    await uow.audit.add(AuditEntry(actor_telegram_id=actor.telegram_id, action="activated" if active else "deactivated", details={"user_id": target.id}, created_at=now))
    if active:
        return StaffChange(target, changed=True)
    released = await dispatch.release_jobs(uow, actor, target, now)
    return StaffChange(target, True, released, await approvals.requester_left(uow, actor, target, now))


async def set_active(uow: UnitOfWork, actor: User, user_id: int, active: bool, now: datetime) -> tuple[User, dispatch.Released]:
    """`change_active`, for callers that need only the person and their released jobs."""
    change = await change_active(uow, actor, user_id, active, now)
    return change.person, change.released


def set_duty(user: User, on_duty: bool) -> bool:
    """Go on or off duty, for staff who take jobs; False when they already were (an older card's button)."""
    require_staff(user)
    if user.on_duty == on_duty:
        return False
    user.on_duty = on_duty
    return True


def toggle_duty(user: User) -> bool:
    """/duty: the other state; returns the new one."""
    require_staff(user)
    set_duty(user, not user.on_duty)
    return user.on_duty


# --- the staff member's own profile (name, phone, region, skills) ------------------------

PROFILE_DIALOG = "profile"
PROFILE_FIELDS = ("name", "phone", "region", "skills")
REGION_MAX = 100
SKILL_MAX = 40
MAX_SKILLS = 12
_SKILL_SEPARATORS = re.compile("[,;，；、､]")


def require_staff(user: User) -> None:
    if not (user.is_active and user.role_names & STAFF_ROLES):
        raise NotAllowed()


def parse_skills(text: str) -> list[str]:
    """Product lines separated by commas or semicolons, a Chinese keyboard's too (the full-width
    comma and semicolon, and the enumeration comma "、" that lists things in Chinese, half-width
    "､" as well); duplicates dropped."""
    skills: list[str] = []
    for item in (part.strip() for part in _SKILL_SEPARATORS.split(text)):
        if not item:
            continue
        if len(item) > SKILL_MAX:
            raise TooLong(SKILL_MAX)
        if item.lower() not in (s.lower() for s in skills):
            skills.append(item)
    if not skills:
        raise WrongInput("skills")
    if len(skills) > MAX_SKILLS:
        raise InvalidValue("too_many_skills")
    return skills


def set_profile_field(user: User, field: str, text: str) -> None:
    """Validate and store one profile field typed by the staff member themself."""
    require_staff(user)
    if field == "name":
        user.full_name = clean_text(text, limit=NAME_MAX, expected="name")
    elif field == "phone":
        user.phone = international_phone(text)
    elif field == "region":
        user.region = clean_text(text, limit=REGION_MAX, expected="region")
    elif field == "skills":
        user.skills = parse_skills(text)
    else:
        raise InvalidValue("field")
