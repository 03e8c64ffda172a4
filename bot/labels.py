"""Names of codes shown to users (request kinds, statuses, timeline actions, menu buttons).

Marked with N_ for extraction here; translated where they are shown.
"""
from bot.i18n import N_

KIND_LABELS = {
    "repair": N_("Fault repair"),
    "consultation": N_("Consultation"),
    "installation": N_("Installation & commissioning"),
    "maintenance": N_("Maintenance"),
    "return": N_("Return / exchange"),
    "complaint": N_("Complaint"),
}

STATUS_LABELS = {
    "awaiting_approval": N_("Waiting for approval"),
    "new": N_("New"),
    "triaged": N_("Being reviewed"),
    "assigned": N_("Engineer assigned"),
    "in_progress": N_("In progress"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
    "cancelled": N_("Cancelled"),
}

EVENT_LABELS = {
    "created": N_("Request registered"),
    "assigned": N_("Engineer assigned"),
    "accepted": N_("Engineer accepted the job"),
    "comment": N_("Comment added"),
    "photo_added": N_("Photo added"),
    "cancelled": N_("Cancelled by the customer"),
    "answered": N_("Answer from the service department"),
    "answer_confirmed": N_("Closed: the customer confirmed the answer"),
    "answer_closed": N_("Closed: question answered"),
    "visit_proposed": N_("Visit time proposed"),
    "visit_accepted": N_("Visit time agreed"),
    "visit_countered": N_("Another visit time asked for"),
    "on_the_way": N_("Engineer on the way"),
    "arrived": N_("Engineer arrived on site"),
    "waiting_parts": N_("Waiting for spare parts"),
    "waiting_customer": N_("Waiting for the customer"),
    "work_resumed": N_("Work resumed"),
    "report_submitted": N_("Work report submitted"),
    "report_updated": N_("Work report updated"),
    "confirmed": N_("Confirmed as resolved"),
    "disputed": N_("Reported as not resolved; reopened"),
    "confirmed_by_timeout": N_("Closed: confirmed by timeout"),
    "filed_by_sales": N_("Registered by our sales team"),
    "closed_by_dispatcher": N_("Closed by the service department"),
    "quote_sent": N_("Quote sent"),
    "quote_accepted": N_("Quote accepted"),
    "quote_declined": N_("Quote declined"),
    "sales_rejected": N_("Not taken on by the service department"),
    "return_approved": N_("Return approved; shipping instructions sent"),
    "return_rejected": N_("Return not approved"),
    "return_received": N_("Returned product received"),
    "return_inspected": N_("Returned product inspected"),
    "return_refunded": N_("Refunded"),
    "return_exchanged": N_("Exchanged for a new product"),
    "return_repaired": N_("Repaired"),
    "return_sent_back": N_("Product sent back unrepaired"),
    "complaint_answered": N_("Complaint answered in writing"),
    "complaint_taken": N_("Complaint taken up for investigation"),
}

CLOCK_LABELS = {
    "first_contact": N_("We will contact you by"),
    "complaint_answer": N_("Written answer promised by"),
    "consultation_answer": N_("Answer promised by"),
    "onsite_arrival": N_("Engineer on site by"),
    "repair_completed": N_("Repair promised by"),
}

MENU_NEW = N_("📝 New request")
MENU_MY = N_("📋 My requests")
MENU_HELP = N_("❓ Help")
MENU_LANGUAGE = N_("🌐 Language")
MENU_PRODUCTS = N_("📦 My products")
MENU_ACTIONS = {MENU_NEW: "new", MENU_MY: "my", MENU_HELP: "help", MENU_LANGUAGE: "language", MENU_PRODUCTS: "products"}

ROLE_LABELS = {
    "admin": N_("Admin"),
    "dispatcher": N_("Dispatcher"),
    "engineer": N_("Field engineer"),
    "technical_expert": N_("Technical expert"),
    "salesperson": N_("Salesperson"),
    "warehouse": N_("Warehouse"),
    "finance": N_("Finance"),
    "complaint_supervisor": N_("Complaint supervisor"),
    "service_manager": N_("Service manager"),
    "marketing_vp": N_("Marketing VP"),
    "production_vp": N_("Production VP"),
    "general_manager": N_("General manager"),
    "callback": N_("Follow-up calls"),
}

PRIORITY_LABELS = {"normal": N_("normal"), "high": N_("high"), "urgent": N_("urgent")}
DISTANCE_LABELS = {
    "up_to_300_km": N_("≤ 300 km"), "up_to_1000_km": N_("≤ 1000 km"), "over_1000_km": N_("> 1000 km"),
    "in_province": N_("in the province"), "out_of_province": N_("outside the province"),
}
WARRANTY_LABELS = {
    "in_warranty": N_("in warranty"),
    "expired": N_("warranty expired"),
    "unknown": N_("unknown (not in the registry)"),
    "paid": N_("paid service"),
}
PAID_REASON_LABELS = {"misuse": N_("misuse"), "accident": N_("accident"), "modification": N_("unauthorised modification")}
STAFF_EVENT_LABELS = {
    "priority": N_("Priority changed"),
    "distance": N_("Distance band set"),
    "warranty": N_("Warranty decided"),
    "contacted": N_("Customer contacted"),
    "declined": N_("Engineer declined"),
    "escalated": N_("Sent to a technical expert"),
    "expert_answer": N_("Expert analysis and repair plan received"),
    "call_logged": N_("Engineer called the customer"),
    "released": N_("Returned to the queue (the engineer was deactivated or is no longer an engineer)"),
    "parts_requested": N_("Spare parts requested"),
    "parts_approved": N_("Spare-part requisition approved"),
    "parts_rejected": N_("Spare-part requisition rejected"),
    "parts_cancelled": N_("Spare-part requisition withdrawn"),
    "parts_issued": N_("Spare parts issued by the warehouse"),
    "parts_received": N_("Spare parts received by the engineer"),
    "approval_requested": N_("Approval requested"),
    "approval_decided": N_("Approval step decided"),
    "approval_info_requested": N_("Approver asked for more information"),
    "approval_info_given": N_("Information given to the approver"),
    "approval_requester_left": N_("Back with the approvers: the requester can no longer answer"),
    "asked_again": N_("The customer asked again: a new answer is due"),
    "approval_withdrawn": N_("Approval withdrawn"),
    "quote_void": N_("Quote no longer applies: the work was ruled in warranty"),
    "complaint_note": N_("Complaint investigation note"),
    "complaint_linked": N_("Request linked to the complaint"),
    "complaint_cause": N_("Complaint cause recorded"),
    "complaint_action": N_("Corrective action recorded"),
}
STAFF_CLOCK_LABELS = {
    "first_contact": N_("first contact"),
    "consultation_answer": N_("consultation answer"),
    "solution_decided": N_("solution decided"),
    "onsite_arrival": N_("on-site arrival"),
    "repair_completed": N_("repair completed"),
    "approval_decided": N_("approval"),
    "complaint_answer": N_("complaint answer"),
}
WAIT_LABELS = {"parts": N_("waiting for parts"), "customer": N_("waiting for the customer"), "approval": N_("waiting for an approval"),
               "quote": N_("waiting for the customer to accept the quote")}
APPROVAL_KIND_LABELS = {
    "waiver": N_("Fee waiver"),
    "sales_request": N_("Request filed by sales"),
    "requisition": N_("Spare-part requisition"),
    "return": N_("Return or exchange"),
}
APPROVAL_STATUS_LABELS = {
    "pending": N_("waiting for a decision"),
    "info": N_("more information asked for"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "withdrawn": N_("withdrawn"),
}

VISIT_STATE_LABELS = {
    "proposed": N_("proposed, waiting for the customer"),
    "accepted": N_("agreed with the customer"),
    "countered": N_("the customer asked for another time"),
    "on_the_way": N_("engineer on the way"),
    "arrived": N_("engineer on site"),
}
REPORT_FIELD_LABELS = {
    "symptom": N_("Fault symptom"),
    "cause": N_("Fault cause"),
    "fault_type": N_("Fault type"),
    "solution": N_("Solution"),
    "parts": N_("Parts used"),
    "hours": N_("Labour hours"),
    "travel_km": N_("Travel distance"),
    "travel_cost": N_("Travel cost"),
    "photos": N_("Photos"),
    "opinion": N_("Customer's opinion"),
    "certificate": N_("Acceptance certificate"),
}
CLAIM_STATUS_LABELS = {"pending": N_("waiting for a dispatcher"), "confirmed": N_("confirmed"), "rejected": N_("rejected")}

# Returns and exchanges (bot/services/returns.py)
RETURN_REASON_LABELS = {"unused": N_("unused and intact"), "quality": N_("quality fault")}
RETURN_OUTCOME_LABELS = {
    "refund_unused": N_("refund (unused product returned)"),
    "refund": N_("refund"),
    "exchange": N_("exchange for a new product"),
    "free_repair": N_("free repair"),
    "paid_repair": N_("paid repair"),
    "not_returnable": N_("no return"),
}
RETURN_STATE_LABELS = {
    "pending": N_("waiting for approval"),
    "approved": N_("approved, waiting for the product"),
    "rejected": N_("not approved"),
    "received": N_("product received"),
    "inspected": N_("product inspected"),
    "refunded": N_("refunded"),
    "exchanged": N_("exchanged"),
    "repaired": N_("repaired"),
    "sent_back": N_("sent back unrepaired"),
    "cancelled": N_("cancelled"),
}
SHIPPING_PAYER_LABELS = {"customer": N_("the customer"), "company": N_("the company")}

# What the engineer names as the kind of fault in the closing report; the monthly report groups by it.
FAULT_TYPE_LABELS = {
    "electrical": N_("Electrical (motor, wiring, power)"),
    "mechanical": N_("Mechanical (bearings, impeller, gears)"),
    "sealing": N_("Sealing or leakage"),
    "control": N_("Control system or software"),
    "installation": N_("Installation or commissioning"),
    "misuse": N_("Misuse or operating error"),
    "wear": N_("Normal wear"),
    "other": N_("Other"),
}

# Complaints (bot/services/complaints.py)
COMPLAINT_SUBJECT_LABELS = {"service": N_("the service"), "engineer": N_("the engineer"), "product": N_("the product")}
COMPLAINT_STATE_LABELS = {"open": N_("waiting to be taken"), "investigating": N_("being investigated"), "answered": N_("answered")}
COMPLAINT_SOURCE_LABELS = {
    "card": N_("from a request card"), "command": N_("with /complain"), "survey": N_("after a low survey score"), "intake": N_("from /new"),
}

# Follow-up calls after closed jobs (bot/services/followups.py)
FOLLOW_UP_OUTCOME_LABELS = {
    "satisfied": N_("reached, satisfied"),
    "not_satisfied": N_("reached, not satisfied"),
    "unreachable": N_("customer unreachable"),
    "erased": N_("not called: the customer's data was erased"),  # bot/services/erasure.py
}
STAFF_EVENT_LABELS["follow_up_call"] = N_("Follow-up call recorded")
