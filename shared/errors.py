"""Every error Linkport answers with: one code, one HTTP status, one place."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable machine-readable error codes returned in ``error.code``."""

    INVALID_JSON = "invalid_json"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    VALIDATION_FAILED = "validation_failed"
    INVALID_REDIRECT_URL = "invalid_redirect_url"
    INVALID_PUBLIC_TOKEN = "invalid_public_token"
    APP_NOT_OFFERED = "app_not_offered"
    UNAUTHENTICATED = "unauthenticated"
    SESSION_TOKEN_NOT_ALLOWED = "session_token_not_allowed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INTERNAL = "internal_error"
    TIMEOUT = "request_timeout"
    NOT_READY = "not_ready"
    NOT_IMPLEMENTED = "not_implemented"
    SERVICE_UNAVAILABLE = "service_unavailable"
    RATE_LIMITED = "rate_limited"
    BODY_TIMEOUT = "request_body_timeout"
    BAD_REQUEST = "bad_request"
    # The proxy: the app's API did not answer (502) or not in time (504).
    BAD_GATEWAY = "bad_gateway"
    GATEWAY_TIMEOUT = "gateway_timeout"
    # A key-based app refused the credentials it was given (headless connect).
    CREDENTIALS_REJECTED = "credentials_rejected"


STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.INVALID_REDIRECT_URL: 400,
    ErrorCode.INVALID_PUBLIC_TOKEN: 400,
    ErrorCode.APP_NOT_OFFERED: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.SESSION_TOKEN_NOT_ALLOWED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.VALIDATION_FAILED: 422,
    ErrorCode.INTERNAL: 500,
    ErrorCode.TIMEOUT: 503,
    ErrorCode.NOT_READY: 503,
    ErrorCode.NOT_IMPLEMENTED: 501,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.BODY_TIMEOUT: 408,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.BAD_GATEWAY: 502,
    ErrorCode.GATEWAY_TIMEOUT: 504,
    ErrorCode.CREDENTIALS_REJECTED: 422,
}


class ApiError(Exception):
    """A failure the caller caused or may see; the gateway renders it as a JSON error body."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details

    @property
    def status(self) -> int:
        """The HTTP status this error answers with."""
        return STATUS_OF[self.code]

    def body(self) -> dict[str, Any]:
        """The JSON error body: ``{"success": false, "error": {...}}``."""
        error: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.details:
            error["details"] = self.details
        return {"success": False, "error": error}


def not_found(kind: str, field: str | None = None) -> ApiError:
    """The 404 for an object that does not exist, or belongs to another tenant."""
    return ApiError(ErrorCode.NOT_FOUND, f"{kind} not found", field=field)


def invalid(field: str, message: str) -> ApiError:
    """A 422 naming the offending field."""
    return ApiError(ErrorCode.VALIDATION_FAILED, message, field=field)
