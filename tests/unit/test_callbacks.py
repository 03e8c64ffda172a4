import pytest

from bot.callbacks import BadCallback, DialogButton, LanguageButton, ListPageButton, ReportAnswerButton, RequestButton, parse


@pytest.mark.parametrize("payload", [
    DialogButton(123456789012, "description", "back"),
    DialogButton(1, "type", "type", "installation"),
    LanguageButton("zh_Hans"),
    ListPageButton(3),
    RequestButton(42, "cancel_yes"),
    ReportAnswerButton(7, "yes", 1772443800),
])
def test_every_button_round_trips_within_64_bytes(payload):
    data = payload.pack()
    assert len(data.encode()) <= 64
    assert parse(data) == payload


@pytest.mark.parametrize("data", [
    "", "garbage", "2:my:1", "1:nope:1", "1:my", "1:my:1:2", "1:my:-1", "1:rq:abc:open",
    "1:rq:1:open;drop", "1:d:1:type:type:x" + "y" * 60, "1:lang:" + "é",
])
def test_forged_or_foreign_data_is_rejected(data):
    with pytest.raises(BadCallback):
        parse(data)


def test_packing_refuses_values_that_would_break_the_format():
    with pytest.raises(ValueError):
        RequestButton(1, "open:now").pack()


def test_a_field_added_later_has_a_default_so_buttons_sent_before_it_still_parse():
    assert parse("1:cf:7:yes") == ReportAnswerButton(7, "yes", 0)  # a report message sent before versions
    with pytest.raises(BadCallback):
        parse("1:cf:7")  # but what every button carried stays required
    with pytest.raises(BadCallback):
        parse("1:cf:7:yes:1:2")
