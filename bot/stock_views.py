"""What spare parts and stock look like: /stock, /issue, the requisition dialog, the job card's
parts lines, the engineer's and the warehouse's notices, and the low-stock alert."""
from __future__ import annotations

from bot.callbacks import IssueButton, JobButton, RequisitionButton
from bot.i18n import N_, Html, Translator
from bot.keyboards import button, dialog_button, dialog_nav, inline
from bot.services import stock
from bot.services.errors import DomainError, InvalidValue, LimitReached, WrongInput
from bot.services.registry import RowError
from bot.staff_views import display_name
from bot.telegram_text import shorten
from bot.views import View, input_error as common_input_error
from storage.models import Draft, Part, PartRequisition, ServiceRequest, User, Warehouse

REQUISITION_STATUS_LABELS = {
    stock.REQUESTED: N_("waiting for approval"),
    stock.APPROVED: N_("approved, waiting for the warehouse"),
    stock.ISSUED: N_("issued, waiting for your receipt"),
    stock.RECEIVED: N_("received"),
    stock.REJECTED: N_("rejected"),
    stock.CANCELLED: N_("cancelled"),
}


def _part(part: Part | None, fallback: str = "?") -> str:
    return shorten(f"{part.code} · {part.name}", 80) if part is not None else fallback


def _lines(_: Translator, requisition: PartRequisition, parts: dict[int, Part]) -> str:
    return _quantities(_, [(line.part_id, line.quantity) for line in requisition.lines], parts)


def _quantities(_: Translator, lines: list[tuple[int, int]], parts: dict[int, Part]) -> str:
    return Html(", ".join(_("{name} × {quantity}", name=_part(parts.get(part_id)), quantity=quantity) for part_id, quantity in lines))


def _warehouse(warehouse: Warehouse) -> str:
    return warehouse.name if warehouse.name == warehouse.code else f"{warehouse.code} · {warehouse.name}"


def _plan(_: Translator, picks: list[stock.Pick[Warehouse]], parts: dict[int, Part]) -> list[str]:
    """One “warehouse: parts” piece per warehouse, in the plan's order."""
    by_warehouse: dict[Warehouse, list[tuple[int, int]]] = {}
    for pick in picks:
        by_warehouse.setdefault(pick.warehouse, []).append((pick.part_id, pick.quantity))
    return [_("{warehouse}: {lines}", warehouse=_warehouse(w), lines=_quantities(_, lines, parts)) for w, lines in by_warehouse.items()]


def _short(_: Translator, item: stock.IssueItem) -> str:
    return ", ".join(_("{part}: {missing} short", part=_part(item.parts.get(s.part_id)), missing=s.missing) for s in item.short)


# --- /stock ------------------------------------------------------------------------------


def stock_list(_: Translator, overview: stock.StockOverview) -> View:
    if not overview.lines:
        if overview.query:
            return View(_("No part matches “{query}”.", query=overview.query))
        return View(_("The parts catalog is empty. An admin loads it with /import."))
    names = {w.id: w.code for w in overview.warehouses}
    head = (_("<b>Stock of parts matching “{query}”</b> ({count})", query=overview.query, count=overview.total_parts) if overview.query
            else _("<b>Spare parts in stock</b> ({count})", count=overview.total_parts))
    lines = [head]
    for line in overview.lines:
        where = ", ".join(f"{names.get(w, '?')}: {q}" for w, q in sorted(line.by_warehouse.items(), key=lambda i: names.get(i[0], "")))
        text = _("{part} — total {total} ({where})", part=_part(line.part), total=line.total, where=where or "—")
        if line.part.safety_level:
            text += " " + _("· safety level {level}", level=line.part.safety_level)
        if line.part.price is not None:
            text += " · " + _.money(line.part.price)
        lines.append(("⚠️ " if line.below else "• ") + text)
    if overview.total_parts > len(overview.lines):
        lines.append(_("… and {count} more. Search with /stock followed by a code or name, e.g. /stock 6204.", count=overview.total_parts - len(overview.lines)))
    return View("\n".join(lines))


# --- /issue ------------------------------------------------------------------------------


def issue_card(_: Translator, item: stock.IssueItem, *, plan: bool = False) -> View:
    """The requisition with a button per warehouse that covers it all; failing that, the choice to
    issue from several (`plan`: the plan itself, to confirm), or what even all together lack."""
    requisition = item.requisition
    lines = [
        _("🔩 <b>Requisition {id}</b> for job {number}", id=requisition.id, number=item.request.number),
        _("Engineer: {name}", name=display_name(item.engineer)),
        _("Parts: {lines}", lines=_lines(_, requisition, item.parts)),
    ]
    rows = [[button(_("Issue from {warehouse}", warehouse=_warehouse(w)), IssueButton(requisition.id, w.id))] for w in item.warehouses]
    refresh = [button(_("🔄 Refresh"), IssueButton(requisition.id, 0))]
    if item.split is not None:
        lines.append(_("No single warehouse holds all of these parts; together they do."))
        if plan:
            lines.append(_("Plan — take the parts from:"))
            lines += ["• " + piece for piece in _plan(_, item.split, item.parts)]
            confirm = IssueButton(requisition.id, 0, "split", stock.plan_key(item.split))
            return View("\n".join(lines), inline([[button(_("✅ Issue as planned"), confirm)], [button(_("⬅️ Back"), IssueButton(requisition.id, 0))]]))
        rows.append([button(_("📦 Issue from several warehouses"), IssueButton(requisition.id, 0, "plan"))])
    elif item.short:
        lines.append(_("Not enough in all warehouses together; it waits for stock:"))
        lines += ["• " + _("{part}: {missing} short ({available} in stock, {wanted} needed)", part=_part(item.parts.get(s.part_id)),
                           missing=s.missing, available=s.available, wanted=s.wanted) for s in item.short]
    rows.append(refresh)
    return View("\n".join(lines), inline(rows))


