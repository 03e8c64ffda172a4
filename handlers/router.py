"""Routing by state: plain messages go to the user's open dialog, buttons to their owner.

Dialog state is a database row, so routing reads it instead of relying on process memory
(unlike PTB's ConversationHandler, which would lose the step on restart).
"""
from __future__ import annotations

from bot import views
from bot.callbacks import (
    ApprovalButton,
    AssignButton,
    BadCallback,
    ClaimButton,
    ComplaintButton,
    ComplaintOfferButton,
    CaseButton,
    ConsultationButton,
    DialogButton,
    DispatchButton,
    EscalationButton,
    FollowUpButton,
    ExpertPickButton,
    InviteRoleButton,
    IssueButton,
    JobButton,
    MaintenanceButton,
    LanguageButton,
    ListPageButton,
    ProfileButton,
    QuoteButton,
    ProductsButton,
    ReportAnswerButton,
    RequisitionButton,
    RequestButton,
    ReturnButton,
    ReturnProductButton,
    ReportMonthButton,
    StaffButton,
    SurveyButton,
    VisitButton,
    parse,
)
from bot.keyboards import BACK, CANCEL, is_key
from bot.labels import MENU_ACTIONS
from bot.services import approvals, confirmation, consultation, dialogs, escalation, intake, prices, quotes, registry, reports, requests, returns, sales, stock, users
from bot.services import staff as staff_service
from bot.services import complaints
from bot.services import archive
from bot.services import erasure
from bot.services import followups
from bot.services.errors import InvalidValue, NotAllowed, StaleAction
from bot.services.inputs import TextInput
from handlers import approvals as approval_handlers
from handlers import complaints as complaint_handlers
from handlers import archive as archive_handlers
from handlers import erasure as erasure_handlers
from handlers import maintenance as maintenance_handlers
from handlers import consultation as consultation_handlers
from handlers import escalation as escalation_handlers
from handlers import followups as followup_handlers
from handlers import reports as report_handlers
from handlers import intake as intake_handlers
from handlers import registry as registry_handlers
from handlers import prices as price_handlers
from handlers import quotes as quote_handlers
from handlers import sales as sales_handlers
from handlers import stock as stock_handlers
from handlers import returns as return_handlers
from handlers import confirmation as confirmation_handlers
from handlers import dispatch, jobs, onboarding, staff, start, status
from handlers.common import Turn, handler
from handlers.inputs import to_input
from storage.models import Draft

