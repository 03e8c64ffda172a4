"""Pure rules of spare parts and stock: requisition lines, the safety-level crossing, which
warehouse can cover a requisition, reconciliation, and reading the stock columns of a parts file."""
from __future__ import annotations

import pytest

from bot.callbacks import IssueButton, RequisitionButton, parse
from bot.services import registry, stock
from bot.services.errors import InvalidValue, LimitReached


def test_repeated_parts_in_a_requisition_are_added_up_in_first_seen_order():
    assert stock.merge_lines([(7, 1), (3, 2), (7, 4)]) == [(7, 5), (3, 2)]


@pytest.mark.parametrize("lines, error", [
    ([], InvalidValue), ([(1, 0)], InvalidValue), ([(1, 1000)], InvalidValue),
    ([(1, 600), (1, 400)], InvalidValue),  # together over the limit of one line
    ([(i, 1) for i in range(stock.MAX_LINES + 1)], LimitReached),
])
def test_requisition_lines_outside_the_limits_are_refused(lines, error):
    with pytest.raises(error):
        stock.merge_lines(lines)


@pytest.mark.parametrize("was_below, total, level, crossing", [
    (False, 3, 3, None),     # at the level is not below it
    (False, 2, 3, "down"),   # just fell below: alert
    (True, 1, 3, None),      # still below: no second alert
    (True, 3, 3, "up"),      # back at the level: re-armed
    (False, 0, None, None),  # no safety level: never alerts
    (False, 0, 0, None),
    (True, 0, None, "up"),   # the level was removed while below
])
def test_the_safety_level_alerts_once_per_crossing(was_below, total, level, crossing):
    assert stock.safety_crossing(was_below, total, level) == crossing


def test_a_warehouse_covers_a_requisition_only_with_enough_of_every_line():
    lines = [(1, 2), (2, 1)]
    assert stock.enough_in(lines, {1: 2, 2: 5})
    assert not stock.enough_in(lines, {1: 1, 2: 5})
    assert not stock.enough_in(lines, {1: 9})


def test_several_warehouses_are_planned_those_covering_most_first():
    lines = [(1, 2), (2, 1), (3, 4)]
    held = {"A": {1: 2, 3: 1}, "B": {2: 5, 3: 4}, "C": {1: 9, 2: 1}}
    # B and C each cover two lines whole, B with more units; then line 1 whole from A (first of A and C)
    assert stock.split_plan(lines, held) == [stock.Pick("B", 2, 1), stock.Pick("B", 3, 4), stock.Pick("A", 1, 2)]


def test_a_line_no_warehouse_holds_whole_is_taken_from_the_one_holding_most_first():
    assert stock.split_plan([(1, 6)], {"EAST": {1: 1}, "MAIN": {1: 5}}) == [stock.Pick("MAIN", 1, 5), stock.Pick("EAST", 1, 1)]


def test_a_line_a_warehouse_still_to_come_holds_whole_is_not_cut():
    # W1 goes first (it holds the bearings whole); its 4 seals are left, as W2 holds all 5
    plan = stock.split_plan([(1, 2), (2, 5)], {"W1": {1: 2, 2: 4}, "W2": {2: 5}})
    assert plan == [stock.Pick("W1", 1, 2), stock.Pick("W2", 2, 5)]


def test_parts_only_in_different_warehouses_are_planned_one_from_each():
    assert stock.split_plan([(1, 1), (2, 1)], {"W1": {1: 3}, "W2": {2: 3}}) == [stock.Pick("W1", 1, 1), stock.Pick("W2", 2, 1)]


def test_what_all_warehouses_together_cannot_cover_has_no_plan_and_is_listed_as_short():
    lines, held = [(1, 7), (2, 1), (3, 1)], {"MAIN": {1: 5, 3: 1}, "EAST": {1: 1}}
    assert stock.split_plan(lines, held) is None
    assert stock.shortages(lines, held) == [stock.Shortage(1, 7, 6), stock.Shortage(2, 1, 0)]
    assert [s.missing for s in stock.shortages(lines, held)] == [1, 1]
    assert stock.shortages([(1, 6)], held) == []


