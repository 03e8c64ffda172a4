"""The report dialog names its job; a draft written before it kept the job's number still renders."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from bot import job_views
from bot.i18n import Translator
from bot.services import reports
from storage.models import Draft

_ = Translator("en", ZoneInfo("Asia/Shanghai"))
FILLED = {
    "request_id": 7, "kind": "repair", "by_phone": True, "parts": [], "no_parts": True, "photos": [],
    "symptom": "No water", "cause": "Valve closed", "fault_type": "misuse", "solution": "Opened it",
    "hours": "0.5", "opinion": "Works",
}


def _draft(step: str, **data: object) -> Draft:
    return Draft(id=1, user_id=1, kind=reports.REPORT, step=step, data={**FILLED, **data})


def test_a_report_step_and_summary_name_the_job_when_the_draft_knows_it():
    assert job_views.report_prompt(_, _draft(reports.CAUSE, number="SR-2026-000042")).text.startswith("📝 Report for SR-2026-000042, step 2 of 7")
    assert "Check the report for SR-2026-000042 before sending" in job_views.report_prompt(_, _draft(reports.SUMMARY, number="SR-2026-000042")).text


def test_a_draft_kept_from_before_the_number_was_stored_still_renders():
    assert job_views.report_prompt(_, _draft(reports.CAUSE)).text.startswith("📝 Report, step 2 of 7")
    assert "Check the report before sending" in job_views.report_prompt(_, _draft(reports.SUMMARY)).text
