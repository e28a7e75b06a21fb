"""Credentials at rest: AES-256-GCM with a key id on every value, bound to where it belongs,
and a rotation that keeps old values readable."""

from __future__ import annotations

import base64
import dataclasses
import re

import pytest

from shared.config import Settings
from shared.infra.crypto import (
    DecryptionFailed,
    EncryptionKeyError,
    Keyring,
    generate_key,
)

OLD_KEY = generate_key()
NEW_KEY = generate_key()
ROW = "connection:0b6f2c36-6f1e-4a39-9a39-6f0c2f0d1e01"


def _keyring(key: str | None, key_id: str = "k1", previous: str = "") -> Keyring:
    return Keyring.from_settings(
        Settings(encryption_key=key, encryption_key_id=key_id, encryption_previous_keys=previous)
    )


def test_a_sealed_value_opens_with_its_binding_and_never_repeats_a_nonce() -> None:
    keyring = _keyring(OLD_KEY)
    first = keyring.seal(b'{"access_token": "x"}', bound_to=ROW)
    second = keyring.seal(b'{"access_token": "x"}', bound_to=ROW)
    assert keyring.open(first, bound_to=ROW) == b'{"access_token": "x"}'
    assert first.key_id == "k1"
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext


def test_a_value_copied_to_another_row_does_not_open() -> None:
    keyring = _keyring(OLD_KEY)
    sealed = keyring.seal(b"secret", bound_to=ROW)
    with pytest.raises(DecryptionFailed):
        keyring.open(sealed, bound_to="connection:another-row")


def test_a_tampered_value_does_not_open() -> None:
    keyring = _keyring(OLD_KEY)
    sealed = keyring.seal(b"secret", bound_to=ROW)
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    for tampered in (
        dataclasses.replace(sealed, ciphertext=flipped),
        dataclasses.replace(sealed, nonce=bytes(12)),
        dataclasses.replace(sealed, ciphertext=sealed.ciphertext[:-1]),
    ):
        with pytest.raises(DecryptionFailed):
            keyring.open(tampered, bound_to=ROW)


def test_after_a_rotation_old_values_open_and_new_ones_use_the_new_key() -> None:
    old = _keyring(OLD_KEY)
    before = old.seal(b"before", bound_to=ROW)
    rotated = _keyring(NEW_KEY, key_id="k2", previous=f"k1:{OLD_KEY}")
    assert rotated.open(before, bound_to=ROW) == b"before"
    after = rotated.seal(b"after", bound_to=ROW)
    assert after.key_id == "k2"
    with pytest.raises(DecryptionFailed, match="'k2'"):  # an old process cannot read it
        old.open(after, bound_to=ROW)


def test_the_key_id_picks_the_key_and_the_current_key_wins_over_a_previous_one() -> None:
    sealed = _keyring(OLD_KEY).seal(b"secret", bound_to=ROW)
    # The same id configured with other bytes: the value does not open (no silent fallback).
    with pytest.raises(DecryptionFailed):
        _keyring(NEW_KEY).open(sealed, bound_to=ROW)
    # A previous entry reusing the current id does not replace the current key.
    keyring = _keyring(OLD_KEY, previous=f" k1:{NEW_KEY} , ,k0:{generate_key()}")
    assert keyring.open(sealed, bound_to=ROW) == b"secret"


@pytest.mark.parametrize(
    ("key", "previous", "words"),
    [
        (None, "", "LINKPORT_ENCRYPTION_KEY is not set"),
        ("", "", "LINKPORT_ENCRYPTION_KEY is not set"),
        ("not base64!", "", "is not valid base64"),
        (base64.b64encode(bytes(16)).decode(), "", "must be 32 bytes (AES-256), got 16"),
        (OLD_KEY, "k0:" + base64.b64encode(bytes(31)).decode(), "'k0' must be 32 bytes"),
    ],
)
def test_a_process_with_an_unusable_key_does_not_start(
    key: str | None, previous: str, words: str
) -> None:
    with pytest.raises(EncryptionKeyError, match=re.escape(words)):
        _keyring(key, previous=previous)