def test_reconcile_lists_only_parts_whose_issued_and_used_quantities_differ():
    differences = stock.compare_usage({1: 2, 2: 1, 3: 4}, {1: 2, 2: 3, 5: 1}, {1: "Bearing", 2: "Seal", 3: "Belt", 5: "Fuse"}, [("Grease", 1)])
    assert differences == [
        stock.Difference(2, "Seal", 1, 3), stock.Difference(3, "Belt", 4, 0), stock.Difference(5, "Fuse", 0, 1),
        stock.Difference(None, "Grease", 0, 1),
    ]


def test_stock_buttons_fit_telegram_and_parse_back():
    for payload in (IssueButton(123456789012, 123456789012), IssueButton(123456789012, 0, "split", "f" * stock.PLAN_KEY_LENGTH),
                    RequisitionButton(123456789012, "received")):
        assert len(payload.pack().encode()) <= 64 and parse(payload.pack()) == payload
    assert parse("1:iss:5:2") == IssueButton(5, 2)  # a card sent before the split issue existed still works


def _parts(text: str) -> registry.ParsedFile:
    return registry.parse_file("parts.csv", text.encode())


def test_a_parts_file_with_prices_safety_levels_and_stock_per_warehouse():
    parsed = _parts("编码,名称,单价,安全库存,仓库,数量\nBRG-6204,轴承,35.5,3,MAIN,4\nBRG-6204,轴承,35.50,3,EAST,0\nSEAL-1,油封,\"12,05\",,,\n")
    assert parsed.errors == ()
    assert parsed.columns == {"code", "name", "price", "safety_level", "warehouse", "quantity"}
    assert [(r.code, r.price, r.safety_level, r.warehouse, r.quantity) for r in parsed.rows] == [
        ("BRG-6204", 3550, 3, "MAIN", 4), ("BRG-6204", 3550, 3, "EAST", 0), ("SEAL-1", 1205, None, None, None),
    ]


def test_russian_stock_headers_are_recognised():
    parsed = _parts("Код;Наименование;Цена;Страховой запас;Склад;Количество\nA-1;Фильтр;100;2;Центральный;7\n")
    assert (parsed.rows[0].price, parsed.rows[0].safety_level, parsed.rows[0].warehouse, parsed.rows[0].quantity) == (10000, 2, "Центральный", 7)


def test_bad_stock_cells_are_reported_by_row_and_column():
    parsed = _parts(
        "code,name,price,safety level,warehouse,quantity\n"
        "A-1,Filter,12.345,x,MAIN,-1\n"   # row 2: three decimals, words for a level, a negative quantity
        "A-2,Pump,¥5,1,MAIN,\n"           # row 3: a currency sign, a warehouse without a quantity
        "A-2,Pump,5,1,,3\n"               # row 4: a quantity without a warehouse (row 3 was invalid: nothing to compare with)
        "A-3,Belt,1,1,MAIN,1\n"
        "A-3,Belt,1,2,EAST,1\n"           # row 6: the same part with another safety level
        "a-3,Belt,1,1,main,1\n"           # row 7: the same part and warehouse again
        "A-4,Fuse,1,2000000,MAIN,1\n"     # row 8: a level out of range
    )
    assert [(e.row, e.column, e.problem) for e in parsed.errors] == [
        (2, "price", "bad_price"), (2, "safety level", "not_count"), (2, "quantity", "not_count"),
        (3, "price", "bad_price"), (3, "quantity", "required"),
        (4, "warehouse", "required"),
        (6, "safety level", "conflict"),
        (7, "code", "duplicate"),
        (8, "safety level", "range"),
    ]
    assert parsed.errors[6].other_row == 5 and parsed.errors[7].other_row == 5


@pytest.mark.parametrize("header, missing", [("code,name,quantity", "warehouse"), ("code,name,warehouse", "quantity")])
def test_a_quantity_column_needs_its_warehouse_column(header, missing):
    with pytest.raises(registry.FileRefused) as refused:
        _parts(header + "\nA-1,Filter,1\n")
    assert (refused.value.reason, refused.value.column) == ("missing_column", missing)
