"""The Link flow's own types: how a flow can end in error, as codes clients and pages share."""

from __future__ import annotations

from enum import StrEnum


class FlowErrorCode(StrEnum):
    """Why a hosted Link flow stopped: shown on Linkport's error page, or handed to the client
    (redirect URL ``?error=`` or the JS SDK's ``onExit``)."""

    LINK_TOKEN_INVALID = "link_token_invalid"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    SESSION_EXPIRED = "session_expired"
    CSRF_FAILED = "csrf_failed"
    APP_NOT_OFFERED = "app_not_offered"
    APP_NOT_CONFIGURED = "app_not_configured"
    OAUTH_STATE_INVALID = "oauth_state_invalid"
    OAUTH_STATE_MISMATCH = "oauth_state_mismatch"
    OAUTH_DENIED = "oauth_denied"
    OAUTH_ERROR = "oauth_error"
    OAUTH_TOKEN_FAILED = "oauth_token_failed"
    SMART_DISCOVERY_FAILED = "smart_discovery_failed"
    CONNECTION_GONE = "connection_gone"
    USER_CANCELLED = "user_cancelled"
    # The app refused a key-based connection's credentials (or could not check them).
    CREDENTIALS_REFUSED = "credentials_refused"


# The error_type a Vital-face flow's redirect carries for each way a flow can fail (Vital's
# documented Link error types; the URL also carries ``error``, the description).
VITAL_ERROR_TYPES: dict[FlowErrorCode, str] = {
    FlowErrorCode.USER_CANCELLED: "user_cancelled",
    FlowErrorCode.OAUTH_DENIED: "user_cancelled",
    FlowErrorCode.OAUTH_ERROR: "provider_api_error",
    FlowErrorCode.OAUTH_TOKEN_FAILED: "provider_api_error",
    FlowErrorCode.APP_NOT_CONFIGURED: "provider_api_error",
    FlowErrorCode.SMART_DISCOVERY_FAILED: "provider_api_error",
    FlowErrorCode.CONNECTION_GONE: "invalid_token",
    FlowErrorCode.CREDENTIALS_REFUSED: "provider_credential_error",
}
