"""One error shape for the whole API: `{"error": {"code": ..., "message": ..., "fields"?}}`."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from translation.audio.pcm import AudioFormatError
from translation.audio.vad import NoSpeechFound
from translation.history.storage import MediaFull
from translation.jobs import lifecycle
from translation.limits.quotas import LimitExceeded

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "the upload is too large"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "no_speech"
    default_detail = "no speech found"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_ready"
    default_detail = "the translation is not done yet"


class TooManyRequests(exceptions.APIException):
    """A client over one of its limits (translation/limits); `wait` becomes Retry-After."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "throttled"
    default_detail = "too many requests"

    def __init__(self, detail: str, *, code: str, wait: int) -> None:
        super().__init__(detail, code)
        self.wait = wait


class InsufficientStorage(exceptions.APIException):
    status_code = status.HTTP_507_INSUFFICIENT_STORAGE
    default_code = "disk_full"
    default_detail = "the server's disk is full"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "database_unavailable"
    default_detail = (
        "the history database is not reachable, so the request could not be recorded; "
        "try again shortly"
    )


class WorkersBusy(exceptions.APIException):
    """The workers are over UPLOAD_MAX_QUEUE_LAG_S behind (translation/jobs/capacity.py): nothing is
    stored; DRF's handler sends `wait` as the Retry-After header."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "busy"
    default_detail = "the translators are busy; try again later"

    def __init__(self, *, lag_s: float, limit_s: float) -> None:
        super().__init__(f"the translators are {lag_s:.0f} s behind; try again later")
        self.wait = max(5, round(lag_s - limit_s))  # when the backlog is back under the limit

    @classmethod
    def refuse_over(cls, lag_s: float, *, limit_s: float) -> None:
        """Raise while the workers are more than `limit_s` behind."""
        if lag_s > limit_s:
            raise cls(lag_s=lag_s, limit_s=limit_s)


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the errors of this domain, all in the one shape."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        lifecycle.database.went_away()  # watched: the pool is renewed the moment it is back
        exc = ServiceUnavailable()
    elif isinstance(exc, DatabaseError):
        logger.exception("database error")
        exc = ServiceUnavailable("the history database failed to answer; try again shortly")
    elif isinstance(exc, LimitExceeded):  # 429 with Retry-After (DRF sets it from `wait`)
        exc = TooManyRequests(str(exc), code=exc.limit, wait=exc.retry_after_s)
    elif isinstance(exc, MediaFull):
        exc = InsufficientStorage(str(exc))
    elif isinstance(exc, NoSpeechFound):
        exc = Unprocessable(str(exc))
    elif isinstance(exc, AudioFormatError):
        exc = exceptions.ValidationError({"audio": [str(exc)]}, code="invalid_audio")
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge("the form fields are too large")
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(f"malformed request: {exc}")

    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 handling (and logging) takes over
    response.data = _shape(exc, response.data)
    return response


def _shape(exc: Exception, data: Any) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        fields = _field_messages(data)
        codes = exc.get_codes()
        code = _first_code(codes) or "invalid"
        message = "; ".join(
            msg if name == "non_field_errors" else f"{name}: {msg}"
            for name, messages in fields.items()
            for msg in messages
        )
        return error_body(code, message or "invalid request", fields)
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        return error_body(str(code), str(detail))
    return error_body("error", str(data))


def _field_messages(data: Any) -> dict[str, list[str]]:
    if isinstance(data, dict):
        return {
            str(name): [str(m) for m in (value if isinstance(value, list) else [value])]
            for name, value in data.items()
        }
    items = data if isinstance(data, list) else [data]
    return {"non_field_errors": [str(m) for m in items]}


def _first_code(codes: Any) -> str | None:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict):
        codes = list(codes.values())
    for item in codes or []:
        found = _first_code(item)
        if found:
            return found
    return None
