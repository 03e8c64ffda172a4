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
    "comment": N_("Comment added"),
    "photo_added": N_("Photo added"),
    "cancelled": N_("Cancelled by the customer"),
}

CLOCK_LABELS = {
    "first_contact": N_("We will contact you by"),
    "consultation_answer": N_("Answer promised by"),
}

MENU_NEW = N_("📝 New request")
MENU_MY = N_("📋 My requests")
MENU_HELP = N_("❓ Help")
MENU_LANGUAGE = N_("🌐 Language")
MENU_ACTIONS = {MENU_NEW: "new", MENU_MY: "my", MENU_HELP: "help", MENU_LANGUAGE: "language"}

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
}
