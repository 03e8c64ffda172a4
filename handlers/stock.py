"""Spare parts: /stock for the warehouse and managers, /issue for the warehouse, the engineer's
requisition dialog and receipt. Every press is re-checked by `bot.services.stock`."""
from __future__ import annotations

from bot import stock_views, views
from bot.callbacks import DialogButton, IssueButton, RequisitionButton
from bot.services import approvals, dialogs, quotes, stock
from bot.services.errors import DomainError, NotAllowed, NotFound, StaleAction
from bot.services.inputs import UserInput
from handlers import approvals as approval_handlers
from handlers.common import Turn, handler
from storage.models import Approval, Draft, PartRequisition, ServiceRequest


async def _refuse(turn: Turn, data: str) -> None:
    await turn.audit("not_allowed_button", data=data)
    await turn.answer(turn._("This button is no longer valid."), alert=True)


async def _buttons_off(turn: Turn) -> None:
    """Take the buttons off the pressed message, if it still has any (a replayed press may come from a bare one)."""
    message = turn.update.callback_query.message if turn.update.callback_query else None
    if message is not None and getattr(message, "reply_markup", None) is not None:
        await turn.edit_off()


def _alert_time(turn: Turn):
    return turn.deps.planner.staff_time(turn.now, urgent=False)  # low-stock alerts wait for reachable hours


async def _parts(turn: Turn, requisition: PartRequisition):
    return await stock.parts_by_id(turn.uow, [line.part_id for line in requisition.lines])


# --- /stock and /issue -------------------------------------------------------------------


@handler
async def cmd_stock(turn: Turn) -> None:
    """/stock [code or name]: parts with stock per warehouse, below their safety level first."""
    query = " ".join(turn.context.args or [])
    try:
        overview = await stock.overview(turn.uow, turn.user, query)
    except NotAllowed:
        await turn.reply(turn._("This command is for the warehouse and managers."))
        return
    await turn.reply(stock_views.stock_list(turn._, overview))


@handler
async def cmd_issue(turn: Turn) -> None:
    """/issue: approved requisitions, each with a button per warehouse that can cover it."""
    try:
        queue = await stock.issue_queue(turn.uow, turn.user)
    except NotAllowed:
        await turn.reply(turn._("This command is for the warehouse."))
        return
    if not queue.items:
        await turn.reply(stock_views.issue_list_empty(turn._))
    for item in queue.items:
        await turn.reply(stock_views.issue_card(turn._, item))
        await _tell_waiting_for_stock(turn, item)
    if queue.total > len(queue.items):
        await turn.reply(stock_views.issue_list_more(turn._, len(queue.items), queue.total))


async def _tell_waiting_for_stock(turn: Turn, item: stock.IssueItem) -> None:
    """The engineer hears once that the approved parts wait for stock (the service keeps it to once)."""
    if item.short and item.engineer is not None:
        notice = stock_views.waiting_for_stock(turn.translator_for(item.engineer), item)
        if await stock.tell_waiting_for_stock(turn.uow, item, notice.to_payload(), turn.now):
            turn.notified.add(item.engineer.id)  # sent right after this update's commit


