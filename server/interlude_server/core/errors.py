"""Domain errors: what went wrong, in terms a client can act on.

The API layer maps each class to one gRPC status code in one place
(interlude_server.api.errors.abort_for); the REST adapter maps the same
classes to MEF error bodies. Reasons are names of the contract's ErrorReason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Violation:
    """One bad field: `field` is the request field path (proto names, e.g.
    `service_order.service_order_item[0].service.id`), `description` says why,
    and `code` is the MEF Error422Code spelling (`invalidValue`, ...)."""

    field: str
    description: str
    code: str = "invalidValue"


@dataclass(frozen=True)
class PolicyRule:
    """A rule of the buyer's policy that a request broke: `subject` names it
    (e.g. `spec:ovc-end-point/path:/ingressBandwidthProfilePerEvc/cir`)."""

    subject: str
    description: str
    type: str = "POLICY"


class DomainError(Exception):
    """Base class; `reason` is an ErrorReason name without its prefix."""

    reason = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    """Bad input; carries every violation found, not just the first."""

    reason = "INVALID_REQUEST"

    def __init__(self, message: str, violations: Sequence[Violation], reason: str | None = None) -> None:
        super().__init__(message)
        self.violations = tuple(violations)
        if reason is not None:
            self.reason = reason


@dataclass
class _Resource:
    type: str
    id: str


class NotFound(DomainError):
    """No such resource for this buyer (also when another buyer owns it)."""

    def __init__(self, resource_type: str, resource_id: str, reason: str) -> None:
        super().__init__(f"{resource_type} {resource_id!r} not found")
        self.resource = _Resource(resource_type, resource_id)
        self.reason = reason


class PolicyViolation(DomainError):
    """The buyer's policy does not permit the change; lists each rule and field."""

    reason = "POLICY_VIOLATION"

    def __init__(
        self, message: str, rules: Sequence[PolicyRule], violations: Sequence[Violation] = ()
    ) -> None:
        super().__init__(message)
        self.rules = tuple(rules)
        self.violations = tuple(violations)


class NotPermitted(DomainError):
    """The business arrangement does not allow it (e.g. connecting two interfaces)."""

    reason = "CONNECTIVITY_NOT_PERMITTED"

    def __init__(self, message: str, rules: Sequence[PolicyRule]) -> None:
        super().__init__(message)
        self.rules = tuple(rules)


class InvalidState(DomainError):
    """The resource's current state does not allow the operation."""

    reason = "INVALID_STATE_TRANSITION"

    def __init__(self, message: str, current_state: str) -> None:
        super().__init__(message)
        self.current_state = current_state


class InformationNotRequired(InvalidState):
    """An order item was answered that asks the buyer for no information (now)."""

    reason = "ORDER_INFORMATION_NOT_REQUIRED"


class InUse(DomainError):
    """The resource is used by others and cannot be deleted (e.g. a PM profile used by a job)."""

    reason = "PROFILE_IN_USE"

    def __init__(self, message: str, resource_type: str, resource_id: str) -> None:
        super().__init__(message)
        self.resource = _Resource(resource_type, resource_id)


class EtagMismatch(DomainError):
    """The client's etag is stale: someone changed the resource since it read it."""

    reason = "ETAG_MISMATCH"

    def __init__(self, resource_type: str, resource_id: str, current_etag: str) -> None:
        super().__init__(f"{resource_type} {resource_id!r} has changed (etag is now {current_etag!r})")
        self.current_etag = current_etag


class RequestIdReused(DomainError):
    """The request_id was used before for a different request."""

    reason = "REQUEST_ID_REUSED"


class ResumeTokenExpired(DomainError):
    """The stream cannot continue from this point: the events after it were pruned."""

    reason = "RESUME_TOKEN_EXPIRED"


class SlowConsumer(DomainError):
    """The subscriber fell too far behind; it resumes from `resume_token` without loss."""

    reason = "SLOW_CONSUMER"

    def __init__(self, message: str, resume_token: str) -> None:
        super().__init__(message)
        self.resume_token = resume_token


class StorageUnavailable(DomainError):
    """The database refused a write (full, over its size limit, read-only); nothing changed."""

    reason = "STORAGE_UNAVAILABLE"


class ShuttingDown(DomainError):
    """The server is stopping; retry on another replica or after it restarts."""

    reason = "SHUTTING_DOWN"


class DeadlineExceeded(DomainError):
    """The caller's deadline passed before the write began: nothing was changed."""

    reason = "DEADLINE_EXCEEDED"


class Unauthenticated(DomainError):
    """No credentials, or credentials that do not prove who is calling.

    `cause` says which check failed, in a stable snake_case word (`missing_credentials`,
    `token_expired`, `invalid_audience`, ...; see interlude_server.auth); it never repeats
    the credential itself.
    """

    reason = "UNAUTHENTICATED"

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause

    @property
    def mef_code(self) -> str:
        """The MEF REST `code` of the 401 body."""
        return "missingCredentials" if self.cause == "missing_credentials" else "invalidCredentials"


class MissingScope(DomainError):
    """The caller is known but its credentials do not grant the scope the operation needs."""

    reason = "MISSING_SCOPE"

    def __init__(self, operation: str, scope: str) -> None:
        super().__init__(f"{operation} needs the {scope!r} scope")
        self.scope = scope


@dataclass(frozen=True)
class Errors:
    """Collects violations so validation reports all of them at once."""

    items: list[Violation] = field(default_factory=list)

    def add(self, field_path: str, description: str, code: str = "invalidValue") -> None:
        self.items.append(Violation(field_path, description, code))

    def raise_if_any(self, message: str = "the request has invalid fields") -> None:
        if self.items:
            raise InvalidArgument(message, self.items)