def waiting_for_stock(_: Translator, item: stock.IssueItem) -> View:
    """To the engineer, once: the approved parts wait for stock, and what is short."""
    return View(_("⏳ Requisition {id} for job {number} is approved but waits for stock; short: {missing}. The warehouse issues it once the parts are in.",
                  id=item.requisition.id, number=item.request.number, missing=Html(_short(_, item))))


def plan_changed(_: Translator) -> str:
    return _("The stock has changed since this plan was shown; nothing was issued. Check the card as it is now.")


def issue_list_empty(_: Translator) -> View:
    return View(_("No approved requisitions are waiting to be issued."))


def issue_list_more(_: Translator, shown: int, total: int) -> View:
    return View(_("Shown: {shown} of {total} approved requisitions (those a warehouse can cover first). "
                  "Issue these, then send /issue again for the rest.", shown=shown, total=total))


def job_not_open(_: Translator, request: ServiceRequest) -> str:
    return _("Job {number} has its report sent or is closed: its parts are no longer needed. Nothing was issued.", number=request.number)


def awaiting_payment(_: Translator, request: ServiceRequest) -> str:
    return _("Job {number} is paid work and the customer has not accepted its quote yet: issue the parts once they do. Nothing was issued.", number=request.number)


def issued_for_warehouse(_: Translator, issued: stock.Issued, parts: dict[int, Part], keeper: User) -> View:
    if len(issued.warehouses) > 1:
        return View(_("✅ Requisition {id} for job {number} issued from several warehouses by {name}: {plan}",
                      id=issued.requisition.id, number=issued.request.number, name=display_name(keeper),
                      plan=Html("; ".join(_plan(_, issued.picks, parts)))))
    text = _("✅ Requisition {id} for job {number} issued from {warehouse} by {name}: {lines}",
             id=issued.requisition.id, number=issued.request.number, warehouse=issued.warehouses[0].code,
             name=display_name(keeper), lines=_lines(_, issued.requisition, parts))
    return View(text)


def already_moved(_: Translator, requisition: PartRequisition) -> str:
    if requisition.status in (stock.ISSUED, stock.RECEIVED):
        return _("Requisition {id} has already been issued.", id=requisition.id)
    return _("Requisition {id} is {status}; nothing was issued.", id=requisition.id, status=_(REQUISITION_STATUS_LABELS[requisition.status]))


def out_of_stock(_: Translator, error: stock.OutOfStock) -> str:
    return _("Not enough {part} in {warehouse}: {available} there, {wanted} needed. Nothing was issued.",
             part=error.part.code, warehouse=error.warehouse.code, available=error.available, wanted=error.wanted)


def issued_for_engineer(_: Translator, issued: stock.Issued, parts: dict[int, Part], keeper: User) -> View:
    if len(issued.warehouses) > 1:  # where each part waits for them
        text = _("📦 Parts for job {number} were issued from several warehouses by {name}: {plan}. Press the button when you have them.",
                 number=issued.request.number, name=display_name(keeper), plan=Html("; ".join(_plan(_, issued.picks, parts))))
    else:
        text = _("📦 Parts for job {number} were issued from {warehouse} by {name}: {lines}. Press the button when you have them.",
                 number=issued.request.number, warehouse=issued.warehouses[0].code, name=display_name(keeper), lines=_lines(_, issued.requisition, parts))
    return View(text, inline([[button(_("✅ Parts received"), RequisitionButton(issued.requisition.id, "received"))]]))


# --- the job card ------------------------------------------------------------------------


def job_lines(_: Translator, requisitions: list[PartRequisition], parts: dict[int, Part]) -> list[str]:
    return [
        _("🔩 Parts requisition {id}: {lines} — {status}", id=r.id, lines=_lines(_, r, parts), status=_(REQUISITION_STATUS_LABELS[r.status]))
        for r in requisitions
    ]


def job_buttons(_: Translator, request: ServiceRequest, requisitions: list[PartRequisition], *, can_request: bool) -> list[list]:
    rows = [[button(_("✅ Parts received ({id})", id=r.id), RequisitionButton(r.id, "received"))] for r in requisitions if r.status == stock.ISSUED]
    rows += [[button(_("✖️ Withdraw requisition {id}", id=r.id), RequisitionButton(r.id, "cancel"))] for r in requisitions if r.status in stock.OPEN_REQUISITION]
    if can_request:
        rows.append([button(_("🔩 Request parts"), JobButton(request.id, "reqparts"))])
    return rows


