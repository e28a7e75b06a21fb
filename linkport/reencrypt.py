"""``linkport reencrypt``: seal every stored third-party secret anew under the current key.

After a key rotation (deploy/README.md, "Key rotation") rows sealed with an older key still
open as long as that key is listed in ``LINKPORT_ENCRYPTION_PREVIOUS_KEYS``. This walks the
connections' credentials and the clients' own OAuth client secrets, in batches ordered by
key, opens each row sealed with another key and seals it with the current one.

- Online: each batch is one statement that writes a row only if it still holds the
  ciphertext that was read (a token refresh that rewrote it meanwhile already used the
  current key, and wins).
- Idempotent and resumable: rows already under the current key are not touched; running it
  again, or after an interruption, carries on with what is left.
- A row whose key is not configured cannot be opened: it is counted and left as it is (the
  command then exits 1 and names the key ids; add them to the previous keys and run again).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.apps.service import _seal_binding as app_secret_binding
from shared.connections.credentials import connection_binding
from shared.infra.crypto import DecryptionFailed, Keyring, Sealed
from shared.infra.db import Pool, Record
from shared.tenancy import Tenant


@dataclass
class Tally:
    """What happened to one kind of secret."""

    reencrypted: int = 0
    changed_meanwhile: int = 0  # rewritten by someone else between read and write
    unreadable: Counter[str] = field(default_factory=Counter)  # key id -> rows

    def as_dict(self) -> dict[str, Any]:
        """For the command's JSON output."""
        return {
            "reencrypted": self.reencrypted,
            "changed_meanwhile": self.changed_meanwhile,
            "unreadable": dict(self.unreadable),
        }


@dataclass(frozen=True)
class _Table:
    """Where one kind of sealed secret lives."""

    select: str  # $1 current key id, $2 cursor (or NULL), $3 limit; rows: key, ciphertext, nonce, key_id
    update: str  # $1 keys, $2 new ciphertexts, $3 new nonces, $4 current key id, $5 old nonces
    binding: Callable[[Record], str]
    cursor: Callable[[Record], Any]


_CONNECTIONS = _Table(
    select="""SELECT id AS key, credentials AS ciphertext, credentials_nonce AS nonce,
                     credentials_key_id AS key_id
              FROM connections
              WHERE credentials IS NOT NULL AND credentials_key_id <> $1
                AND ($2::uuid IS NULL OR id > $2::uuid)
              ORDER BY id LIMIT $3""",
    update="""UPDATE connections c SET credentials = n.ciphertext, credentials_nonce = n.nonce,
                     credentials_key_id = $4
              FROM unnest($1::uuid[], $2::bytea[], $3::bytea[], $5::bytea[])
                   AS n(id, ciphertext, nonce, old_nonce)
              WHERE c.id = n.id AND c.credentials_nonce = n.old_nonce""",
    binding=lambda row: connection_binding(row["key"]),
    cursor=lambda row: row["key"],
)

_APP_SECRETS = _Table(
    select="""SELECT (client_id, environment, app)::text AS key, client_id, environment, app,
                     oauth_client_secret AS ciphertext, oauth_client_secret_nonce AS nonce,
                     oauth_key_id AS key_id
              FROM app_settings
              WHERE oauth_client_secret IS NOT NULL AND oauth_key_id <> $1
                AND ($2::text IS NULL OR (client_id, environment, app)::text > $2::text)
              ORDER BY (client_id, environment, app)::text LIMIT $3""",
    update="""UPDATE app_settings s SET oauth_client_secret = n.ciphertext,
                     oauth_client_secret_nonce = n.nonce, oauth_key_id = $4
              FROM unnest($1::text[], $2::bytea[], $3::bytea[], $5::bytea[])
                   AS n(key, ciphertext, nonce, old_nonce)
              WHERE (s.client_id, s.environment, s.app)::text = n.key
                AND s.oauth_client_secret_nonce = n.old_nonce""",
    binding=lambda row: app_secret_binding(
        Tenant(uuid.UUID(str(row["client_id"])), row["environment"]), row["app"]
    ),
    cursor=lambda row: row["key"],
)


async def _reencrypt_table(pool: Pool, keyring: Keyring, table: _Table, batch: int) -> Tally:
    tally = Tally()
    cursor: Any = None
    while True:
        rows = await pool.fetch(table.select, keyring.current_id, cursor, batch)
        if not rows:
            return tally
        cursor = table.cursor(rows[-1])
        keys, ciphertexts, nonces, old_nonces = [], [], [], []
        for row in rows:
            binding = table.binding(row)
            try:
                plaintext = keyring.open(
                    Sealed(row["ciphertext"], row["nonce"], row["key_id"]), bound_to=binding
                )
            except DecryptionFailed:
                tally.unreadable[row["key_id"]] += 1
                continue
            sealed = keyring.seal(plaintext, bound_to=binding)
            keys.append(row["key"])
            ciphertexts.append(sealed.ciphertext)
            nonces.append(sealed.nonce)
            old_nonces.append(row["nonce"])
        if keys:
            status = await pool.execute(
                table.update, keys, ciphertexts, nonces, keyring.current_id, old_nonces
            )
            written = int(status.split()[-1])
            tally.reencrypted += written
            tally.changed_meanwhile += len(keys) - written


async def reencrypt(pool: Pool, keyring: Keyring, *, batch: int = 500) -> dict[str, Tally]:
    """Re-encrypt every connection's credentials and every app secret sealed with another key
    than the current one; what happened, by kind."""
    return {
        "connections": await _reencrypt_table(pool, keyring, _CONNECTIONS, batch),
        "app_secrets": await _reencrypt_table(pool, keyring, _APP_SECRETS, batch),
    }


async def remaining(pool: Pool, keyring: Keyring) -> dict[str, dict[str, int]]:
    """Rows still sealed with another key, by kind and key id (what still needs old keys)."""
    connections = await pool.fetch(
        """SELECT credentials_key_id AS key_id, count(*) AS rows FROM connections
           WHERE credentials IS NOT NULL AND credentials_key_id <> $1 GROUP BY 1""",
        keyring.current_id,
    )
    secrets = await pool.fetch(
        """SELECT oauth_key_id AS key_id, count(*) AS rows FROM app_settings
           WHERE oauth_client_secret IS NOT NULL AND oauth_key_id <> $1 GROUP BY 1""",
        keyring.current_id,
    )
    return {
        "connections": {r["key_id"]: r["rows"] for r in connections},
        "app_secrets": {r["key_id"]: r["rows"] for r in secrets},
    }
