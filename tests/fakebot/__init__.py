"""A fake Telegram Bot API server for end-to-end tests of the real bot.

Typical use (pytest-asyncio, one event loop)::

    fake = FakeTelegram(token="123456:TEST-TOKEN", bot_username="service_desk_bot")
    await fake.start()
    app = (ApplicationBuilder().token(fake.token)
           .base_url(f"{fake.url}/bot").base_file_url(f"{fake.url}/file/bot").build())
    ...start the app polling...
    fake.watch(app)                       # optional: exact sync for slow handlers
    alice = fake.add_user(1001, "Alice")
    await alice.send_text("/start")       # returns once the bot has handled it
    assert "Welcome" in alice.last.text
    fake.assert_no_rejections()
    await fake.stop()

Modules: server (FakeTelegram), users (FakeUser), methods (the Bot API methods),
validation and htmltext (Telegram's rules), polling (getUpdates), objects and
records (the data shapes).
"""

from .records import ApiCall, Rejection, SentMessage
from .server import FakeTelegram
from .users import FakeUser

__all__ = ["ApiCall", "FakeTelegram", "FakeUser", "Rejection", "SentMessage"]
