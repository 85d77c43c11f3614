"""What a domain rule answers when it refuses: the kind of refusal and one line saying why. The
web room maps the kinds to HTTP statuses (404, 403, 409, 400); the console to its messages."""
from __future__ import annotations


class DomainError(Exception):
    kind = "invalid"

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message, self.errors = message, errors


class NotFound(DomainError):
    kind = "not_found"


class Forbidden(DomainError):
    """Not this staff member's to do: another role's, another district's, another owner's."""
    kind = "forbidden"


class Conflict(DomainError):
    """The current state does not allow it (claimed already, decided already)."""
    kind = "conflict"


class Invalid(DomainError):
    """The request itself is wrong; `errors` names the fields when there are fields."""
    kind = "invalid"
