"""The monthly report's files: a PNG chart (matplotlib) and an XLSX workbook (openpyxl), as bytes.

Both are pure renderings of a `MonthlyReport`, safe to run in a worker thread: the chart uses
matplotlib's object API on the Agg canvas (no pyplot, so no global figure list and no window).
Chart labels are in the reader's language when an installed font covers its script; matplotlib's
bundled DejaVu covers Latin and Cyrillic but not Chinese, so without a CJK font the chart falls
back to English (the message and the workbook stay in the reader's language).
"""
from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from bot.i18n import Html, Translator
from bot.labels import KIND_LABELS
from bot.report_views import KPI_LABELS, FOLLOW_UP_LABELS, complaint_rows, fault_label, month_title, region_label, verdict
from bot.services.statistics import NOT_CLASSIFIED, MonthlyReport

# Characters a font must have to draw each language's labels.
_SCRIPT_SAMPLES = {"en": "Report", "ru": "Отчётыжщ", "zh_Hans": "月度报告故障类型准时率满意投诉"}
_FALLBACK_LANGUAGE = "en"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class ReportFiles:
    png: bytes
    xlsx: bytes


class PlainTranslator(Translator):
    """Translations for files rather than Telegram HTML: placeholder values are left unescaped."""

    def __call__(self, message: str, **values: object) -> str:
        return super().__call__(message, **{key: Html(str(value)) for key, value in values.items()})

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        return super().ngettext(singular, plural, n, **{key: Html(str(value)) for key, value in values.items()})


def plain(_: Translator) -> PlainTranslator:
    return _ if isinstance(_, PlainTranslator) else PlainTranslator(_.language, _.timezone)


def render(_: Translator, report: MonthlyReport) -> ReportFiles:
    """Both files for one reader (blocking: call it through asyncio.to_thread)."""
    return ReportFiles(chart_png(_, report), workbook_xlsx(_, report))


Made = tuple[MonthlyReport, ReportFiles]


class SharedRenders:
    """A month's report and its files per language, made once for all the managers the outbox sends
    it to: building it reads a month of data and matplotlib holds the GIL for most of a second, so
    one per manager would stall the bot. Kept for MAX_AGE, so a message held back (429, network)
    and sent later shows the figures as they are then."""

    MAX_AGE = timedelta(minutes=10)

    def __init__(self) -> None:
        self._made: dict[tuple[int, str], tuple[datetime, asyncio.Future[Made]]] = {}

    async def get(self, month_code: int, language: str, now: datetime, make: Callable[[], Awaitable[Made]]) -> Made:
        key = (month_code, language)
        self._made = {k: entry for k, entry in self._made.items() if now - entry[0] <= self.MAX_AGE}
        entry = self._made.get(key)
        if entry is None:
            entry = self._made[key] = (now, asyncio.ensure_future(make()))
        try:
            # shielded: a reader cancelled mid-render (shutdown of its round) leaves it to the others
            return await asyncio.shield(entry[1])
        except Exception:
            if self._made.get(key) is entry:
                del self._made[key]  # the next reader tries again
            raise


# --- the chart -------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def font_for(language: str) -> str | None:
    """The file of an installed regular font that has every sample glyph of the language; None if none.

    "Last Resort" fonts are skipped: they map every character to a placeholder box."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    sample = _SCRIPT_SAMPLES.get(language, _SCRIPT_SAMPLES[_FALLBACK_LANGUAGE])
    entries = sorted(
        (e for e in font_manager.fontManager.ttflist if not e.name.startswith("Last Resort")),
        key=lambda e: (e.name != "DejaVu Sans", e.style != "normal", e.weight not in (400, "normal", "regular"), e.name, e.fname),
    )
    for entry in entries:
        try:
            charmap = FT2Font(entry.fname).get_charmap()
        except (OSError, RuntimeError, ValueError):  # an unreadable font file: try the next
            continue
        if all(ord(char) in charmap for char in sample):
            return entry.fname
    return None


def chart_translator(_: Translator) -> Translator:
    """The reader's translator when a font can draw their language, else English."""
    return plain(_) if font_for(_.language) else PlainTranslator(_FALLBACK_LANGUAGE, _.timezone)


