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


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "database_unavailable"
    default_detail = (
        "the history database is not reachable, so the request could not be recorded; "
        "try again shortly"
    )


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the errors of this domain, all in the one shape."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        exc = ServiceUnavailable()
    elif isinstance(exc, DatabaseError):
        logger.exception("database error")
        exc = ServiceUnavailable("the history database failed to answer; try again shortly")
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