def received(_: Translator, requisition: PartRequisition, request: ServiceRequest) -> str:
    return _("Receipt of requisition {id} for job {number} recorded.", id=requisition.id, number=request.number)


def cancelled(_: Translator, requisition: PartRequisition) -> str:
    return _("Requisition {id} withdrawn.", id=requisition.id)


# --- the requisition dialog --------------------------------------------------------------


def requisition_prompt(_: Translator, draft: Draft, request_number: str, matches: list[Part] | None = None) -> View:
    data = draft.data
    if draft.step == stock.QUANTITY_STEP:
        pending = data["pending"]
        text = _("How many of “{name}”? Type a whole number from 1 to {max}.", name=f"{pending['code']} · {pending['name']}", max=stock.MAX_QUANTITY)
        return View(text, inline([dialog_nav(_, draft)]))
    lines = [_("🔩 <b>Parts for job {number}</b>", number=request_number),
             _("Type a part code or name to search the catalog.")]
    if data.get("query") and not matches:
        lines.append(_("Nothing in the catalog matches “{query}”. Try another code or name.", query=data["query"]))
    elif matches:
        lines.append(_("Choose the part:"))
    if data.get("lines"):
        lines.append(_("So far:"))
        lines += ["• " + _("{name} × {quantity}", name=f"{line['code']} · {line['name']}", quantity=line["quantity"]) for line in data["lines"]]
    rows = [[dialog_button(shorten(f"{p.code} · {p.name}", 60), draft, "part", str(p.id))] for p in matches or []]
    if data.get("lines"):
        rows.append([dialog_button(_("📤 Send the requisition"), draft, "done"), dialog_button(_("Remove the last part"), draft, "undo")])
    rows.append(dialog_nav(_, draft, back=False))
    return View("\n".join(lines), inline(rows))


def requisition_sent(_: Translator, requisition: PartRequisition, request: ServiceRequest, parts: dict[int, Part]) -> str:
    return _("🔩 Requisition {id} for job {number} sent: {lines}. It waits for approval; the warehouse issues it after that.",
             id=requisition.id, number=request.number, lines=_lines(_, requisition, parts))


def input_error(_: Translator, error: DomainError) -> str:
    if isinstance(error, stock.QuantityOverTotal):
        return _("This part is already in the list with {already}; together at most {max}. Type how many more, up to {left}.",
                 already=error.already, max=stock.MAX_QUANTITY, left=stock.MAX_QUANTITY - error.already)
    if isinstance(error, WrongInput) and error.expected == f"requisition_{stock.QUANTITY_STEP}":
        return _("Please type the quantity as a whole number from 1 to {max}.", max=stock.MAX_QUANTITY)
    if isinstance(error, InvalidValue) and error.field == "quantity":
        return _("Please type the quantity as a whole number from 1 to {max}.", max=stock.MAX_QUANTITY)
    if isinstance(error, LimitReached):
        return _("A requisition holds at most {max} parts. Send it, then request more.", max=error.limit)
    if isinstance(error, WrongInput):
        return _("Please type a part code or name, or use the buttons above.")
    return common_input_error(_, error)


def differences(_: Translator, request: ServiceRequest, found: list[stock.Difference]) -> str:
    lines = [_("🔩 Job {number}: the parts in the closing report differ from the parts issued to it.", number=request.number)]
    lines += ["• " + _("{part}: issued {issued}, used {used}", part=shorten(d.name, 80), issued=d.issued, used=d.used) for d in found]
    return "\n".join(lines)


# --- the low-stock alert (outbox kind "stock_low") ---------------------------------------


def stock_low(_: Translator, payload: dict) -> View:
    return View(_("⚠️ Stock of {part} is below its safety level: {total} left in all warehouses, safety level {level}. See /stock.",
                  part=f"{payload['code']} · {payload['name']}", total=payload["total"], level=payload["safety_level"]))


# --- import problems of the stock columns ------------------------------------------------

IMPORT_PROBLEMS = ("bad_price", "not_count", "conflict")


def import_problem(_: Translator, error: RowError) -> Html:
    """HTML, the cell's value already escaped: a message placeholder takes it as `Html`."""
    return Html(_import_problem(_, error))


def _import_problem(_: Translator, error: RowError) -> str:
    if error.problem == "bad_price":
        return _("“{value}” is not a price; write it in CNY with at most 2 decimals, e.g. 35.50", value=error.value)
    if error.problem == "not_count":
        return _("“{value}” is not a whole number", value=error.value)
    return _("“{value}” differs from row {row} of the same part code; give the part the same values on each of its rows", value=error.value, row=error.other_row)


def import_stock_line(_: Translator, changed: int, warehouses_added: int) -> str:
    text = _("Stock quantities changed: {count} (each recorded in the stock ledger).", count=changed)
    if warehouses_added:
        text += " " + _("New warehouses: {count}.", count=warehouses_added)
    return text
