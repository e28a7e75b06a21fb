"""Webhook secrets and signatures.

Standard Webhooks: ``webhook-signature`` is ``v1,`` + base64 HMAC-SHA256 over
``{webhook-id}.{webhook-timestamp}.{body}`` keyed with the secret's bytes, computed by the
reference implementation (``standardwebhooks``); several signatures are space-separated.
gocobalt's receivers check ``x-cobalt-signature``: hex HMAC-SHA256 of the body alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

from shared.infra.tokens import WEBHOOK_SECRET_PREFIX

SECRET_PREFIX = WEBHOOK_SECRET_PREFIX
SECRET_BYTES = 32


def new_secret() -> bytes:
    """A fresh signing secret (32 random bytes)."""
    return os.urandom(SECRET_BYTES)


def secret_text(raw: bytes) -> str:
    """The secret as clients hold it: ``whsec_`` + base64."""
    return SECRET_PREFIX + base64.b64encode(raw).decode()


def unix_seconds(at: datetime) -> int:
    """The ``webhook-timestamp`` value of an aware datetime: whole seconds since the epoch."""
    return int(at.timestamp())


def standard_signature(
    secrets: Sequence[bytes], *, msg_id: str, timestamp: datetime, body: bytes
) -> str:
    """``v1,<sig>`` per secret, space-separated (current secret first)."""
    text = body.decode()
    return " ".join(
        Webhook(raw).sign(msg_id=msg_id, timestamp=timestamp, data=text) for raw in secrets
    )


def cobalt_signature(secret: bytes, body: bytes) -> str:
    """gocobalt's ``x-cobalt-signature``: hex HMAC-SHA256 of the body, keyed with the secret as
    the client holds it (``whsec_…``, in place of gocobalt's org API key)."""
    return hmac.new(secret_text(secret).encode(), body, hashlib.sha256).hexdigest()
