"""Staff administration: /invite, joining by invite link, /staff, /duty, /profile."""
from __future__ import annotations

from bot import dispatch_views, job_views, menus, staff_views, views
from bot.callbacks import DialogButton, DispatchButton, InviteRoleButton, ProfileButton, StaffButton
from bot.keyboards import button, inline
from bot.services import dialogs, escalation, requests, staff, users
from bot.services.dispatch import Released
from bot.services.errors import DomainError, InvalidValue, NotAllowed, NotFound, StaleAction, WrongInput
from bot.services.inputs import TextInput, UserInput
from bot.services.users import ROLE_DISPATCHER
from handlers import approvals as approval_handlers
from handlers import onboarding
from handlers.common import Turn, handler
from storage.models import Draft, User


def _invite_link(turn: Turn, code: str) -> str:
    return f"https://t.me/{turn.bot.username}?start={staff.INVITE_PREFIX}{code}"


@handler
async def cmd_invite(turn: Turn) -> None:
    """/invite [role]: a one-time link that gives its opener a staff role (admins only)."""
    if not staff.is_admin(turn.user):
        await turn.reply(turn._("Only an admin can do that."))
        return
    args = turn.context.args or []
    if not args:
        await turn.reply(staff_views.invite_role_prompt(turn._))
        return
    await _create_invite(turn, args[0].lower())


async def on_invite_role(turn: Turn, payload: InviteRoleButton) -> None:
    await _create_invite(turn, payload.role)


async def _create_invite(turn: Turn, role: str) -> None:
    try:
        invite = await staff.create_invite(turn.uow, turn.user, role, turn.deps.policy.staff, turn.now)
    except NotAllowed:
        await turn.audit("not_admin", action="invite")
        await turn.answer(turn._("Only an admin can do that."), alert=True)
        return
    except InvalidValue:
        await turn.reply(staff_views.invite_role_prompt(turn._))
        return
    await turn.edit_off()
    await turn.reply(staff_views.invite_created(turn._, invite, _invite_link(turn, invite.code)))


async def join_by_invite(turn: Turn, code: str) -> None:
    """/start inv_<code>: the invitee gets the role and their staff menu."""
    try:
        role = await staff.redeem_invite(turn.uow, turn.user, code, turn.deps.policy.staff, turn.now)
    except staff.Throttled:
        await turn.reply(turn._("Too many wrong invite codes. Please wait an hour and try again, or ask your admin."))
        return
    except staff.InviteRefused as refused:
        await turn.reply(staff_views.invite_refused(turn._, refused.reason))
        return
    await turn.reply(staff_views.welcome_staff(turn._, role))
    await menus.apply_for(turn.bot, turn.user, turn._)


@handler
async def cmd_staff(turn: Turn) -> None:
    """/staff: everyone with a staff role; open one to change roles or deactivate."""
    try:
        people = await staff.list_staff(turn.uow, turn.user)
    except NotAllowed:
        await turn.reply(turn._("Only an admin can do that."))
        return
    await turn.reply(staff_views.staff_list(turn._, people))


