"""The service policy (deadlines and thresholds) loaded from a TOML file and validated.

Numbers from the procedures live in the policy file, never in code; an invalid file stops
start-up with a `PolicyError` naming the key.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path


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
    onsite_arrival_up_to_300_km: timedelta
    onsite_arrival_up_to_1000_km: timedelta
    onsite_arrival_over_1000_km: timedelta


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


@dataclass(frozen=True)
class Policy:
    deadlines: Deadlines
    staff: StaffPolicy
    dispatch: DispatchPolicy
    closing: ClosingPolicy


_HOURS_KEYS = {
    "forward_to_service_hours": "forward_to_service",
    "first_contact_hours": "first_contact",
    "consultation_answer_hours": "consultation_answer",
    "solution_decided_hours": "solution_decided",
    "approval_hours": "approval",
}
_ARRIVAL_KEYS = ("up_to_300_km", "up_to_1000_km", "over_1000_km")


def _positive(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise PolicyError(key, f"must be a positive number, got {value!r}")
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
    deadlines = _table(data, "deadlines")
    arrival = _table(deadlines, "onsite_arrival_hours", prefix="deadlines.")
    _check_known("deadlines", deadlines, set(_HOURS_KEYS) | {"repair_completed_days", "onsite_arrival_hours"})
    _check_known("deadlines.onsite_arrival_hours", arrival, set(_ARRIVAL_KEYS))
    for key in data:
        if key not in ("deadlines", "staff", "dispatch", "closing"):
            raise PolicyError(key, "unknown section (check the spelling against the default policy file)")

    values: dict[str, timedelta] = {}
    for key, name in _HOURS_KEYS.items():
        if key not in deadlines:
            raise PolicyError(f"deadlines.{key}", "is missing")
        values[name] = timedelta(hours=_positive(f"deadlines.{key}", deadlines[key]))
    if "repair_completed_days" not in deadlines:
        raise PolicyError("deadlines.repair_completed_days", "is missing")
    values["repair_completed"] = timedelta(days=_positive("deadlines.repair_completed_days", deadlines["repair_completed_days"]))
    for key in _ARRIVAL_KEYS:
        if key not in arrival:
            raise PolicyError(f"deadlines.onsite_arrival_hours.{key}", "is missing")
        values[f"onsite_arrival_{key}"] = timedelta(hours=_positive(f"deadlines.onsite_arrival_hours.{key}", arrival[key]))
    return Policy(
        deadlines=Deadlines(**values), staff=_staff(_table(data, "staff")),
        dispatch=_dispatch(_table(data, "dispatch")), closing=_closing(_table(data, "closing")),
    )


def _whole(key: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PolicyError(key, f"must be a whole number of at least {minimum}, got {value!r}")
    return value


def _dispatch(table: dict) -> DispatchPolicy:
    _check_known("dispatch", table, {"engineer_capacity"})
    if "engineer_capacity" not in table:
        raise PolicyError("dispatch.engineer_capacity", "is missing")
    return DispatchPolicy(engineer_capacity=_whole("dispatch.engineer_capacity", table["engineer_capacity"]))


def _closing(table: dict) -> ClosingPolicy:
    _check_known("closing", table, {"confirmation_timeout_hours", "low_score_alert"})
    for key in ("confirmation_timeout_hours", "low_score_alert"):
        if key not in table:
            raise PolicyError(f"closing.{key}", "is missing")
    low = _whole("closing.low_score_alert", table["low_score_alert"])
    if low > 5:
        raise PolicyError("closing.low_score_alert", f"must be a score from 1 to 5, got {low!r}")
    return ClosingPolicy(
        confirmation_timeout=timedelta(hours=_positive("closing.confirmation_timeout_hours", table["confirmation_timeout_hours"])),
        low_score_alert=low,
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


def load_policy(path: Path) -> Policy:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError("(file)", f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise PolicyError("(file)", f"cannot read {path}: {exc.strerror}") from None
    return parse_policy(data)