INPUT_HANDLERS = {
    users.ONBOARDING: onboarding.on_input,
    users.DETAILS_DIALOG: onboarding.on_details_input,
    intake.INTAKE: intake_handlers.on_input,
    requests.COMMENT_DIALOG: status.on_comment_input,
    dispatch.CONTACTED_DIALOG: dispatch.on_note_input,
    dispatch.CLOSE_DIALOG: dispatch.on_close_input,
    jobs.JOB_NOTE: jobs.on_note_input,
    jobs.VISIT_TIME: jobs.on_visit_input,
    jobs.ARRIVAL: jobs.on_arrival_input,
    reports.REPORT: jobs.on_report_input,
    confirmation_handlers.VISIT_COUNTER: confirmation_handlers.on_counter_input,
    confirmation.SURVEY: confirmation_handlers.on_survey_input,
    staff_service.PROFILE_DIALOG: staff.on_profile_input,
    escalation.QUESTION_DIALOG: escalation_handlers.on_question_input,
    escalation.ANSWER_DIALOG: escalation_handlers.on_answer_input,
    consultation.ANSWER_DIALOG: consultation_handlers.on_answer_input,
    registry.IMPORT_DIALOG: registry_handlers.on_import_input,
    registry.CLAIM_DIALOG: registry_handlers.on_claim_input,
    prices.DIALOG: price_handlers.on_input,
    approvals.COMMENT_DIALOG: approval_handlers.on_comment_input,
    approvals.ANSWER_DIALOG: approval_handlers.on_answer_input,
    approvals.WAIVER_DIALOG: approval_handlers.on_waiver_input,
    sales.SALES_DIALOG: sales_handlers.on_input,
    quotes.QUOTE_DIALOG: quote_handlers.on_input,
    returns.DIALOG: return_handlers.on_input,
    stock.REQUISITION_DIALOG: stock_handlers.on_requisition_input,
    complaints.DIALOG: complaint_handlers.on_input,
    complaints.WORK_DIALOG: complaint_handlers.on_work_input,
    archive.DIALOG: archive_handlers.on_input,
    erasure.DIALOG: erasure_handlers.on_input,
    followups.FEEDBACK_DIALOG: followup_handlers.on_feedback_input,
}
BUTTON_HANDLERS = {
    users.ONBOARDING: onboarding.on_button,
    users.DETAILS_DIALOG: onboarding.on_details_dialog_button,
    intake.INTAKE: intake_handlers.on_button,
    requests.COMMENT_DIALOG: status.on_comment_button,
    dispatch.CONTACTED_DIALOG: dispatch.on_note_button,
    dispatch.CLOSE_DIALOG: dispatch.on_note_button,
    jobs.JOB_NOTE: dispatch.on_note_button,
    jobs.VISIT_TIME: jobs.on_visit_button,
    jobs.ARRIVAL: jobs.on_arrival_button,
    reports.REPORT: jobs.on_report_button,
    confirmation_handlers.VISIT_COUNTER: confirmation_handlers.on_counter_button,
    confirmation.SURVEY: confirmation_handlers.on_survey_button,
    staff_service.PROFILE_DIALOG: staff.on_profile_dialog_button,
    escalation.QUESTION_DIALOG: escalation_handlers.on_question_button,
    escalation.ANSWER_DIALOG: escalation_handlers.on_answer_button,
    consultation.ANSWER_DIALOG: consultation_handlers.on_answer_button,
    registry.IMPORT_DIALOG: registry_handlers.on_import_button,
    registry.CLAIM_DIALOG: registry_handlers.on_claim_dialog_button,
    prices.DIALOG: price_handlers.on_button,
    approvals.COMMENT_DIALOG: approval_handlers.on_dialog_button,
    approvals.ANSWER_DIALOG: approval_handlers.on_dialog_button,
    approvals.WAIVER_DIALOG: approval_handlers.on_dialog_button,
    sales.SALES_DIALOG: sales_handlers.on_button,
    quotes.QUOTE_DIALOG: quote_handlers.on_button,
    returns.DIALOG: return_handlers.on_button,
    stock.REQUISITION_DIALOG: stock_handlers.on_requisition_dialog_button,
    complaints.DIALOG: complaint_handlers.on_button,
    complaints.WORK_DIALOG: complaint_handlers.on_work_button,
    archive.DIALOG: archive_handlers.on_button,
    erasure.DIALOG: erasure_handlers.on_button,
    followups.FEEDBACK_DIALOG: followup_handlers.on_feedback_button,
}


@handler
async def on_message(turn: Turn) -> None:
    """Any non-command message in a private chat."""
    message = turn.update.effective_message
    user_input = to_input(message)
    if isinstance(user_input, TextInput) and await _menu_action(turn, user_input.text):
        return
    draft = await dialogs.current(turn.uow, turn.user.id)
    if draft is None:
        await _outside_dialog(turn, user_input)
        return
    if isinstance(user_input, TextInput) and is_key(user_input.text, CANCEL):
        await _cancel_dialog(turn, draft)
        return
    if isinstance(user_input, TextInput) and is_key(user_input.text, BACK):
        await _back(turn, draft)
        return
    number = requests.parse_number(user_input.text) if isinstance(user_input, TextInput) else None
    if number is not None and draft.kind in NOTE_DIALOGS:
        await _cancel_dialog(turn, draft)  # the prompt was left: nothing is recorded in its name
        await status.open_by_number(turn, number)
        return
    await INPUT_HANDLERS[draft.kind](turn, draft, user_input)