async def on_staff_button(turn: Turn, payload: StaffButton) -> None:
    """Every press re-checks that the presser is an active admin, whatever the button says."""
    try:
        if payload.action == "list":  # the id field holds the page
            await turn.edit(staff_views.staff_list(turn._, await staff.list_staff(turn.uow, turn.user), payload.user_id))
            return
        if payload.action == "back":  # from a card: the page that person is on
            await turn.edit(staff_views.staff_list(turn._, await staff.list_staff(turn.uow, turn.user), showing=payload.user_id))
            return
        if payload.action in ("grant", "withdraw"):
            change = await staff.set_role(turn.uow, turn.user, payload.user_id, payload.role, payload.action == "grant", turn.now)
        elif payload.action in ("activate", "deactivate"):
            change = await staff.change_active(turn.uow, turn.user, payload.user_id, payload.action == "activate", turn.now)
        elif payload.action in ("open", "role"):  # "role": an older card's toggle, shown again as it is now
            change = staff.StaffChange(await staff.staff_member(turn.uow, turn.user, payload.user_id), changed=False)
        else:
            raise InvalidValue("action")
    except NotAllowed:
        if not staff.is_admin(turn.user):
            await turn.audit("not_admin", data=payload.pack())
            await turn.answer(turn._("Only an admin can do that."), alert=True)
        else:
            await turn.answer(turn._("Not possible: there must always be an active admin, and nobody can be left without a role (deactivate them instead)."), alert=True)
        return
    except (NotFound, InvalidValue):
        await turn.audit("forged_button", data=payload.pack())
        await turn.answer(turn._("This button is no longer valid."), alert=True)
        return
    person, released = change.person, change.released
    if change.changed:
        await menus.apply_for(turn.bot, person, turn.translator_for(person))
    else:
        await turn.answer(_unchanged_note(turn, payload, person))
    if person.role_names & users.STAFF_ROLES:
        await turn.edit(staff_views.staff_card(turn._, person))
    else:  # a deactivated person's last role withdrawn: no longer staff, so the list it is
        await turn.answer(turn._("{name} has no role left and is no longer on the staff list.", name=staff_views.display_name(person)))
        await turn.edit(staff_views.staff_list(turn._, await staff.list_staff(turn.uow, turn.user)))
    if released.requests:  # queued with the jobs' return to the queue, sent once it is committed
        await _tell_released(turn, person, released, deactivated=payload.action == "deactivate")
    for approval in change.back_to_approvers:  # their cards say the requester can no longer answer
        await approval_handlers.post_to_approvers(turn, approval, await turn.uow.requests.get(approval.request_id))
    if change.changed and (payload.action == "deactivate" or (payload.action == "withdraw" and payload.role == escalation.ROLE_EXPERT)):
        await _tell_cases_left(turn, person)
    if released.withdrawn:
        await turn.uow.commit()
        await approval_handlers.show_withdrawn(turn, released.withdrawn)


def _unchanged_note(turn: Turn, payload: StaffButton, person: User) -> str | None:
    """Why a press changed nothing: the card it was on was older than the person's roles."""
    name = staff_views.display_name(person)
    if payload.action == "grant":
        return turn._("{name} already has this role.", name=name)
    if payload.action == "withdraw":
        return turn._("{name} does not have this role.", name=name)
    if payload.action == "role":
        return turn._("That card was out of date: here it is as it is now.")
    return None  # "open"


async def _tell_cases_left(turn: Turn, person: User) -> None:
    """Who asked an expert who can no longer answer is told, with the request's card to ask another
    (every dispatcher, when the one who asked has left too)."""
    for case, request in await escalation.left_without_expert(turn.uow, person):
        for reader in await escalation.askers(turn.uow, case):
            _ = turn.translator_for(reader)
            if reader.id == case.requested_by_user_id:
                text = _("{name} can no longer answer your question on {number} (asked {time}): please ask another expert from the request's card.",
                         name=staff_views.display_name(person), number=request.number, time=_.datetime(case.created_at))
            else:
                text = _("{name} can no longer answer the question on {number} (asked {time} by a dispatcher who has left): please ask another expert from the request's card.",
                         name=staff_views.display_name(person), number=request.number, time=_.datetime(case.created_at))
            await turn.notify(reader, text, markup=inline([[button(_("Open {number}", number=request.number), DispatchButton(request.id, "open"))]]))


