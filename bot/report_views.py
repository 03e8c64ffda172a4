"""The managers' monthly report as a message, and the month picker of /report."""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from babel.dates import format_skeleton
from babel.numbers import format_decimal, format_percent

from bot.callbacks import ReportMonthButton
from bot.i18n import N_, Translator
from bot.keyboards import button, inline
from bot.labels import COMPLAINT_SUBJECT_LABELS, FAULT_TYPE_LABELS
from bot.services import statistics
from bot.services.statistics import Effort, Kpi, Month, MonthlyReport
from bot.views import View

KPI_LABELS = {
    statistics.ON_TIME: N_("On-time rate"),
    statistics.SATISFACTION: N_("Satisfaction"),
    statistics.COMPLAINT_RATE: N_("Complaint rate (service's fault)"),
}
FOLLOW_UP_LABELS = {
    "satisfied": N_("satisfied"),
    "not_satisfied": N_("not satisfied"),
    "unreachable": N_("unreachable"),
}
COMPLAINT_DECISION_LABELS = {
    statistics.SERVICE_FAULT: N_("service fault"),
    statistics.NOT_SERVICE_FAULT: N_("not a service fault"),
    statistics.UNDECIDED: N_("not decided yet"),
}
NO_PRODUCT_LABEL = N_("no registered product")
NOT_CLASSIFIED_LABEL = N_("Not classified")
NO_REGION_LABEL = N_("No region")
SHOW, CLOSE = "show", "close"
_PER_ROW = 2


# --- formatting helpers (shared with bot/report_files.py) ----------------------------------


def month_title(_: Translator, month: Month) -> str:
    """"March 2026" in the reader's language."""
    return format_skeleton("yMMMM", month.first_day, locale=_.locale)


def rate_text(_: Translator, rate: Decimal | None) -> str:
    return _("no data") if rate is None else format_percent(rate / 100, "#,##0.0%", locale=_.locale)


def number_text(_: Translator, value: Decimal | None) -> str:
    return "—" if value is None else format_decimal(value, "#,##0.0", locale=_.locale)


def fault_label(_: Translator, fault_type: str) -> str:
    if fault_type in FAULT_TYPE_LABELS:
        return _(FAULT_TYPE_LABELS[fault_type])
    return _(NOT_CLASSIFIED_LABEL) if fault_type == statistics.NOT_CLASSIFIED else fault_type


def region_label(_: Translator, region: str | None) -> str:
    return region if region else _(NO_REGION_LABEL)


def verdict(_: Translator, kpi: Kpi) -> str:
    return {True: _("met"), False: _("missed"), None: _("no data")}[kpi.met]


def complaint_rows(_: Translator, spots: statistics.ComplaintSpots) -> tuple[list[str], list[list[object]]]:
    """The workbook's Complaints sheet: headers and one row per subject, decision and product model."""
    rows: list[list[object]] = [[_("Subject"), _(COMPLAINT_SUBJECT_LABELS[s]), n] for s, n in spots.by_subject.items()]
    rows += [[_("Decision"), _(COMPLAINT_DECISION_LABELS[d]), n] for d, n in spots.by_decision.items()]
    rows += [[_("Product model"), m.model, m.complaints] for m in spots.by_model]
    if spots.no_product:
        rows.append([_("Product model"), _(NO_PRODUCT_LABEL), spots.no_product])
    return [_("Grouped by"), _("Group"), _("Complaints")], rows


# --- the month picker ----------------------------------------------------------------------


def month_picker(_: Translator, months: Sequence[Month], current: Month) -> View:
    """The last 12 months, newest first; the current one is labelled as "to date"."""
    buttons = [
        button(_("{month} (to date)", month=month_title(_, m)) if m == current else month_title(_, m), ReportMonthButton(m.code, SHOW))
        for m in months
    ]
    rows = [buttons[i:i + _PER_ROW] for i in range(0, len(buttons), _PER_ROW)]
    rows.append([button(_("✖️ Close"), ReportMonthButton(0, CLOSE))])
    return View(_("📊 Which month's report do you want? It comes as a message, a chart and an Excel workbook."), inline(rows))


def picker_closed(_: Translator) -> View:
    return View(_("Closed. Send /report to open the monthly report again."))


def not_for_you(_: Translator) -> str:
    return _("This command is for managers.")


# --- the report message --------------------------------------------------------------------