async def on_issue_button(turn: Turn, payload: IssueButton) -> None:
    """Issue from one warehouse; or (warehouse 0) refresh the card, show the plan for several, or issue that plan."""
    if payload.warehouse_id == 0 and payload.action != "split":
        await _refresh_issue_card(turn, payload.requisition_id, plan=payload.action == "plan")
        return
    try:
        if payload.warehouse_id == 0:
            issued = await stock.issue_split(turn.uow, turn.user, payload.requisition_id, payload.plan, turn.now, alert_at=_alert_time(turn))
        else:
            issued = await stock.issue(turn.uow, turn.user, payload.requisition_id, payload.warehouse_id, turn.now, alert_at=_alert_time(turn))
    except (NotAllowed, NotFound):
        await _refuse(turn, payload.pack())
        return
    except stock.WrongState as late:
        await turn.answer(stock_views.already_moved(turn._, late.requisition), alert=True)
        await _buttons_off(turn)
        return
    except stock.JobNotOpen as over:
        await turn.answer(stock_views.job_not_open(turn._, over.request), alert=True)
        await _buttons_off(turn)
        return
    except stock.AwaitingPayment as waiting:  # the card stays, to issue once the customer accepts
        await turn.answer(stock_views.awaiting_payment(turn._, waiting.request), alert=True)
        return
    except stock.OutOfStock as short:
        await turn.answer(stock_views.out_of_stock(turn._, short), alert=True)
        await _refresh_issue_card(turn, payload.requisition_id)
        return
    except stock.PlanChanged:  # the plan as it is now, or what is short, for the keeper to look at again
        await turn.answer(stock_views.plan_changed(turn._), alert=True)
        await _refresh_issue_card(turn, payload.requisition_id, plan=True)
        return
    parts = await _parts(turn, issued.requisition)
    engineer = await turn.uow.users.get(issued.requisition.engineer_id)
    if engineer is not None:
        await turn.notify_view(engineer, stock_views.issued_for_engineer(turn.translator_for(engineer), issued, parts, turn.user))
    await turn.uow.commit()  # the stock is taken, and the engineer's notice queued, before anyone is told
    await turn.edit(stock_views.issued_for_warehouse(turn._, issued, parts, turn.user))


async def _refresh_issue_card(turn: Turn, requisition_id: int, *, plan: bool = False) -> None:
    try:
        item = await stock.issue_item(turn.uow, turn.user, requisition_id)
    except NotAllowed:
        await _refuse(turn, f"issue:{requisition_id}")
        return
    if item is None:
        await turn.answer(turn._("This requisition is no longer waiting to be issued."), alert=True)
        await _buttons_off(turn)
        return
    await _tell_waiting_for_stock(turn, item)
    await turn.edit(stock_views.issue_card(turn._, item, plan=plan))


async def on_requisition_button(turn: Turn, payload: RequisitionButton) -> None:
    """The engineer confirms receipt, or withdraws a requisition not issued yet."""
    try:
        if payload.action == "received":
            received = await stock.confirm_receipt(turn.uow, turn.user, payload.requisition_id, turn.now)
            requisition, text = received.requisition, stock_views.received(turn._, received.requisition, received.request)
            if received.wait_over:
                await _tell_customer_resumed(turn, received.request)
        elif payload.action == "cancel":
            cancelled = await stock.cancel(turn.uow, turn.user, payload.requisition_id, turn.now)
            requisition, text = cancelled.requisition, stock_views.cancelled(turn._, cancelled.requisition)
            await turn.uow.commit()
            await approval_handlers.show_withdrawn(turn, cancelled.approvals)
        else:
            raise NotFound()
    except NotFound:
        await _refuse(turn, payload.pack())
        return
    except stock.WrongState as late:
        await turn.answer(turn._("Requisition {id} is already {status}.", id=late.requisition.id,
                                 status=turn._(stock_views.REQUISITION_STATUS_LABELS[late.requisition.status])), alert=True)
        await _buttons_off(turn)
        return
    await _buttons_off(turn)
    await turn.reply(text)
    await _show_job(turn, requisition.request_id)


async def _tell_customer_resumed(turn: Turn, request: ServiceRequest) -> None:
    from handlers import jobs as job_handlers  # the customer hears of the job's progress as on "▶️ Resume work"

    await job_handlers.tell_customer(turn, request, "resumed")


async def _show_job(turn: Turn, request_id: int) -> None:
    from handlers import jobs as job_handlers  # the job card lives with the other job steps

    try:
        await job_handlers.show_job(turn, request_id)
    except (NotAllowed, NotFound):  # the job has moved on (closed, reassigned): the text above is enough
        pass


# --- the engineer's requisition dialog ---------------------------------------------------


async def start_requisition(turn: Turn, request_id: int) -> None:
    """“🔩 Request parts” on the job card (NotAllowed / NotFound go to the job button's answers)."""
    draft, request = await stock.start_requisition(turn.uow, turn.user, request_id, turn.now)
    await turn.reply(stock_views.requisition_prompt(turn._, draft, request.number))