async def _tell_released(turn: Turn, person: User, released: Released, *, deactivated: bool) -> None:
    """Dispatchers learn which jobs came back; customers that their engineer will change, and that
    a visit agreed (or being arranged) with them is off."""
    numbers, name = ", ".join(r.number for r in released.requests), staff_views.display_name(person)
    for dispatcher in await requests.dispatchers(turn.uow):
        _ = turn.translator_for(dispatcher)
        if deactivated:
            text = _("{name} was deactivated; their open jobs are back in the /queue: {numbers}", name=name, numbers=numbers)
        else:
            text = _("{name} is no longer a field engineer; their open jobs are back in the /queue: {numbers}", name=name, numbers=numbers)
        await turn.notify(dispatcher, text, for_role=ROLE_DISPATCHER)
    for request in released.requests:
        customer = await turn.uow.customers.get(request.customer_id)
        customer_user = await turn.uow.users.get(customer.user_id) if customer.user_id else None
        told = False
        if customer_user is not None:
            _ = turn.translator_for(customer_user)
            told = await turn.notify(customer_user, job_views.engineer_changing(_, request, released.called_off.get(request.id)))
        called_off = released.called_off.get(request.id)
        if called_off is not None and not told:  # no chat with the bot, or blocked it: they would wait at home
            for dispatcher in await requests.dispatchers(turn.uow):
                await turn.notify(dispatcher, dispatch_views.phone_about_visit_off(turn.translator_for(dispatcher), request, customer, called_off),
                                  for_role=ROLE_DISPATCHER)


@handler
async def cmd_duty(turn: Turn) -> None:
    """/duty: go on or off duty (off-duty staff are not proposed for new jobs)."""
    try:
        on_duty = staff.toggle_duty(turn.user)
    except NotAllowed:
        await turn.reply(turn._("This command is for service staff."))
        return
    await turn.reply(turn._("You are now on duty.") if on_duty else turn._("You are now off duty; no new jobs will be proposed to you."))


@handler
async def cmd_profile(turn: Turn) -> None:
    """/profile: a staff member's own name, phone, region, skills and duty; a customer's own
    name, phone and company."""
    if not users.is_staff(turn.user):
        await onboarding.show_details(turn)
        return
    await turn.reply(await _own_profile(turn))


async def _own_profile(turn: Turn) -> views.View:
    return staff_views.profile_view(turn._, turn.user, also_customer=await users.customer_of(turn.uow, turn.user) is not None)


async def on_profile_button(turn: Turn, payload: ProfileButton) -> None:
    """Edits only the presser's own profile: the button names a field, never a person."""
    if not users.is_staff(turn.user) or payload.field.startswith(users.DETAIL_BUTTON):  # their customer record
        await onboarding.on_details_button(turn, payload)
        return
    try:
        staff.require_staff(turn.user)
        if payload.field in ("duty_on", "duty_off", "duty"):  # "duty": an older card's toggle, shown again as it is now
            if payload.field == "duty" or not staff.set_duty(turn.user, payload.field == "duty_on"):
                await turn.answer(turn._("You are already on duty.") if turn.user.on_duty else turn._("You are already off duty."))
            await turn.edit(await _own_profile(turn))
            return
        if payload.field not in staff.PROFILE_FIELDS:
            raise InvalidValue("field")
    except (NotAllowed, InvalidValue):
        await turn.audit("not_allowed_button", data=payload.pack())
        await turn.answer(turn._("This button is no longer valid."), alert=True)
        return
    draft = await dialogs.begin(turn.uow, turn.user.id, staff.PROFILE_DIALOG, payload.field, {}, turn.now)
    await turn.reply(staff_views.profile_prompt(turn._, payload.field, draft))


async def on_profile_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    try:
        if not isinstance(message, TextInput):
            raise WrongInput(draft.step)
        staff.set_profile_field(turn.user, draft.step, message.text)
    except NotAllowed:
        await dialogs.end(turn.uow, draft)
        await turn.reply(turn._("This command is for service staff."))
        return
    except DomainError as error:
        await turn.reply(_profile_error(turn, draft.step, error))
        return
    await dialogs.end(turn.uow, draft)
    await turn.reply(turn._("Saved."))
    await turn.reply(await _own_profile(turn))


def _profile_error(turn: Turn, field: str, error: DomainError) -> str:
    if isinstance(error, InvalidValue) and error.field == "too_many_skills":
        return turn._("At most {max} product lines, please.", max=staff.MAX_SKILLS)
    if isinstance(error, WrongInput):
        return turn._(staff_views.PROFILE_PROMPTS[field])
    return views.input_error(turn._, error)


async def on_profile_dialog_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    raise StaleAction()  # the profile prompts have only Cancel, which the router handles