def chart_png(_: Translator, report: MonthlyReport) -> bytes:
    """Two panels: the month's fault distribution (bars) and the KPI trend with its targets (lines)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    _ = chart_translator(_)
    font = FontProperties(fname=font_for(_.language))
    figure = Figure(figsize=(10, 9), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    faults_axes, trend_axes = figure.subplots(2, 1, height_ratios=[1, 1.1])
    _fault_panel(_, faults_axes, report, font)
    _trend_panel(_, trend_axes, report, font)
    figure.suptitle(_("Monthly report {month}", month=month_title(_, report.month)), fontproperties=font, fontsize=14)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    figure.clear()
    return buffer.getvalue()


def _fault_panel(_: Translator, axes, report: MonthlyReport, font) -> None:
    axes.set_title(_("Fault types (repair and maintenance jobs)"), fontproperties=font)
    if not report.faults:
        axes.text(0.5, 0.5, _("no data"), ha="center", va="center", transform=axes.transAxes, fontproperties=font)
        axes.set_axis_off()
        return
    faults = list(reversed(report.faults))  # the most frequent on top
    positions = range(len(faults))
    axes.barh(positions, [f.jobs for f in faults], color="#4C72B0")
    axes.set_yticks(list(positions), [fault_label(_, f.fault_type) for f in faults], fontproperties=font)
    for position, fault in zip(positions, faults):
        axes.annotate(f"{fault.jobs} · {fault.share}%", (fault.jobs, position), xytext=(4, 0), textcoords="offset points", va="center")
    axes.set_xlabel(_("Jobs"), fontproperties=font)
    axes.set_xlim(0, max(f.jobs for f in faults) * 1.25)
    axes.xaxis.get_major_locator().set_params(integer=True)


def _value(rate: Decimal | None) -> float:
    return math.nan if rate is None else float(rate)


def _trend_panel(_: Translator, axes, report: MonthlyReport, font) -> None:
    axes.set_title(_("KPI trend"), fontproperties=font)
    labels = [p.month.key for p in report.trend]
    x = list(range(len(labels)))
    on_time, satisfaction, complaints = report.kpis
    series = (
        (axes, [_value(p.on_time.rate) for p in report.trend], on_time, "#2E7D32"),
        (axes, [_value(p.satisfaction.rate) for p in report.trend], satisfaction, "#1565C0"),
    )
    lines = []
    for target_axes, values, kpi, color in series:
        lines += target_axes.plot(x, values, marker="o", color=color, label=_(KPI_LABELS[kpi.name]))
        target_axes.axhline(float(kpi.target), color=color, linestyle="--", linewidth=1)
    axes.set_ylim(0, 105)
    axes.set_ylabel(_("%"), fontproperties=font)
    right = axes.twinx()  # the complaint rate lives near 0-5 %: its own scale
    complaint_values = [_value(p.complaint_rate.rate) for p in report.trend]
    lines += right.plot(x, complaint_values, marker="s", color="#C62828", label=_(KPI_LABELS[complaints.name]))
    right.axhline(float(complaints.target), color="#C62828", linestyle="--", linewidth=1)
    top = max([float(complaints.target) * 2] + [v for v in complaint_values if not math.isnan(v)])
    right.set_ylim(0, top * 1.1)
    right.set_ylabel(_("complaint rate, %"), fontproperties=font)
    axes.set_xticks(x, labels, rotation=45, ha="right")
    axes.legend(lines, [line.get_label() for line in lines], loc="lower left", prop=font)
    axes.text(1.0, -0.32, _("dashed lines: targets"), transform=axes.transAxes, ha="right", fontproperties=font, fontsize=8)


# --- the workbook ----------------------------------------------------------------------------

_MONEY = "#,##0.00"
_PERCENT = "0.0"


def _cny(minor: int) -> Decimal:
    return Decimal(minor) / 100


def workbook_xlsx(_: Translator, report: MonthlyReport) -> bytes:
    """Sheets Summary, Engineers, Regions, Faults, Complaints and Job list (raw rows); tabs and headers in the
    reader's language, money in CNY, rates in percent."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from bot.spreadsheet import append_row, sheet_title

    _ = plain(_)
    book = Workbook()
    summary = book.active
    summary.title = sheet_title(_("Summary"))
    _summary_sheet(_, summary, report)
    sheets = {
        _("Engineers"): (
            [_("Engineer"), _("Region"), _("Jobs"), _("Person-trips"), _("On time, %"), _("Average stars"), _("Repeat repairs"), _("Certificates"),
             _("Labour hours")],  # of their own reports, a disputed attempt too
            [[e.name, region_label(_, e.region), e.jobs, e.trips, e.on_time, e.average_stars, e.repeat_repairs, e.certificates, e.hours]
             for e in report.engineers],
        ),
        _("Regions"): (
            [_("Region"), _("Jobs"), _("Person-trips"), _("On time, %"), _("Average stars"), _("Cost, CNY"), _("Service-fault complaints")],
            [[region_label(_, r.region), r.jobs, r.trips, r.on_time, r.average_stars, _cny(r.cost), r.complaints] for r in report.regions],
        ),
        _("Faults"): (
            [_("Fault type"), _("Jobs"), _("Share, %")],
            [[fault_label(_, f.fault_type), f.jobs, f.share] for f in report.faults],
        ),
        _("Complaints"): complaint_rows(_, report.complaints),
        _("Job list"): (  # not "Jobs": that is a column header, "number of jobs", in some languages
            [_("Number"), _("Kind"), _("Product"), _("Engineer"), _("Region"), _("Closed at"), _("On time"), _("Stars"),
             _("Labour hours"), _("Parts cost, CNY"), _("Travel cost, CNY"), _("Fault type")],
            [[j.number, _(KIND_LABELS[j.kind]), j.product, j.engineer, region_label(_, j.region),
              j.closed_at.astimezone(_.timezone).replace(tzinfo=None), _("yes") if j.on_time else _("no"), j.stars,
              j.hours, _cny(j.parts_cost), _cny(j.travel_cost), fault_label(_, j.fault_type or NOT_CLASSIFIED) if j.has_report else None]
             for j in report.jobs]
            # the other work costed with the service dispatches (a return an engineer went to): not a job, so no
            # on-time, stars or fault type, but the summary's hours and costs are traceable to it
            + [[w.number, _(KIND_LABELS[w.kind]), w.product, w.engineer, region_label(_, w.region),
                w.closed_at.astimezone(_.timezone).replace(tzinfo=None), None, None, w.hours, _cny(w.parts_cost), _cny(w.travel_cost), None]
               for w in report.other_work],
        ),
    }
    made = []
    for title, (headers, rows) in sheets.items():
        sheet = book.create_sheet(sheet_title(title))
        made.append(sheet)
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            append_row(sheet, row)  # names, regions and models are typed by people
        _widths(sheet)
    faults, jobs = made[2], made[-1]
    if report.top_products:
        faults.append([])
        faults.append([_("Top products by repair jobs"), _("Jobs")])
        for product in report.top_products:
            append_row(faults, [product.model, product.jobs])
    for row in jobs.iter_rows(min_row=2):
        row[5].number_format = "yyyy-mm-dd hh:mm"
        row[9].number_format = row[10].number_format = _MONEY
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _summary_sheet(_: Translator, sheet, report: MonthlyReport) -> None:
    from openpyxl.styles import Font

    title = month_title(_, report.month)
    sheet.append([_("Monthly report {month} (to date)", month=title) if report.to_date else _("Monthly report {month}", month=title)])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([])
    sheet.append([_("Figure"), _("Value")])

    def money(label: str, minor: int) -> None:
        sheet.append([label, _cny(minor)])
        sheet.cell(sheet.max_row, 2).number_format = _MONEY

    for effort_label, effort in ((_("Installation & commissioning"), report.installation), (_("Service dispatches"), report.service)):
        sheet.append([_("{label}: person-trips", label=effort_label), effort.trips])
        sheet.append([_("{label}: person-days", label=effort_label), effort.person_days])
        money(_("{label}: labour cost, CNY", label=effort_label), effort.cost)
    money(_("Material cost, CNY"), report.material)
    sheet.append([_("Part lines without a catalog price (not costed)"), report.unpriced_parts])
    money(_("Transport cost, CNY"), report.transport)
    money(_("Total cost, CNY"), report.total)
    sheet.append([])
    sheet.append([_("KPI"), _("Rate, %"), _("Count"), _("Out of"), _("Target, %"), _("Result")])
    for kpi in report.kpis:
        sheet.append([_(KPI_LABELS[kpi.name]), kpi.rate, kpi.count, kpi.total,
                      kpi.target if kpi.at_least else _("below {target}", target=kpi.target), verdict(_, kpi)])
    sheet.append([])
    sheet.append([_("Follow-up calls done"), _("Calls")])
    for outcome, count in report.follow_ups.items():
        sheet.append([_(FOLLOW_UP_LABELS[outcome]), count])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    _widths(sheet)


def _widths(sheet) -> None:
    """Columns wide enough for their longest value (capped), so the sheet reads without resizing."""
    for column in sheet.columns:
        longest = max((len(str(cell.value)) for cell in column if cell.value is not None), default=8)
        sheet.column_dimensions[column[0].column_letter].width = min(max(10, longest + 2), 60)
