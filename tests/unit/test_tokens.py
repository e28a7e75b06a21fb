"""Secrets Linkport issues: minted with a recognisable prefix, kept only as SHA-256, and every
kind of them recognised by the log scrubber."""

from __future__ import annotations

import hashlib
import re

import pytest

from shared.infra import tokens
from shared.infra.tokens import SECRET_PATTERN, TokenKind
from shared.tenancy import ENVIRONMENTS

ISSUED_PREFIXES = [
    *(kind.value for kind in TokenKind),
    tokens.ACCESS_TOKEN_PREFIX,
    *(tokens.client_secret_prefix(env) for env in ENVIRONMENTS),
    *(tokens.api_key_prefix(env) for env in ENVIRONMENTS),
]


def test_a_minted_secret_is_its_prefix_and_192_random_bits_url_safe() -> None:
    minted = {tokens.mint("lt_") for _ in range(500)}
    assert len(minted) == 500
    for secret in minted:
        assert re.fullmatch(r"lt_[A-Za-z0-9_-]{32}", secret)


def test_digests_are_sha256_of_the_text_in_bytes_and_in_hex() -> None:
    secret = tokens.mint(tokens.ACCESS_TOKEN_PREFIX)
    assert tokens.digest(secret) == hashlib.sha256(secret.encode()).digest()
    assert tokens.hex_digest(secret) == tokens.digest(secret).hex()
    assert tokens.same_digest(tokens.digest(secret), tokens.digest(secret))
    assert not tokens.same_digest(tokens.digest(secret), tokens.digest(secret + "x"))


@pytest.mark.parametrize("prefix", ISSUED_PREFIXES)
def test_every_kind_of_issued_secret_is_recognised_as_one(prefix: str) -> None:
    secret = tokens.mint(prefix)
    assert SECRET_PATTERN.fullmatch(secret)
    assert SECRET_PATTERN.search(f"GET /v1/x?token={secret}&page=2")


def test_public_ids_and_lookalikes_are_not_secrets() -> None:
    for env in ENVIRONMENTS:
        assert not SECRET_PATTERN.search(tokens.mint(tokens.client_id_prefix(env)))  # public
    assert not SECRET_PATTERN.search("lt_short")  # too short to be one of ours
    assert not SECRET_PATTERN.search("salt_abcdefghijklmnop")  # inside a word
    assert not SECRET_PATTERN.search("sk_prod_abcdefghijklmnop")  # no such environment


def test_a_hint_shows_the_prefix_and_four_characters_only() -> None:
    secret = tokens.mint(tokens.api_key_prefix("live"))
    hint = tokens.hint(secret, tokens.api_key_prefix("live"))
    assert hint == secret[:12] + "…"
    assert not SECRET_PATTERN.search(hint)  # a hint is safe to log and show
