"""The complaint rules that need no database: who may do what, what the dialog offers, when the
answer may go, and the buttons' payloads."""
import pytest

from bot.callbacks import ComplaintButton, ComplaintOfferButton, parse
from bot.services import complaints
from storage.models import Complaint, Draft, ServiceRequest, User, UserRole


def _user(*roles: str, active: bool = True) -> User:
    return User(id=1, telegram_id=1, first_name="U", language="en", is_active=active, roles=[UserRole(role=r) for r in roles])


def _draft(step: str, **data) -> Draft:
    return Draft(id=7, user_id=1, kind=complaints.DIALOG, step=step, data=data)


def test_the_engineer_is_a_subject_only_when_the_request_had_one():
    assert complaints.subjects_for(None) == ("service", "product")
    assert complaints.subjects_for(ServiceRequest(kind="repair", status="new")) == ("service", "product")
    assert complaints.subjects_for(ServiceRequest(kind="repair", status="closed", assigned_engineer_id=5)) == ("service", "engineer", "product")


@pytest.mark.parametrize("fault, action, missing", [
    (None, None, ("cause", "corrective_action")),
    (True, None, ("corrective_action",)),
    (None, "Retrain the team", ("cause",)),
    (False, "", ("corrective_action",)),
    (False, "Nothing to correct; explained the manual", ()),
    (True, "Retrain the team", ()),
])
def test_the_answer_waits_for_the_cause_and_the_corrective_action(fault, action, missing):
    assert complaints.missing_for_answer(Complaint(service_fault=fault, corrective_action=action)) == missing


def test_supervisors_act_managers_read_others_neither():
    supervisor, manager, gm = _user("complaint_supervisor"), _user("service_manager"), _user("general_manager")
    for user, act, read in ((supervisor, True, True), (manager, False, True), (gm, False, True),
                            (_user("dispatcher"), False, False), (_user("marketing_vp"), False, False), (_user(), False, False),
                            (_user("complaint_supervisor", active=False), False, False)):
        assert (complaints.may_handle(user), complaints.may_read(user)) == (act, read)


def test_a_complaint_cannot_be_about_a_complaint_or_a_request_sales_has_not_handed_over():
    assert complaints.can_complain_about(ServiceRequest(kind="repair", status="closed"))
    assert complaints.can_complain_about(ServiceRequest(kind="return", status="cancelled"))
    assert not complaints.can_complain_about(ServiceRequest(kind="complaint", status="new"))
    assert not complaints.can_complain_about(ServiceRequest(kind="repair", status="awaiting_approval"))
    assert not complaints.can_complain_about(ServiceRequest(kind="repair", status="closed", closed_reason="sales_rejected"))


@pytest.mark.parametrize("source, step, data, expected", [
    ("card", "subject", {}, None),  # the card chose the request: the subject is the first step
    ("survey", "subject", {}, None),
    ("command", "subject", {}, "about"),
    ("intake", "subject", {}, "about"),
    ("command", "about", {}, None),
    ("card", "description", {}, "subject"),
    ("card", "confirm", {}, "description"),
    ("card", "edit", {}, "confirm"),
    ("card", "description", {"editing": True, "subject": "service"}, "confirm"),
    ("command", "about", {"editing": True}, "confirm"),
    ("command", "subject", {"editing": True, "subject": None}, "about"),  # the old subject no longer applies
])
def test_back_leads_to_the_previous_step_or_the_summary_when_editing(source, step, data, expected):
    assert complaints.previous_step(_draft(step, source=source, **data)) == expected


def test_edit_offers_the_request_only_when_the_customer_chose_it():
    assert complaints.editable_fields(_draft("edit", source="card")) == ("subject", "description")
    assert complaints.editable_fields(_draft("edit", source="command")) == ("about", "subject", "description")


@pytest.mark.parametrize("payload", [ComplaintButton(123456789012, "nofault"), ComplaintButton(0, "list"), ComplaintOfferButton(42, "yes")])
def test_complaint_buttons_round_trip_within_64_bytes(payload):
    data = payload.pack()
    assert len(data.encode()) <= 64 and parse(data) == payload


def test_every_card_button_leads_to_a_typed_step():
    assert set(complaints.WORK_BUTTONS.values()) == set(complaints.WORK_STEPS)
