"""The service policy (deadlines and thresholds) loaded from a TOML file and validated.

Numbers from the procedures live in the policy file, never in code; an invalid file stops
start-up with a `PolicyError` naming the key.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.labels import APPROVAL_KIND_LABELS, EVENT_LABELS, KIND_LABELS, ROLE_LABELS, STAFF_CLOCK_LABELS, STAFF_EVENT_LABELS
from bot.worktime import DailyWindow, WorkCalendar


class PolicyError(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"policy key {key}: {problem}")
        self.key = key


@dataclass(frozen=True)
class Deadlines:
    forward_to_service: timedelta
    first_contact: timedelta
    consultation_answer: timedelta
    solution_decided: timedelta
    repair_completed: timedelta
    approval: timedelta
    complaint_answer: timedelta
    onsite_arrival: dict[str, timedelta]  # band -> window, from the table in use, shortest first
    # The table not in use: a request given one of its bands before the admin switched tables
    # keeps its window (the shortest of the new table could make a far job overdue at once).
    other_arrival_table: dict[str, timedelta]

    @property
    def arrival_bands(self) -> tuple[str, ...]:
        """The bands the dispatcher picks from: the table in use."""
        return tuple(self.onsite_arrival)

    @property
    def known_arrival_bands(self) -> tuple[str, ...]:
        """Every band a request may carry: those of the table in use, then of the other one."""
        return (*self.onsite_arrival, *self.other_arrival_table)

    def window(self, clock: str, band: str | None) -> timedelta:
        """The clock's window; on-site arrival depends on the band, looked up in the table in use,
        then in the other one (none set: the first entry of the table in use)."""
        if clock == "onsite_arrival":
            for table in (self.onsite_arrival, self.other_arrival_table):
                if band in table:
                    return table[band]
            return next(iter(self.onsite_arrival.values()))
        if clock == "approval_decided":
            return self.approval
        return getattr(self, clock)


ASSIGNEE = "assignee"  # in an escalation chain: the request's engineer
APPROVER = "approver"  # in an escalation chain: who holds the role of a pending approval step


@dataclass(frozen=True)
class ClockRule:
    """When a deadline clock runs on a request, and who answers for it."""

    name: str
    kinds: frozenset[str]
    starts_on: frozenset[str]
    stops_on: frozenset[str]
    pauses_for: frozenset[str]
    escalation: tuple[str, ...]
    urgent: bool
    warranty: frozenset[str] | None = None  # None: any warranty decision
    repeats: bool = False  # runs again on the next start event after it stopped (one cycle per approval step)
    resumes_on: frozenset[str] = frozenset()  # events that undo a stop (a disputed repair is not completed)
    from_due_date: bool = False  # a maintenance booked from its reminder: not before the maintenance due date


@dataclass(frozen=True)
class Wait:
    name: str
    begins_on: frozenset[str]
    ends_on: frozenset[str]
    # True: several can be open at once (two approvals), each begin closed by one end event
    stacks: bool = False


@dataclass(frozen=True)
class ClockPolicy:
    rules: tuple[ClockRule, ...]
    stop_all_on: frozenset[str]
    waits: tuple[Wait, ...]

    def rule(self, name: str) -> ClockRule | None:
        return next((rule for rule in self.rules if rule.name == name), None)


@dataclass(frozen=True)
class ReminderPolicy:
    before: tuple[float, ...]  # shares of the window, ascending
    repeat_after_breach: timedelta


@dataclass(frozen=True)
class HoursPolicy:
    staff_reachable: DailyWindow
    customer_quiet: DailyWindow


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class CalendarPolicy:
    mode: str  # "continuous" or "working"
    working_hours: DailyWindow
    working_days: frozenset[int]
    holidays: frozenset[date]
    extra_workdays: frozenset[date]

    def calendar(self, tz: ZoneInfo) -> WorkCalendar:
        if self.mode == "continuous":
            return WorkCalendar.continuous()
        return WorkCalendar.working(tz, self.working_hours, self.working_days, self.holidays, self.extra_workdays)


@dataclass(frozen=True)
class StaffPolicy:
    invite_valid: timedelta
    invite_attempts_per_hour: int


@dataclass(frozen=True)
class DispatchPolicy:
    engineer_capacity: int


@dataclass(frozen=True)
class ClosingPolicy:
    confirmation_timeout: timedelta
    low_score_alert: int
    repeat_within: timedelta = timedelta(days=90)  # a new repair of a product repaired this recently is a repeat


@dataclass(frozen=True)
class ApprovalRule:
    """Which chain of approver roles decides an approval of one kind (up to an amount)."""

    kind: str
    chain: tuple[str, ...]
    max_amount: Decimal | None  # None: any amount


@dataclass(frozen=True)
class ApprovalPolicy:
    rules: tuple[ApprovalRule, ...]  # in file order; the first that fits wins
    self_approval: bool  # may someone approve what they asked for themselves

    def chain(self, kind: str, amount: Decimal | None) -> tuple[str, ...]:
        for rule in self.rules:
            if rule.kind == kind and (rule.max_amount is None or (amount is not None and amount <= rule.max_amount)):
                return rule.chain
        raise LookupError(f"no approval rule for {kind} {amount}")


SHIPPING_PAYERS = ("customer", "company")


@dataclass(frozen=True)
class ReturnPolicy:
    """The retail return windows (DESIGN.md §1, "Money and approvals") and where returns go.

    Days and months are counted from the product's sale date (see `bot/services/returns.py`),
    each window including its last day: with a sale on 10 March, "7 days" ends on 17 March and
    "3 months" on 10 June (calendar months, as a customer counts them; a sale on 31 January ends
    on the last day of April). A month shorter than the sale's day ends on its own last day.
    """

    unused_days: int  # unused and intact: returned without a reason
    refund_days: int  # quality fault: refund
    exchange_days: int  # quality fault: exchange
    free_repair_months: int  # quality fault: free repair; later: paid repair
    unused_shipping: str  # who pays shipping for an unused return: "customer" or "company"
    quality_shipping: str  # for a quality refund, exchange or free repair
    paid_repair_shipping: str  # for a repair the customer pays for
    return_address: str  # where the customer sends the product


@dataclass(frozen=True)
class ReportPolicy:
    """The monthly report: when it is sent, how figures are costed, and the KPI targets (in %)."""

    send_day: int  # day of the month the report for the previous month goes to the managers
    send_at: time  # local time (TIMEZONE) on that day
    hours_per_person_day: Decimal  # labour hours that make one person-day
    labour_cost_per_hour: Decimal  # CNY, the internal cost of one engineer hour
    on_time_target: Decimal  # % of jobs closed on time, at least
    satisfaction_target: Decimal  # % of surveys satisfied, at least
    complaint_rate_limit: Decimal  # % of closed jobs with a service-fault complaint, below
    satisfied_from_stars: int  # a survey with this many stars or more counts as satisfied
    trend_months: int  # months in the KPI trend chart


@dataclass(frozen=True)
class FollowUpPolicy:
    """Follow-up calls after a closed job (DESIGN.md: first within 3–7 days, second one week later)."""

    first_from_days: int  # the first call is due this many days after closing,
    first_by_days: int  # and late after this many
    second_after_days: int  # the second call is due this many days after the first was made,
    second_window_days: int  # and late this many days after it fell due
    max_attempts: int  # unanswered tries before the call is recorded as "customer unreachable"
    remind_at: time  # local time the callback role gets the list of calls due that day


@dataclass(frozen=True)
class MaintenancePolicy:
    """Reminders of periodic maintenance for products with a maintenance cycle in the registry."""

    remind_days_before: int  # the customer and the dispatchers are told this many days before it is due
    remind_at: time  # local time of day the reminders go out


@dataclass(frozen=True)
class Policy:
    deadlines: Deadlines
    staff: StaffPolicy
    dispatch: DispatchPolicy
    closing: ClosingPolicy
    clocks: ClockPolicy
    reminders: ReminderPolicy
    hours: HoursPolicy
    calendar: CalendarPolicy
    approvals: ApprovalPolicy
    returns: ReturnPolicy
    reports: ReportPolicy
    follow_ups: FollowUpPolicy
    maintenance: MaintenancePolicy


_HOURS_KEYS = {
    "forward_to_service_hours": "forward_to_service",
    "first_contact_hours": "first_contact",
    "consultation_answer_hours": "consultation_answer",
    "solution_decided_hours": "solution_decided",
    "approval_hours": "approval",
    "complaint_answer_hours": "complaint_answer",
}
_ARRIVAL_TABLES = {
    "distance": ("onsite_arrival_hours", ("up_to_300_km", "up_to_1000_km", "over_1000_km")),
    "province": ("onsite_arrival_by_province_hours", ("in_province", "out_of_province")),
}
_SECTIONS = (
    "deadlines", "staff", "dispatch", "closing", "clocks", "waits", "reminders", "hours", "calendar", "approvals", "returns",
    "reports", "follow_ups", "maintenance",
)


# Limits far above any real setting: beyond them a typo (or inf) would overflow a date at its first
# use (a follow-up 7,000,000 days after a job closed) instead of stopping start-up.
POSITIVE_MAX = 1_000_000  # hours, or any other positive number
DAYS_MAX = 36_500  # a century
MONTHS_MAX = 1_200
COUNT_MAX = 1_000_000
REPEAT_MIN_HOURS = 1 / 60
REMINDERS_MAX = 20  # reminders before one deadline


def _positive(key: str, value: object, maximum: float = POSITIVE_MAX) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= maximum:  # also refuses nan
        raise PolicyError(key, f"must be a positive number up to {maximum:,}, got {value!r}")
    return float(value)


def _table(data: dict, key: str, prefix: str = "") -> dict:
    value = data.get(key)
    if not isinstance(value, dict):
        raise PolicyError(prefix + key, "section is missing")
    return value


def _check_known(section: str, table: dict, known: set[str]) -> None:
    for key in table:
        if key not in known:
            raise PolicyError(f"{section}.{key}", "unknown key (check the spelling against the default policy file)")


def parse_policy(data: dict) -> Policy:
    for key in data:
        if key not in _SECTIONS:
            raise PolicyError(key, "unknown section (check the spelling against the default policy file)")
    deadlines = _deadlines(_table(data, "deadlines"))
    waits = _waits(_table(data, "waits"))
    return Policy(
        deadlines=deadlines, staff=_staff(_table(data, "staff")),
        dispatch=_dispatch(_table(data, "dispatch")), closing=_closing(_table(data, "closing")),
        clocks=_clocks(_table(data, "clocks"), waits), reminders=_reminders(_table(data, "reminders")),
        hours=_hours(_table(data, "hours")), calendar=_calendar(_table(data, "calendar")),
        approvals=_approvals(_table(data, "approvals")),
        returns=_returns(_table(data, "returns")),
        reports=_reports(_table(data, "reports")),
        follow_ups=_follow_ups(_table(data, "follow_ups")),
        maintenance=_maintenance(_table(data, "maintenance")),
    )


def _deadlines(deadlines: dict) -> Deadlines:
    tables = {table for table, _ in _ARRIVAL_TABLES.values()}
    _check_known("deadlines", deadlines, set(_HOURS_KEYS) | {"repair_completed_days", "onsite_arrival_table"} | tables)
    values: dict[str, object] = {}
    for key, name in _HOURS_KEYS.items():
        values[name] = timedelta(hours=_positive(f"deadlines.{key}", _required(deadlines, key, "deadlines.")))
    values["repair_completed"] = timedelta(days=_positive(
        "deadlines.repair_completed_days", _required(deadlines, "repair_completed_days", "deadlines."), maximum=DAYS_MAX))
    table_name = _required(deadlines, "onsite_arrival_table", "deadlines.")
    if not isinstance(table_name, str) or table_name not in _ARRIVAL_TABLES:
        raise PolicyError("deadlines.onsite_arrival_table", f"must be one of {', '.join(_ARRIVAL_TABLES)}, got {table_name!r}")
    for name, (key, bands) in _ARRIVAL_TABLES.items():
        table = _table(deadlines, key, prefix="deadlines.")
        _check_known(f"deadlines.{key}", table, set(bands))
        windows = {band: timedelta(hours=_positive(f"deadlines.{key}.{band}", _required(table, band, f"deadlines.{key}."))) for band in bands}
        for nearer, farther in zip(bands, bands[1:]):  # a request without a band gets the first: the shortest
            if windows[farther] < windows[nearer]:
                raise PolicyError(f"deadlines.{key}.{farther}", f"must not be shorter than {nearer}")
        values["onsite_arrival" if name == table_name else "other_arrival_table"] = windows
    return Deadlines(**values)


def _required(table: dict, key: str, prefix: str) -> object:
    if key not in table:
        raise PolicyError(prefix + key, "is missing")
    return table[key]


def _names(key: str, value: object, known: set[str] | frozenset[str], *, allow_empty: bool = True) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PolicyError(key, f"must be a list of names, got {value!r}")
    for item in value:
        if item not in known:
            raise PolicyError(key, f"unknown name {item!r}")
    if not value and not allow_empty:
        raise PolicyError(key, "must not be empty")
    return frozenset(value)


_EVENTS = set(EVENT_LABELS) | set(STAFF_EVENT_LABELS)
_CLOCK_KEYS = {"kinds", "starts_on", "stops_on", "pauses_for", "escalation", "urgent", "warranty", "repeats", "resumes_on", "from_due_date"}


def _clocks(table: dict, waits: tuple[Wait, ...]) -> ClockPolicy:
    stop_all_on = _names("clocks.stop_all_on", _required(table, "stop_all_on", "clocks."), _EVENTS)
    rules = []
    for name, spec in table.items():
        if name == "stop_all_on":
            continue
        key = f"clocks.{name}"
        if not isinstance(spec, dict):
            raise PolicyError(key, "must be a table of clock settings")
        if name not in STAFF_CLOCK_LABELS:
            raise PolicyError(key, f"unknown clock (known: {', '.join(STAFF_CLOCK_LABELS)})")
        _check_known(key, spec, _CLOCK_KEYS)
        escalation = _required(spec, "escalation", key + ".")
        _names(f"{key}.escalation", escalation, set(ROLE_LABELS) | {ASSIGNEE, APPROVER}, allow_empty=False)
        repeats = spec.get("repeats", False)
        if not isinstance(repeats, bool):
            raise PolicyError(f"{key}.repeats", f"must be true or false, got {repeats!r}")
        resumes_on = _names(f"{key}.resumes_on", spec.get("resumes_on", []), _EVENTS)
        if resumes_on and repeats:
            raise PolicyError(f"{key}.resumes_on", "a repeating clock starts a new cycle instead of resuming")
        urgent = _required(spec, "urgent", key + ".")
        if not isinstance(urgent, bool):
            raise PolicyError(f"{key}.urgent", f"must be true or false, got {urgent!r}")
        from_due_date = spec.get("from_due_date", False)
        if not isinstance(from_due_date, bool):
            raise PolicyError(f"{key}.from_due_date", f"must be true or false, got {from_due_date!r}")
        rules.append(ClockRule(
            name=name,
            kinds=_names(f"{key}.kinds", _required(spec, "kinds", key + "."), set(KIND_LABELS), allow_empty=False),
            starts_on=_names(f"{key}.starts_on", _required(spec, "starts_on", key + "."), _EVENTS, allow_empty=False),
            stops_on=_names(f"{key}.stops_on", _required(spec, "stops_on", key + "."), _EVENTS, allow_empty=False),
            pauses_for=_names(f"{key}.pauses_for", _required(spec, "pauses_for", key + "."), {wait.name for wait in waits}),
            escalation=tuple(escalation), urgent=urgent,
            warranty=_names(f"{key}.warranty", spec["warranty"], _WARRANTIES, allow_empty=False) if "warranty" in spec else None,
            repeats=repeats, resumes_on=resumes_on, from_due_date=from_due_date,
        ))
    return ClockPolicy(rules=tuple(rules), stop_all_on=stop_all_on, waits=waits)


_WARRANTIES = {"in_warranty", "expired", "unknown", "paid"}


def _waits(table: dict) -> tuple[Wait, ...]:
    waits = []
    for name, spec in table.items():
        key = f"waits.{name}"
        if not isinstance(spec, dict):
            raise PolicyError(key, "must be a table with begins_on and ends_on")
        _check_known(key, spec, {"begins_on", "ends_on", "stacks"})
        stacks = spec.get("stacks", False)
        if not isinstance(stacks, bool):
            raise PolicyError(f"{key}.stacks", "must be true or false")
        waits.append(Wait(
            name=name,
            begins_on=_names(f"{key}.begins_on", _required(spec, "begins_on", key + "."), _EVENTS, allow_empty=False),
            ends_on=_names(f"{key}.ends_on", _required(spec, "ends_on", key + "."), _EVENTS, allow_empty=False),
            stacks=stacks,
        ))
    return tuple(waits)


def _reminders(table: dict) -> ReminderPolicy:
    _check_known("reminders", table, {"before", "repeat_after_breach_hours"})
    before = _required(table, "before", "reminders.")
    if not isinstance(before, list) or not all(
        isinstance(share, (int, float)) and not isinstance(share, bool) and 0 < share < 1 for share in before
    ) or list(before) != sorted(set(before)):
        raise PolicyError("reminders.before", f"must be ascending shares between 0 and 1 (e.g. [0.5, 0.8]), got {before!r}")
    if len(before) > REMINDERS_MAX:  # the shares in use are kept in the database (app_state), which holds a short text
        raise PolicyError("reminders.before", f"must have at most {REMINDERS_MAX} shares, got {len(before)}")
    repeat = _positive("reminders.repeat_after_breach_hours", _required(table, "repeat_after_breach_hours", "reminders."))
    if repeat < REPEAT_MIN_HOURS:  # the sweep runs once a minute; a shorter repeat rounds to nothing (a division by zero)
        raise PolicyError("reminders.repeat_after_breach_hours", f"must be at least {REPEAT_MIN_HOURS:.4f} (a minute), got {repeat!r}")
    return ReminderPolicy(before=tuple(float(share) for share in before), repeat_after_breach=timedelta(hours=repeat))


def _window(key: str, value: object) -> DailyWindow:
    if not isinstance(value, str):
        raise PolicyError(key, f"must be a time range like \"08:00-22:00\", got {value!r}")
    try:
        return DailyWindow.parse(value)
    except ValueError as exc:
        raise PolicyError(key, str(exc)) from None


def _hours(table: dict) -> HoursPolicy:
    _check_known("hours", table, {"staff_reachable", "customer_quiet"})
    return HoursPolicy(
        staff_reachable=_window("hours.staff_reachable", _required(table, "staff_reachable", "hours.")),
        customer_quiet=_window("hours.customer_quiet", _required(table, "customer_quiet", "hours.")),
    )


def _dates(key: str, value: object) -> frozenset[date]:
    if not isinstance(value, list) or not all(isinstance(day, date) and not hasattr(day, "hour") for day in value):
        raise PolicyError(key, f"must be a list of dates like [2026-10-01], got {value!r}")
    return frozenset(value)


def _calendar(table: dict) -> CalendarPolicy:
    _check_known("calendar", table, {"mode", "working_hours", "working_days", "holidays", "extra_workdays"})
    mode = _required(table, "mode", "calendar.")
    if mode not in ("continuous", "working"):
        raise PolicyError("calendar.mode", f"must be \"continuous\" or \"working\", got {mode!r}")
    hours = _window("calendar.working_hours", _required(table, "working_hours", "calendar."))
    if hours.end <= hours.start:
        raise PolicyError("calendar.working_hours", "must end after it starts on the same day")
    days = _names("calendar.working_days", _required(table, "working_days", "calendar."), set(WEEKDAYS), allow_empty=False)
    return CalendarPolicy(
        mode=mode, working_hours=hours, working_days=frozenset(WEEKDAYS.index(day) for day in days),
        holidays=_dates("calendar.holidays", _required(table, "holidays", "calendar.")),
        extra_workdays=_dates("calendar.extra_workdays", _required(table, "extra_workdays", "calendar.")),
    )


def _whole(key: str, value: object, minimum: int = 1, maximum: int = COUNT_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise PolicyError(key, f"must be a whole number from {minimum} to {maximum:,}, got {value!r}")
    return value


def _dispatch(table: dict) -> DispatchPolicy:
    _check_known("dispatch", table, {"engineer_capacity"})
    if "engineer_capacity" not in table:
        raise PolicyError("dispatch.engineer_capacity", "is missing")
    return DispatchPolicy(engineer_capacity=_whole("dispatch.engineer_capacity", table["engineer_capacity"]))


def _closing(table: dict) -> ClosingPolicy:
    _check_known("closing", table, {"confirmation_timeout_hours", "low_score_alert", "repeat_within_days"})
    for key in ("confirmation_timeout_hours", "low_score_alert"):
        if key not in table:
            raise PolicyError(f"closing.{key}", "is missing")
    low = _whole("closing.low_score_alert", table["low_score_alert"])
    if low > 5:
        raise PolicyError("closing.low_score_alert", f"must be a score from 1 to 5, got {low!r}")
    return ClosingPolicy(
        confirmation_timeout=timedelta(hours=_positive("closing.confirmation_timeout_hours", table["confirmation_timeout_hours"])),
        low_score_alert=low,
        repeat_within=timedelta(days=_positive("closing.repeat_within_days", table.get("repeat_within_days", 90), maximum=DAYS_MAX)),
    )


def _staff(table: dict) -> StaffPolicy:
    _check_known("staff", table, {"invite_valid_hours", "invite_attempts_per_hour"})
    for key in ("invite_valid_hours", "invite_attempts_per_hour"):
        if key not in table:
            raise PolicyError(f"staff.{key}", "is missing")
    return StaffPolicy(
        invite_valid=timedelta(hours=_positive("staff.invite_valid_hours", table["invite_valid_hours"])),
        invite_attempts_per_hour=_whole("staff.invite_attempts_per_hour", table["invite_attempts_per_hour"]),
    )


def _amount(key: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:  # also refuses nan
        raise PolicyError(key, f"must be an amount of money of at least 0, got {value!r}")
    return Decimal(str(value))


def _approvals(table: dict) -> ApprovalPolicy:
    _check_known("approvals", table, {"self_approval", "rules"})
    self_approval = _required(table, "self_approval", "approvals.")
    if not isinstance(self_approval, bool):
        raise PolicyError("approvals.self_approval", f"must be true or false, got {self_approval!r}")
    specs = _required(table, "rules", "approvals.")
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        raise PolicyError("approvals.rules", "must be a list of [[approvals.rules]] tables")
    rules = []
    for index, spec in enumerate(specs):
        key = f"approvals.rules[{index}]"
        _check_known(key, spec, {"kind", "chain", "max_amount"})
        kind = _required(spec, "kind", key + ".")
        if not isinstance(kind, str) or kind not in APPROVAL_KIND_LABELS:
            raise PolicyError(f"{key}.kind", f"unknown approval kind {kind!r} (known: {', '.join(APPROVAL_KIND_LABELS)})")
        chain = _required(spec, "chain", key + ".")
        _names(f"{key}.chain", chain, set(ROLE_LABELS), allow_empty=False)
        max_amount = _amount(f"{key}.max_amount", spec["max_amount"]) if "max_amount" in spec else None
        rules.append(ApprovalRule(kind=kind, chain=tuple(chain), max_amount=max_amount))
    for kind in APPROVAL_KIND_LABELS:  # every kind must end in a rule that takes any amount
        if not any(rule.kind == kind and rule.max_amount is None for rule in rules):
            raise PolicyError("approvals.rules", f"no rule for {kind!r} without max_amount (the one for any amount)")
    return ApprovalPolicy(rules=tuple(rules), self_approval=self_approval)


_RETURN_DAYS = ("unused_days", "refund_days", "exchange_days")
_RETURN_SHIPPING = ("unused_shipping", "quality_shipping", "paid_repair_shipping")
RETURN_ADDRESS_MAX = 500


def _returns(table: dict) -> ReturnPolicy:
    _check_known("returns", table, {*_RETURN_DAYS, "free_repair_months", *_RETURN_SHIPPING, "return_address"})
    values: dict[str, object] = {}
    for key in _RETURN_DAYS:
        values[key] = _whole(f"returns.{key}", _required(table, key, "returns."), maximum=DAYS_MAX)
    values["free_repair_months"] = _whole("returns.free_repair_months", _required(table, "free_repair_months", "returns."), maximum=MONTHS_MAX)
    if values["exchange_days"] < values["refund_days"]:
        raise PolicyError("returns.exchange_days", f"must be at least refund_days ({values['refund_days']}), got {values['exchange_days']!r}")
    for key in _RETURN_SHIPPING:
        payer = _required(table, key, "returns.")
        if payer not in SHIPPING_PAYERS:
            raise PolicyError(f"returns.{key}", f"must be \"customer\" or \"company\", got {payer!r}")
        values[key] = payer
    address = _required(table, "return_address", "returns.")
    if not isinstance(address, str) or not address.strip() or len(address.strip()) > RETURN_ADDRESS_MAX:
        raise PolicyError("returns.return_address", f"must be the address customers send products to (1-{RETURN_ADDRESS_MAX} characters), got {address!r}")
    values["return_address"] = address.strip()
    return ReturnPolicy(**values)


def load_policy(path: Path) -> Policy:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError("(file)", f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise PolicyError("(file)", f"cannot read {path}: {exc.strerror}") from None
    return parse_policy(data)


def _time_of_day(key: str, value: object) -> time:
    if not isinstance(value, str):
        raise PolicyError(key, f"must be a local time like \"09:00\", got {value!r}")
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise PolicyError(key, f"must be a local time like \"09:00\", got {value!r}") from None


def _percent(key: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise PolicyError(key, f"must be a percentage from 0 to 100, got {value!r}")
    return Decimal(str(value))


_REPORT_KEYS = (
    "send_day", "send_at", "hours_per_person_day", "labour_cost_per_hour", "on_time_target", "satisfaction_target",
    "complaint_rate_limit", "satisfied_from_stars", "trend_months",
)


def _reports(table: dict) -> ReportPolicy:
    _check_known("reports", table, set(_REPORT_KEYS))
    values = {key: _required(table, key, "reports.") for key in _REPORT_KEYS}
    send_day = _whole("reports.send_day", values["send_day"])
    if send_day > 28:
        raise PolicyError("reports.send_day", f"must be a day from 1 to 28 (every month has it), got {send_day!r}")
    stars = _whole("reports.satisfied_from_stars", values["satisfied_from_stars"])
    if stars > 5:
        raise PolicyError("reports.satisfied_from_stars", f"must be a score from 1 to 5, got {stars!r}")
    trend = _whole("reports.trend_months", values["trend_months"])
    if trend > 36:
        raise PolicyError("reports.trend_months", f"must be from 1 to 36, got {trend!r}")
    return ReportPolicy(
        send_day=send_day, send_at=_time_of_day("reports.send_at", values["send_at"]),
        hours_per_person_day=Decimal(str(_positive("reports.hours_per_person_day", values["hours_per_person_day"]))),
        labour_cost_per_hour=_amount("reports.labour_cost_per_hour", values["labour_cost_per_hour"]),
        on_time_target=_percent("reports.on_time_target", values["on_time_target"]),
        satisfaction_target=_percent("reports.satisfaction_target", values["satisfaction_target"]),
        complaint_rate_limit=_percent("reports.complaint_rate_limit", values["complaint_rate_limit"]),
        satisfied_from_stars=stars, trend_months=trend,
    )


_FOLLOW_UP_DAYS = ("first_from_days", "first_by_days", "second_after_days", "second_window_days")


def _follow_ups(table: dict) -> FollowUpPolicy:
    _check_known("follow_ups", table, {*_FOLLOW_UP_DAYS, "max_attempts", "remind_at"})
    values: dict[str, object] = {key: _whole(f"follow_ups.{key}", _required(table, key, "follow_ups."), maximum=DAYS_MAX)
                                 for key in _FOLLOW_UP_DAYS}
    values["max_attempts"] = _whole("follow_ups.max_attempts", _required(table, "max_attempts", "follow_ups."))
    if values["first_by_days"] < values["first_from_days"]:
        raise PolicyError("follow_ups.first_by_days", f"must be at least first_from_days ({values['first_from_days']}), got {values['first_by_days']!r}")
    values["remind_at"] = _time_of_day("follow_ups.remind_at", _required(table, "remind_at", "follow_ups."))
    return FollowUpPolicy(**values)


def _maintenance(table: dict) -> MaintenancePolicy:
    _check_known("maintenance", table, {"remind_days_before", "remind_at"})
    return MaintenancePolicy(
        remind_days_before=_whole("maintenance.remind_days_before", _required(table, "remind_days_before", "maintenance."),
                                  minimum=0, maximum=DAYS_MAX),
        remind_at=_time_of_day("maintenance.remind_at", _required(table, "remind_at", "maintenance.")),
    )
