import pytest

from bot.services.errors import InvalidValue, TooLong, WrongInput
from bot.services.validation import clean_text, contact_phone, international_phone, normalize_phone, normalize_serial


@pytest.mark.parametrize("typed, stored", [
    ("+86 138 0013 8000", "+8613800138000"),
    ("(495) 123-45-67", "4951234567"),
    ("+7.916.555.01.02", "+79165550102"),
])
def test_typed_phone_numbers_are_normalized(typed, stored):
    assert normalize_phone(typed) == stored


@pytest.mark.parametrize("typed", ["12345", "call me", "+86 138 0013 8000 1234 5", "++8613800138000", "", "+٧٩١٦٥٥٥٠١٠٢"])
def test_implausible_phone_numbers_are_refused(typed):
    with pytest.raises(InvalidValue):
        normalize_phone(typed)


@pytest.mark.parametrize("typed, stored", [
    ("+86 138 0013 8000", "+8613800138000"), ("0086 138 0013 8000", "+8613800138000"),
    ("(+86) 138 0013 8000", "+8613800138000"),
    ("＋８６ １３８ ００１３ ８０００", "+8613800138000"),  # a Chinese keyboard in full-width mode
])
def test_a_typed_phone_keeps_its_country_code(typed, stored):
    assert international_phone(typed) == stored


@pytest.mark.parametrize("typed", ["138 0013 8000", "(495) 123-45-67", "8 916 555 01 02"])
def test_a_typed_phone_without_a_country_code_is_refused(typed):
    with pytest.raises(InvalidValue):  # it would not match the same phone shared from Telegram
        international_phone(typed)


@pytest.mark.parametrize("shared", ["8613800138000", "+8613800138000", " 8613800138000 "])
def test_a_shared_contact_is_stored_international_with_or_without_the_plus(shared):
    assert contact_phone(shared) == normalize_phone("+86 138 0013 8000")


def test_serial_is_uppercased_and_checked():
    assert normalize_serial(" qj-2024/001 ") == "QJ-2024/001"
    with pytest.raises(InvalidValue):
        normalize_serial("#$%")
    with pytest.raises(TooLong) as error:
        normalize_serial("A" * 41)
    assert error.value.limit == 40


@pytest.mark.parametrize("typed", [
    "ＱＪ－５００２",  # a Chinese keyboard in full-width mode (全角)
    "ｑｊ－５００２",
    "\u3000QJ-5002\u3000",  # an ideographic space around it
    "\u200bQJ-5002\u200d",  # zero-width characters left by copy and paste
    "\ufeffQJ-\u200c5002",
])
def test_a_full_width_or_pasted_serial_is_the_plain_one(typed):
    assert normalize_serial(typed) == "QJ-5002"


def test_spaces_in_a_serial_stay_part_of_it():
    """Spaces are allowed in serials, so "QJ 5002" is not made "QJ-5002": that would change the
    key of serials already in the registry with a space."""
    assert normalize_serial(" qj 5002 ") == "QJ 5002"
    with pytest.raises(InvalidValue):
        normalize_serial("\u200b\u200b")  # nothing left but zero-width characters


def test_empty_text_asks_again_and_long_text_states_the_limit():
    with pytest.raises(WrongInput) as wrong:
        clean_text("   ", limit=10, expected="description")
    assert wrong.value.expected == "description"
    with pytest.raises(TooLong) as long:
        clean_text("x" * 11, limit=10, expected="description")
    assert long.value.limit == 10
    assert clean_text("  ok  ", limit=10, expected="description") == "ok"


@pytest.mark.parametrize("typed", ["\u3164", "\u200b\u200b", "\u2800 \u2800", "\ufeff", "  \u3164  ", "\u034f", "\ufe0f"])
def test_a_text_that_shows_nothing_is_empty(typed):
    with pytest.raises(WrongInput):  # the re-ask, as for an empty message
        clean_text(typed, limit=100, expected="description")
    assert clean_text("\u200bPump stops\u200b", limit=100, expected="description") == "\u200bPump stops\u200b"


@pytest.mark.parametrize("typed", ["👍", "❤️", "👨\u200d👩\u200d👧", "é", "ok\u0301"])
def test_emoji_and_accented_text_are_answers(typed):
    assert clean_text(typed, limit=100, expected="description") == typed