def report_message(_: Translator, report: MonthlyReport) -> View:
    title = month_title(_, report.month)
    lines = [_("📊 <b>Monthly report: {month} (to date)</b>", month=title) if report.to_date
             else _("📊 <b>Monthly report: {month}</b>", month=title), ""]
    lines += _cost_lines(_, report)
    lines += ["", _("<b>KPIs</b>"), *(_kpi_line(_, kpi) for kpi in report.kpis)]
    lines += ["", _("<b>Fault types</b>")]
    lines += [_("• {fault}: {count} ({share})", fault=fault_label(_, f.fault_type), count=f.jobs, share=rate_text(_, f.share))
              for f in report.faults] or [_("no repair or maintenance reports")]
    lines += ["", _("<b>Top products by repair jobs</b>")]
    lines += [_("• {model}: {count}", model=p.model, count=p.jobs) for p in report.top_products] or [_("no repair jobs of registered products")]
    lines += ["", _("<b>Engineers</b>")]
    lines += [_engineer_line(_, e) for e in report.engineers] or [_("no jobs closed and no visits")]
    lines += ["", _("<b>Regions</b>")]
    lines += [
        _("• {region}: jobs {jobs}, person-trips {trips}, on time {on_time}, cost {cost}, service-fault complaints {complaints}",
          region=region_label(_, r.region), jobs=r.jobs, trips=r.trips, on_time=rate_text(_, r.on_time),
          cost=_.money(r.cost), complaints=r.complaints)
        for r in report.regions
    ] or [_("no data")]
    lines += ["", *_complaint_lines(_, report.complaints)]
    lines += ["", _("Follow-up calls done: {summary}", summary=", ".join(
        f"{_(FOLLOW_UP_LABELS[outcome])} {count}" for outcome, count in report.follow_ups.items()))]
    return View("\n".join(lines))


def _effort_line(_: Translator, label: str, effort: Effort) -> str:
    return _("{label}: person-trips {trips}, person-days {days}, labour cost {cost}",
             label=label, trips=effort.trips, days=number_text(_, effort.person_days), cost=_.money(effort.cost))


def _cost_lines(_: Translator, report: MonthlyReport) -> list[str]:
    lines = [
        _effort_line(_, _("Installation & commissioning"), report.installation),
        _effort_line(_, _("Service dispatches"), report.service),
        _("Material cost: {cost}", cost=_.money(report.material)),
    ]
    if report.unpriced_parts:
        lines.append(_.ngettext("⚠️ {n} part line has no catalog price and is not costed",
                                "⚠️ {n} part lines have no catalog price and are not costed", report.unpriced_parts))
    lines.append(_("Transport cost: {cost}", cost=_.money(report.transport)))
    lines.append(_("<b>Total cost: {cost}</b>", cost=_.money(report.total)))
    return lines


def _complaint_lines(_: Translator, spots: statistics.ComplaintSpots) -> list[str]:
    """Where the complaints cluster; like the top products, only the top models (the workbook has all)."""
    lines = [_("<b>Complaint hot spots</b>")]
    if not spots.total:
        return [*lines, _("no complaints registered")]
    lines += [
        _("Complaints registered: {count}", count=spots.total),
        _("By subject: {summary}", summary=", ".join(f"{_(COMPLAINT_SUBJECT_LABELS[s])} {n}" for s, n in spots.by_subject.items())),
        _("By decision: {summary}", summary=", ".join(f"{_(COMPLAINT_DECISION_LABELS[d])} {n}" for d, n in spots.by_decision.items())),
        _("Top products by complaints:"),
    ]
    lines += [_("• {model}: {count}", model=m.model, count=m.complaints) for m in spots.by_model[:statistics.TOP_PRODUCTS]]
    if spots.no_product:
        lines.append(_("• {model}: {count}", model=_(NO_PRODUCT_LABEL), count=spots.no_product))
    return lines


def _kpi_line(_: Translator, kpi: Kpi) -> str:
    mark = {True: "✅", False: "❌", None: "➖"}[kpi.met]
    target = format_percent(kpi.target / 100, "#,##0.#%", locale=_.locale)
    name = _(KPI_LABELS[kpi.name])
    if kpi.met is None:  # the target worded as on a month with data: at least, or below (the complaint rate)
        if kpi.at_least:
            return _("{mark} {name}: no data; target at least {target}", mark=mark, name=name, target=target)
        return _("{mark} {name}: no data; target below {target}", mark=mark, name=name, target=target)
    if kpi.at_least:
        return _("{mark} {name}: {rate} ({count} of {total}), target at least {target}: {verdict}",
                 mark=mark, name=name, rate=rate_text(_, kpi.rate), count=kpi.count, total=kpi.total, target=target, verdict=verdict(_, kpi))
    return _("{mark} {name}: {rate} ({count} of {total}), target below {target}: {verdict}",
             mark=mark, name=name, rate=rate_text(_, kpi.rate), count=kpi.count, total=kpi.total, target=target, verdict=verdict(_, kpi))


def _engineer_line(_: Translator, line: statistics.EngineerLine) -> str:
    return _("• {name} ({region}): jobs {jobs}, person-trips {trips}, on time {on_time}, average stars {stars}, repeat repairs {repeats}, certificates {certificates}",
             name=line.name, region=region_label(_, line.region), jobs=line.jobs, trips=line.trips, on_time=rate_text(_, line.on_time),
             stars=number_text(_, line.average_stars), repeats=line.repeat_repairs, certificates=line.certificates)


def document_caption(_: Translator, report: MonthlyReport) -> str:
    return _("Monthly report {month}", month=month_title(_, report.month))
