"""The return windows on each boundary day, with dates given (never the real clock), and the
policy's [returns] section refusing bad values by key."""
from __future__ import annotations

import tomllib
from datetime import date, timedelta

import pytest

from bot.config import DEFAULT_POLICY_FILE
from bot.policy import PolicyError, load_policy, parse_policy
from bot.services import returns
from storage.models import Product

POLICY = load_policy(DEFAULT_POLICY_FILE).returns
SOLD = date(2026, 3, 10)


def _on_day(reason: str, day: int) -> returns.Proposal:
    return returns.propose(POLICY, reason, SOLD, SOLD + timedelta(days=day))


def test_the_default_policy_has_the_retail_windows():
    assert (POLICY.unused_days, POLICY.refund_days, POLICY.exchange_days, POLICY.free_repair_months) == (7, 15, 30, 3)
    assert (POLICY.unused_shipping, POLICY.quality_shipping, POLICY.paid_repair_shipping) == ("customer", "company", "customer")
    assert POLICY.return_address


@pytest.mark.parametrize("day, outcome, shipping", [
    (0, returns.REFUND_UNUSED, "customer"),
    (7, returns.REFUND_UNUSED, "customer"),
    (8, returns.NOT_RETURNABLE, None),
])
def test_an_unused_product_comes_back_without_reason_up_to_day_7(day, outcome, shipping):
    proposal = _on_day(returns.UNUSED, day)
    assert (proposal.outcome, proposal.shipping_paid_by, proposal.days_since) == (outcome, shipping, day)
    assert proposal.window_end == date(2026, 3, 17)
    assert proposal.returnable is (outcome != returns.NOT_RETURNABLE)


@pytest.mark.parametrize("day, outcome", [
    (1, returns.REFUND),
    (15, returns.REFUND),
    (16, returns.EXCHANGE),
    (30, returns.EXCHANGE),
    (31, returns.FREE_REPAIR),
])
def test_a_quality_fault_is_refunded_to_day_15_then_exchanged_to_day_30(day, outcome):
    proposal = _on_day(returns.QUALITY, day)
    assert (proposal.outcome, proposal.shipping_paid_by) == (outcome, "company")


def test_the_window_end_names_the_last_day_of_the_window_that_applied():
    assert _on_day(returns.QUALITY, 10).window_end == date(2026, 3, 25)
    assert _on_day(returns.QUALITY, 20).window_end == date(2026, 4, 9)
    assert _on_day(returns.QUALITY, 40).window_end == date(2026, 6, 10)


@pytest.mark.parametrize("sold, last_free_day", [
    (date(2026, 3, 10), date(2026, 6, 10)),
    (date(2025, 11, 30), date(2026, 2, 28)),  # February is shorter: its last day ends the window
    (date(2023, 11, 30), date(2024, 2, 29)),  # leap year
    (date(2026, 1, 31), date(2026, 4, 30)),
    (date(2025, 12, 15), date(2026, 3, 15)),  # across the new year
])
def test_free_repair_runs_to_the_last_day_of_month_3_then_repair_is_paid(sold, last_free_day):
    last = returns.propose(POLICY, returns.QUALITY, sold, last_free_day)
    after = returns.propose(POLICY, returns.QUALITY, sold, last_free_day + timedelta(days=1))
    assert (last.outcome, last.shipping_paid_by, last.window_end) == (returns.FREE_REPAIR, "company", last_free_day)
    assert (after.outcome, after.shipping_paid_by) == (returns.PAID_REPAIR, "customer")


def test_past_the_free_repair_a_fault_is_still_repaired_free_while_the_registry_warranty_runs():
    """DESIGN.md §1: in warranty, free repair and parts; a quality return ships at the company's cost."""
    warranty_end = date(2028, 3, 10)  # 24 months from the sale
    day_200 = returns.propose(POLICY, returns.QUALITY, SOLD, SOLD + timedelta(days=200), warranty_end)
    assert (day_200.outcome, day_200.shipping_paid_by, day_200.window_end) == (returns.FREE_REPAIR, "company", warranty_end)
    last = returns.propose(POLICY, returns.QUALITY, SOLD, warranty_end, warranty_end)
    after = returns.propose(POLICY, returns.QUALITY, SOLD, warranty_end + timedelta(days=1), warranty_end)
    assert (last.outcome, after.outcome, after.shipping_paid_by) == (returns.FREE_REPAIR, returns.PAID_REPAIR, "customer")
    short = returns.propose(POLICY, returns.QUALITY, SOLD, date(2026, 6, 5), date(2026, 4, 10))  # the 3 months are longer
    assert (short.outcome, short.window_end) == (returns.FREE_REPAIR, date(2026, 6, 10))
    assert returns.propose(POLICY, returns.UNUSED, SOLD, SOLD + timedelta(days=8), warranty_end).outcome == returns.NOT_RETURNABLE


def test_an_unused_return_after_the_window_is_not_turned_into_a_fault():
    assert returns.propose(POLICY, returns.UNUSED, SOLD, date(2026, 12, 1)).outcome == returns.NOT_RETURNABLE


def test_the_sale_date_counts_and_commissioning_only_stands_in_for_it():
    assert returns.start_date(Product(serial="S-1", model="M", sale_date=date(2026, 1, 1), commissioning_date=date(2026, 2, 1))) == date(2026, 1, 1)
    assert returns.start_date(Product(serial="S-1", model="M", commissioning_date=date(2026, 2, 1))) == date(2026, 2, 1)
    assert returns.start_date(Product(serial="S-1", model="M")) is None


def test_an_unknown_reason_is_a_programming_error():
    with pytest.raises(ValueError):
        returns.propose(POLICY, "bored", SOLD, SOLD)


def _data(**changes):
    with DEFAULT_POLICY_FILE.open("rb") as fh:
        data = tomllib.load(fh)
    data["returns"].update(changes)
    return data


@pytest.mark.parametrize("changes, key", [
    ({"refund_days": 0}, "returns.refund_days"),
    ({"unused_days": "seven"}, "returns.unused_days"),
    ({"free_repair_months": 2.5}, "returns.free_repair_months"),
    ({"exchange_days": 10}, "returns.exchange_days"),  # shorter than the refund window
    ({"quality_shipping": "nobody"}, "returns.quality_shipping"),
    ({"return_address": "   "}, "returns.return_address"),
    ({"refund_dayz": 15}, "returns.refund_dayz"),
])
def test_a_bad_returns_value_names_the_key(changes, key):
    with pytest.raises(PolicyError) as error:
        parse_policy(_data(**changes))
    assert error.value.key == key


def test_a_missing_returns_key_is_named():
    data = _data()
    del data["returns"]["exchange_days"]
    with pytest.raises(PolicyError) as error:
        parse_policy(data)
    assert error.value.key == "returns.exchange_days"