# Prompts for one note or reason, whose answer is recorded (or acted on) as soon as it is typed. A
# bare request number is never such an answer: people type one to open that request, as outside a
# dialog, and taking it as the reason would close, decline or reject for good (or, for a customer,
# file it as the survey's remark; comment mode does the same on its own).
NOTE_DIALOGS = frozenset({
    dispatch.CONTACTED_DIALOG, dispatch.CLOSE_DIALOG, jobs.JOB_NOTE, confirmation_handlers.VISIT_COUNTER,
    approvals.COMMENT_DIALOG, approvals.ANSWER_DIALOG, approvals.WAIVER_DIALOG, consultation.ANSWER_DIALOG,
    escalation.QUESTION_DIALOG, followups.FEEDBACK_DIALOG, confirmation.SURVEY,
})


async def _menu_action(turn: Turn, text: str) -> bool:
    """The main-menu keyboard sends its labels as text; they work inside a dialog too."""
    action = next((a for label, a in MENU_ACTIONS.items() if is_key(text, label)), None)
    if action == "new":
        await intake_handlers.open_intake(turn)
    elif action == "my":
        await status.show_list(turn, 0)
    elif action == "help":
        await turn.reply(views.help_text(turn._, staff=users.is_staff(turn.user), roles=turn.user.role_names))
    elif action == "language":
        await start.show_languages(turn)
    elif action == "products":
        await registry_handlers.show_products(turn)
    return action is not None


async def _outside_dialog(turn: Turn, user_input: object) -> None:
    if isinstance(user_input, TextInput):
        number = requests.parse_number(user_input.text)
        if number is not None:
            await status.open_by_number(turn, number)
            return
    await turn.reply(views.main_menu_view(turn._, turn._("Please use the menu below, or /help to see what I can do.")))


async def _cancel_dialog(turn: Turn, draft: Draft) -> None:
    await dialogs.end(turn.uow, draft)
    await turn.reply(views.dialog_cancelled(turn._, draft.kind))


async def _onboarding_back(turn: Turn, draft: Draft) -> None:
    step = await users.onboarding_button(turn.uow, turn.user, draft, "back", turn.now)
    await turn.reply(views.onboarding_prompt(turn._, step.draft, turn.user.first_name))


# The dialogs with a Back step, each going back its own way; any other dialog has nothing to go back to.
BACK_HANDLERS = {
    intake.INTAKE: intake_handlers.go_back,
    reports.REPORT: jobs.go_back,
    escalation.ANSWER_DIALOG: escalation_handlers.go_back,
    sales.SALES_DIALOG: sales_handlers.go_back,
    approvals.WAIVER_DIALOG: approval_handlers.go_back,
    quotes.QUOTE_DIALOG: quote_handlers.go_back,
    stock.REQUISITION_DIALOG: stock_handlers.go_back,
    returns.DIALOG: return_handlers.go_back,
    complaints.DIALOG: complaint_handlers.go_back,
    complaints.WORK_DIALOG: complaint_handlers.go_back_work,
    followups.FEEDBACK_DIALOG: followup_handlers.go_back,
    erasure.DIALOG: erasure_handlers.go_back,
    prices.DIALOG: price_handlers.go_back,
    users.ONBOARDING: _onboarding_back,
}


async def _back(turn: Turn, draft: Draft) -> None:
    go_back = BACK_HANDLERS.get(draft.kind)
    try:
        if go_back is None:
            raise NotAllowed()
        await go_back(turn, draft)
    except (NotAllowed, StaleAction):
        await turn.reply(turn._("There is no step to go back to."))


