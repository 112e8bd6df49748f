"""Domain errors of the controller: services raise these, the API app maps them to HTTP once.

A service never imports FastAPI; it raises the error that says what the caller can do, and
`avfleet.controller.api.app` turns each class into its status code with `{"detail": message}`.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a controller service raises for its caller; the message is shown as is."""

    status_code = 400


class InvalidInput(DomainError):
    """The request is well-formed but its content cannot be used (names the field and why)."""

    status_code = 422


class NotFound(DomainError):
    """No such resource, or one the caller may not see (tenancy answers 404, never 403)."""

    status_code = 404


class Forbidden(DomainError):
    """The caller is known but its role does not allow this action."""

    status_code = 403


class Conflict(DomainError):
    """The resource is in a state that does not allow this change now."""

    status_code = 409


class TooLarge(DomainError):
    """The request or one of its fields exceeds a size limit."""

    status_code = 413


class Unavailable(DomainError):
    """A dependency (broker, database) is down; the same request may work later."""

    status_code = 503
