"""Encryption of third-party credentials at rest: AES-256-GCM, a key id on every row.

Each sealed value is bound to where it belongs (associated data such as the connection
id), so a ciphertext copied onto another row does not decrypt. New values are sealed
with the current key; older keys stay able to open rows until they are re-encrypted.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.config import Settings


class EncryptionKeyError(Exception):
    """The configured keys are missing or malformed (the process must not start)."""


class DecryptionFailed(Exception):
    """A sealed value could not be opened: wrong key, wrong row, or tampered with."""


@dataclass(frozen=True, slots=True)
class Sealed:
    """A ciphertext with what is needed to open it (the key's id and the nonce)."""

    ciphertext: bytes
    nonce: bytes
    key_id: str


def _decode_key(key_id: str, encoded: str) -> AESGCM:
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise EncryptionKeyError(f"encryption key {key_id!r} is not valid base64") from None
    if len(raw) != 32:
        raise EncryptionKeyError(
            f"encryption key {key_id!r} must be 32 bytes (AES-256), got {len(raw)}"
        )
    return AESGCM(raw)


class Keyring:
    """The current key and any previous ones, by id."""

    def __init__(self, current_id: str, keys: dict[str, AESGCM]) -> None:
        self.current_id = current_id
        self._keys = keys

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        """The keyring the settings describe; raises EncryptionKeyError when there is no usable key."""
        if not settings.encryption_key:
            raise EncryptionKeyError(
                "LINKPORT_ENCRYPTION_KEY is not set: generate one with "
                "`python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'`"
            )
        keys = {
            settings.encryption_key_id: _decode_key(
                settings.encryption_key_id, settings.encryption_key
            )
        }
        for entry in filter(
            None, (e.strip() for e in settings.encryption_previous_keys.split(","))
        ):
            key_id, _, encoded = entry.partition(":")
            keys.setdefault(key_id, _decode_key(key_id, encoded))
        return cls(settings.encryption_key_id, keys)

    def seal(self, plaintext: bytes, *, bound_to: str) -> Sealed:
        """Encrypt with the current key, bound to ``bound_to`` (e.g. ``connection:{id}``)."""
        nonce = os.urandom(12)
        ciphertext = self._keys[self.current_id].encrypt(nonce, plaintext, bound_to.encode())
        return Sealed(ciphertext, nonce, self.current_id)

    def open(self, sealed: Sealed, *, bound_to: str) -> bytes:
        """Decrypt a sealed value; DecryptionFailed when the key or binding is wrong."""
        key = self._keys.get(sealed.key_id)
        if key is None:
            raise DecryptionFailed(f"no key with id {sealed.key_id!r} is configured")
        try:
            return key.decrypt(sealed.nonce, sealed.ciphertext, bound_to.encode())
        except InvalidTag:
            raise DecryptionFailed("ciphertext does not open with this key and binding") from None


def generate_key() -> str:
    """A fresh key, base64-encoded, for LINKPORT_ENCRYPTION_KEY."""
    return base64.b64encode(os.urandom(32)).decode()
