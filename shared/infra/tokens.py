"""The secrets Linkport issues: their recognisable prefixes, how they are minted and hashed.

Every issued secret starts with a prefix so a leak can be found by a scanner, and is
stored only as its SHA-256 (right for high-entropy random strings: no salt or slow hash
is needed when the input cannot be guessed).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from enum import StrEnum

from shared.tenancy import ENVIRONMENTS, Environment

# The prefix table: TokenKind, ACCESS_TOKEN_PREFIX and the per-environment prefixes below
# are the one place each prefix is written; SECRET_PATTERN (at the end) and the tokens'
# Redis key namespaces (redis_keys) are derived from them.


class TokenKind(StrEnum):
    """Short-lived tokens kept in Redis; the value is the token's prefix."""

    LINK = "lt_"
    SESSION = "st_"
    PUBLIC = "pt_"

    @property
    def namespace(self) -> str:
        """The prefix without its underscore, naming the token's Redis keys (``lp:lt:…``)."""
        return self.value.removesuffix("_")


ACCESS_TOKEN_PREFIX = "at_"


def _env_prefix(kind: str, environment: Environment) -> str:
    return f"{kind}_{environment}_"


def client_id_prefix(environment: Environment) -> str:
    """``ci_test_`` / ``ci_live_``: public client identifiers (not secret)."""
    return _env_prefix("ci", environment)


def client_secret_prefix(environment: Environment) -> str:
    """``cs_test_`` / ``cs_live_``: client secrets."""
    return _env_prefix("cs", environment)


def api_key_prefix(environment: Environment) -> str:
    """``sk_test_`` / ``sk_live_``: API keys."""
    return _env_prefix("sk", environment)


def mint(prefix: str, nbytes: int = 24) -> str:
    """A new random secret: the prefix, then ``nbytes`` of randomness in URL-safe base64."""
    return prefix + secrets.token_urlsafe(nbytes)


def digest(secret: str) -> bytes:
    """SHA-256 of a secret, the only form in which Postgres keeps it."""
    return hashlib.sha256(secret.encode()).digest()


def hex_digest(secret: str) -> str:
    """SHA-256 of a secret in hex, the only form in which Redis keys name it."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(a: bytes, b: bytes) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a, b)


def hint(secret: str, prefix: str) -> str:
    """A displayable, non-secret reminder of a secret: its prefix and first four characters."""
    return secret[: len(prefix) + 4] + "…"


# Every prefix of a secret Linkport issues (client ids are public: not among them).
SECRET_PREFIXES: tuple[str, ...] = (
    *(kind.value for kind in TokenKind),
    ACCESS_TOKEN_PREFIX,
    *(client_secret_prefix(environment) for environment in ENVIRONMENTS),
    *(api_key_prefix(environment) for environment in ENVIRONMENTS),
)

# Anything that looks like a Linkport-issued secret; used to scrub logs.
SECRET_PATTERN = re.compile(
    r"\b(?:" + "|".join(map(re.escape, SECRET_PREFIXES)) + r")[A-Za-z0-9_-]{8,}"
)