@handler
async def on_callback(turn: Turn) -> None:
    """Every inline button. The payload is only a reference: owners re-check state and rights."""
    try:
        payload = parse(turn.update.callback_query.data)
    except BadCallback:
        await turn.audit("forged_button", data=(turn.update.callback_query.data or "")[:100])
        await turn.answer(turn._("This button is no longer valid."), alert=True)
        return
    if isinstance(payload, DialogButton):
        await _dialog_button(turn, payload)
    elif isinstance(payload, LanguageButton):
        await start.on_language(turn, payload)
    elif isinstance(payload, ListPageButton):
        await status.on_page(turn, payload)
    elif isinstance(payload, RequestButton):
        await status.on_request_button(turn, payload)
    elif isinstance(payload, InviteRoleButton):
        await staff.on_invite_role(turn, payload)
    elif isinstance(payload, StaffButton):
        await staff.on_staff_button(turn, payload)
    elif isinstance(payload, DispatchButton):
        await dispatch.on_dispatch_button(turn, payload)
    elif isinstance(payload, AssignButton):
        await dispatch.on_assign_button(turn, payload)
    elif isinstance(payload, JobButton):
        await jobs.on_job_button(turn, payload)
    elif isinstance(payload, VisitButton):
        await confirmation_handlers.on_visit_answer(turn, payload)
    elif isinstance(payload, ProfileButton):
        await staff.on_profile_button(turn, payload)
    elif isinstance(payload, ReportAnswerButton):
        await confirmation_handlers.on_report_answer(turn, payload)
    elif isinstance(payload, SurveyButton):
        await confirmation_handlers.on_survey_answer(turn, payload)
    elif isinstance(payload, EscalationButton):
        await escalation_handlers.on_escalation_button(turn, payload)
    elif isinstance(payload, ExpertPickButton):
        await escalation_handlers.on_expert_pick(turn, payload)
    elif isinstance(payload, CaseButton):
        await escalation_handlers.on_case_button(turn, payload)
    elif isinstance(payload, ConsultationButton):
        await consultation_handlers.on_consultation_button(turn, payload)
    elif isinstance(payload, ProductsButton):
        await registry_handlers.on_products_button(turn, payload)
    elif isinstance(payload, ClaimButton):
        await registry_handlers.on_claim_button(turn, payload)
    elif isinstance(payload, IssueButton):
        await stock_handlers.on_issue_button(turn, payload)
    elif isinstance(payload, RequisitionButton):
        await stock_handlers.on_requisition_button(turn, payload)
    elif isinstance(payload, QuoteButton):
        await quote_handlers.on_quote_button(turn, payload)
    elif isinstance(payload, ApprovalButton):
        await approval_handlers.on_approval_button(turn, payload)
    elif isinstance(payload, ReturnButton):
        await return_handlers.on_return_button(turn, payload)
    elif isinstance(payload, ReturnProductButton):
        await return_handlers.on_product_button(turn, payload)
    elif isinstance(payload, ComplaintButton):
        await complaint_handlers.on_complaint_button(turn, payload)
    elif isinstance(payload, ComplaintOfferButton):
        await complaint_handlers.on_offer_button(turn, payload)
    elif isinstance(payload, MaintenanceButton):
        await maintenance_handlers.on_maintenance_button(turn, payload)
    elif isinstance(payload, FollowUpButton):
        await followup_handlers.on_follow_up_button(turn, payload)
    elif isinstance(payload, ReportMonthButton):
        await report_handlers.on_month_button(turn, payload)


async def _dialog_button(turn: Turn, payload: DialogButton) -> None:
    draft = await dialogs.current(turn.uow, turn.user.id)
    try:
        draft = dialogs.check_button(draft, payload.draft_id, payload.step)
        if payload.action == "cancel":
            await turn.edit_off()
            await _cancel_dialog(turn, draft)
            return
        await BUTTON_HANDLERS[draft.kind](turn, draft, payload)
    except (StaleAction, NotAllowed, InvalidValue):  # InvalidValue: a value no button of that step carries
        await turn.audit("stale_button", data=payload.pack())
        await turn.answer(turn._("This button is no longer valid."))