async def go_back(turn: Turn, draft: Draft) -> None:
    """The typed ⬅️ Back key, as the inline one: from the quantity back to the search (StaleAction
    at the search, which has no step before it)."""
    await stock.requisition_button(turn.uow, draft, "back", "", turn.now)
    await turn.reply(stock_views.requisition_prompt(turn._, draft, await _number(turn, draft)))


async def _number(turn: Turn, draft: Draft) -> str:
    request = await turn.uow.requests.get(draft.data["request_id"])
    return request.number if request else "?"


async def on_requisition_input(turn: Turn, draft: Draft, message: UserInput) -> None:
    try:
        matches = await stock.requisition_input(turn.uow, draft, message, turn.now)
    except StaleAction:
        raise
    except DomainError as error:
        await turn.reply(stock_views.input_error(turn._, error))
        return
    await turn.reply(stock_views.requisition_prompt(turn._, draft, await _number(turn, draft), matches))


async def on_requisition_dialog_button(turn: Turn, draft: Draft, payload: DialogButton) -> None:
    if payload.action == "done":
        await _send(turn, draft)
        return
    try:
        await stock.requisition_button(turn.uow, draft, payload.action, payload.value, turn.now)
    except StaleAction:
        raise
    except DomainError as error:
        await turn.answer(stock_views.input_error(turn._, error), alert=True)
        return
    await turn.edit_off()
    await turn.reply(stock_views.requisition_prompt(turn._, draft, await _number(turn, draft)))


async def _send(turn: Turn, draft: Draft) -> None:
    try:
        requisition, approval = await stock.send_requisition(turn.uow, turn.deps.policy, turn.user, draft, turn.now)
    except (NotAllowed, NotFound):
        await dialogs.end(turn.uow, draft)
        await turn.edit_off()
        await turn.reply(turn._("This job has changed meanwhile; nothing was recorded."))
        return
    except quotes.PaymentPending:  # quoted while the parts were picked: the list stays, to send once accepted
        from handlers.jobs import payment_pending_text  # handlers.jobs imports this module

        await turn.answer(payment_pending_text(turn), alert=True)
        return
    request = await turn.uow.requests.get(requisition.request_id)
    await approval_handlers.post_to_approvers(turn, approval, request)
    await turn.uow.commit()  # the requisition and its approval cards exist before an approver can press Approve
    await turn.edit_off()
    await turn.reply(views.main_menu_view(turn._, stock_views.requisition_sent(turn._, requisition, request, await _parts(turn, requisition))))
    await _show_job(turn, request.id)


# --- after the closing report: what was used against what was issued ---------------------


async def tell_differences(turn: Turn, request_id: int) -> None:
    """The service managers hear of a job whose report and issued parts disagree (only jobs that got parts)."""
    if not any(r.status in (stock.ISSUED, stock.RECEIVED) for r in await stock.requisitions_of(turn.uow, request_id)):
        return
    differences = await stock.reconcile(turn.uow, request_id)
    if not differences:
        return
    request = await turn.uow.requests.get(request_id)
    for manager in await turn.uow.users.active_with_role("service_manager"):
        await turn.notify(manager, stock_views.differences(turn.translator_for(manager), request, differences))


async def tell_warehouse(turn: Turn, request: ServiceRequest, approval: Approval) -> None:
    """An approved requisition goes to the warehouse as its issue card (without it, it waited for
    someone to happen to send /issue); its engineer hears now if all the stock cannot cover it."""
    if approval.status != approvals.APPROVED or approval.subject_id is None:
        return
    item = await stock.waiting_item(turn.uow, approval.subject_id)
    if item is None:
        return  # issued, cancelled or its job over meanwhile
    await _tell_waiting_for_stock(turn, item)  # not even all the warehouses together hold it yet
    for person in await turn.uow.users.active_with_role(stock.ROLE_WAREHOUSE):
        await turn.notify_view(person, stock_views.issue_card(turn.translator_for(person), item))


approval_handlers.FOLLOW_UPS["requisition"] = tell_warehouse
