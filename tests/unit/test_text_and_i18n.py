import html
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import Html, Translator, language_from_telegram
from bot.telegram_text import fit_html, split_html, tg_len, visible_len

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("code, language", [("zh-hans", "zh_Hans"), ("zh", "zh_Hans"), ("ru", "ru"), ("en-US", "en"), ("de", "en"), (None, "en")])
def test_telegram_language_codes_map_to_supported_languages(code, language):
    assert language_from_telegram(code, "en") == language


def test_values_are_html_escaped_but_marked_html_is_not():
    _ = Translator("en", SHANGHAI)
    assert _("Thank you, {name}, you are registered. Report a problem any time with /new or the menu below.", name="<b>&") .startswith("Thank you, &lt;b&gt;&amp;,")
    assert Html("<b>x</b>") in _("Thank you, {name}, you are registered. Report a problem any time with /new or the menu below.", name=Html("<b>x</b>"))


def test_dates_are_shown_in_the_desk_time_zone_and_user_locale():
    moment = datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc)
    assert Translator("en", SHANGHAI).datetime(moment) == "Mar 2, 2026, 9:30\u202fAM"  # to the minute: no seconds (CLDR's narrow space)
    assert Translator("ru", SHANGHAI).datetime(moment) == "2 мар. 2026\u202fг., 09:30"
    assert Translator("zh_Hans", SHANGHAI).datetime(moment) == "2026年3月2日 09:30"
    assert Translator("en", SHANGHAI).datetime(moment.replace(tzinfo=None)) == "Mar 2, 2026, 9:30\u202fAM"  # naive is UTC


def _balanced(piece: str) -> bool:
    stack = []
    for closing, name in re.findall(r"<(/?)([a-z]+)[^>]*>", piece):
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


def test_long_html_is_split_into_valid_pieces_within_the_limit():
    text = "<b>Title</b>\n" + "\n".join(f"line {i} &amp; <i>{'x' * 50}</i>" for i in range(200)) + "\n<b>" + "y" * 5000 + "</b>"
    pieces = split_html(text)
    assert len(pieces) > 2
    assert all(visible_len(p) <= 4096 for p in pieces)
    assert all(_balanced(p) for p in pieces)
    assert re.sub(r"<[^>]+>", "", "".join(pieces)).count("y") == 5000


def test_emoji_count_twice_as_telegram_counts_them():
    assert tg_len("🔥") == 2 and tg_len("水") == 1
    text = "Description: " + "🔥" * 1965 + "\n<b>Site:</b> 5 Lotus Street"  # 1,965 code points, 3,930 for Telegram
    pieces = split_html(text, limit=3000)
    assert all(tg_len(p) <= 3000 for p in pieces) and all(_balanced(p) for p in pieces)
    assert "".join(pieces).count("🔥") == 1965


def test_short_text_is_left_alone():
    assert split_html("<b>hi</b>") == ["<b>hi</b>"]


def _shown(piece: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", piece))


def test_no_piece_is_blank_as_telegram_refuses_an_empty_message():
    """A line of spaces that falls alone between two full pieces used to be sent on its own."""
    text = "a" * 10 + "\n   \n" + "b" * 10 + "\n<b> </b>\n" + "c" * 10 + "\n" + " " * 25 + "\nd"
    pieces = split_html(text, limit=10)
    assert pieces and all(_shown(p).strip() for p in pieces), pieces
    assert all(_balanced(p) for p in pieces)
    assert "".join(pieces).count("a") == 10 and "d" in pieces[-1]


def test_the_length_is_what_telegram_counts_not_the_markup():
    """Telegram counts "&amp;" as one character and tags as none: a text of 4000 visible
    characters is one message, though its markup is five times longer."""
    text = "<b>Log</b>\n" + "&amp;" * 2000 + "\n" + "&lt;x&gt;" * 660
    assert visible_len(text) == 3 + 1 + 2000 + 1 + 1980
    assert split_html(text) == [text]
    longer = "&amp;" * 5000 + "\n" + "<i>" + "&lt;" * 5000 + "</i>"
    pieces = split_html(longer)
    assert all(visible_len(p) <= 4096 for p in pieces) and all(_balanced(p) for p in pieces)
    assert len(pieces) == 4  # each line in two (4,096 + 904 characters); counting the markup made many more
    shown = "".join(_shown(p) for p in pieces)
    assert shown.count("&") == 5000 and shown.count("<") == 5000


def test_a_text_cut_for_an_edit_fits_and_keeps_every_line():
    title, outcome = "🧾 <b>Waiver</b> · SR-2025-000001", "Rejected by Mia: " + "🚫" * 1000
    text = "\n".join([title, "Reason: " + "🙏" * 1000, "Request: " + "🔥" * 300, "Status: rejected", outcome])
    fitted = fit_html(text)
    assert visible_len(fitted) <= 4096 and _balanced(fitted)
    assert fitted.startswith(title) and "Status: rejected" in fitted and "Rejected by Mia: 🚫" in fitted
    assert "…" in fitted
    assert fit_html("<b>short</b>") == "<b>short</b>"


def test_a_callback_alert_is_plain_text_within_telegrams_200_characters():
    from bot.telegram_text import ALERT_LIMIT, alert_text, tg_len

    assert alert_text("Already decided by Mia &amp; Co &lt;VP&gt;") == "Already decided by Mia & Co <VP>"
    long = alert_text("🔧" * 150)  # 300 UTF-16 units
    assert tg_len(long) <= ALERT_LIMIT and long.endswith("…")
    assert alert_text("x" * ALERT_LIMIT) == "x" * ALERT_LIMIT
