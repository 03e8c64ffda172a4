"""A fake Telegram Bot API server for end-to-end tests (see server.py)."""

from .records import ApiCall, Rejection, SentMessage
from .server import FakeTelegram
from .users import FakeUser

__all__ = ["ApiCall", "FakeTelegram", "FakeUser", "Rejection", "SentMessage"]
