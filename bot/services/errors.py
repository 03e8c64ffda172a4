"""Domain errors. Handlers turn each into a short localized answer."""
from __future__ import annotations


class DomainError(Exception):
    """Base of every rule violation a user can cause."""


class WrongInput(DomainError):
    """The message does not fit the current step; `expected` names what the step wants."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


class TooLong(DomainError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"longer than {limit}")
        self.limit = limit


class InvalidValue(DomainError):
    """Right kind of message, bad content (a malformed phone number, a serial with symbols)."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class LimitReached(DomainError):
    def __init__(self, limit: int, what: str = "photos") -> None:
        super().__init__(f"limit {limit} of {what} reached")
        self.limit = limit
        self.what = what  # what there are too many of: "photos", "voices"


class StaleAction(DomainError):
    """A button from an earlier state (pressed twice, or from an abandoned dialog)."""


class NotFound(DomainError):
    """The thing does not exist, or the actor may not know it exists."""


class NotAllowed(DomainError):
    """The actor may see the thing but not do this to it in its current state."""
