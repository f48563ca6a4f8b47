"""Wharf's exception tree.

Every error Wharf raises on purpose derives from :class:`WharfError`::

    WharfError
    ├── ConfigError            settings file or environment is wrong (names the key)
    ├── PolicyError            a policy file is wrong (names the file and the key path)
    ├── PkiError               certificates or keys cannot be created or read
    ├── BrokerError            NATS / JetStream could not be reached or set up
    ├── AuthError              a request's identity is missing or not allowed (401/403)
    ├── DocumentError          a partner's document is unacceptable (carries a pointer)
    │   ├── MalformedDocument  not even syntactically valid (bad JSON, broken envelope)
    │   ├── NotRouted          the partner's policy routes this document type nowhere
    │   ├── IdempotencyConflict  an Idempotency-Key reused with a different body
    │   ├── UnsupportedMediaType
    │   ├── RequestTimeout
    │   └── PayloadTooLarge
    └── StepError              a pipeline step failed for one document
        ├── TransientError     worth retrying (target down, timeout)
        └── PermanentError     retrying cannot help (dead-letter it at once)

Leaves carry fields so that callers can render pointed messages (HTTP problem+json,
trace entries) without parsing strings.
"""

from __future__ import annotations

__all__ = (
    "AuthError",
    "BrokerError",
    "ConfigError",
    "DocumentError",
    "IdempotencyConflict",
    "MalformedDocument",
    "NotRouted",
    "PayloadTooLarge",
    "PermanentError",
    "PkiError",
    "PolicyError",
    "RequestTimeout",
    "StepError",
    "TransientError",
    "UnsupportedMediaType",
    "WharfError",
)


class WharfError(Exception):
    """Raised for every error that Wharf raises on purpose."""


class ConfigError(WharfError):
    """Raised when settings cannot be loaded; ``key`` names the offending setting."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(f"wharf: config: {message}")
        self.key = key


class PolicyError(WharfError):
    """Raised when a policy file is invalid; ``file`` and ``path`` locate the problem."""

    def __init__(self, message: str, *, file: str, path: str | None = None) -> None:
        where = f"{file}: {path}: " if path else f"{file}: "
        super().__init__(where + message)
        self.file = file
        self.path = path
        self.detail = message


class PkiError(WharfError):
    """Raised when certificates or keys cannot be created, read or parsed."""


class BrokerError(WharfError):
    """Raised when NATS or JetStream cannot be reached or set up."""


class AuthError(WharfError):
    """Raised when a caller is not authenticated (401) or not allowed (403)."""

    def __init__(self, detail: str, *, status: int = 403, title: str = "Forbidden") -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.title = title


class DocumentError(WharfError):
    """Raised when a partner's document is unacceptable.

    ``pointer`` locates the bad place in the format's own terms: a JSON pointer for JSON
    (``/lines/0/quantity``), an XPath for XML (``/cXML/Request/OrderRequest/ItemOut[2]/@quantity``),
    ``/rows/<n>/<column>`` for CSV (rows counted from 1, the header being row 0) and
    ``/segments/<n>/<element>`` for EDI (segment number counted from 1 within the transaction
    set or message, element position from 1). For EDI, ``segment``, ``segment_id``, ``element``
    and ``code`` (the X12 AK304/AK403 or EDIFACT 0085 error code) feed the 997/CONTRL.
    ``status`` is the HTTP status the gateway answers with.
    """

    status = 422
    title = "Unprocessable document"

    def __init__(
        self,
        detail: str,
        *,
        pointer: str | None = None,
        segment: int | None = None,
        segment_id: str | None = None,
        element: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer
        self.segment = segment
        self.segment_id = segment_id
        self.element = element
        self.code = code


class MalformedDocument(DocumentError):
    """Raised when a body is not syntactically valid in its format."""

    status = 400
    title = "Malformed document"


class NotRouted(DocumentError):
    """Raised when the partner's policy routes this document type nowhere (so it is not accepted)."""

    status = 403
    title = "Not routed"


class IdempotencyConflict(DocumentError):
    """Raised when an Idempotency-Key is reused with a different body."""

    status = 422
    title = "Idempotency key reused"


class UnsupportedMediaType(DocumentError):
    """Raised when the request's Content-Type names a format Wharf does not take here."""

    status = 415
    title = "Unsupported media type"


class RequestTimeout(DocumentError):
    """Raised when a client does not send its body within the gateway's time limit."""

    status = 408
    title = "Request timeout"


class PayloadTooLarge(DocumentError):
    """Raised when a request body exceeds the partner's size limit."""

    status = 413
    title = "Payload too large"


class StepError(WharfError):
    """Raised when a pipeline step fails for one document; ``step`` names it."""

    def __init__(self, message: str, *, step: str) -> None:
        super().__init__(message)
        self.step = step


class TransientError(StepError):
    """Raised when a step failed for a reason that a later retry may not meet."""


class PermanentError(StepError):
    """Raised when a step failed for a reason that no retry can fix."""
