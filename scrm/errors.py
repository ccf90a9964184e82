"""Domain exceptions; the HTTP edges map them to status codes, the CLI to one-line messages."""
from __future__ import annotations


class DomainError(Exception):
    code = "error"


class ValidationError(DomainError):
    """Input that breaks a rule; `field` names the offending input."""

    code = "invalid"

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Forbidden(DomainError):
    """Visible, but not the caller's to change."""

    code = "forbidden"
