"""Session tokens as Linkport keeps them: the grant stored in Redis under the token's hash."""

from __future__ import annotations

from shared.grants.models import Grant


class SessionGrant(Grant):
    """A session token: a frontend's access to one linked account."""
