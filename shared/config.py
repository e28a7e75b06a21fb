"""Linkport's configuration: one settings class read from ``LINKPORT_*`` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseSettings):
    """Every tunable of the gateway and the worker, with a production-sane default."""

    model_config = SettingsConfigDict(env_prefix="LINKPORT_", extra="ignore", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/linkport"
    redis_url: str = "redis://127.0.0.1:6379/0"

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Origin used to build links end users open (hosted Link page, Connect URLs).
    base_url: str = "http://127.0.0.1:8080"

    log_level: LogLevel = "INFO"
    log_json: bool = True

    # Token lifetimes in seconds (the seeds: EMR link 30 min, wearables link 10 min,
    # session 24 h, public 30 min).
    link_token_ttl: PositiveInt = 30 * 60
    wearables_link_token_ttl: PositiveInt = 10 * 60
    session_token_ttl: PositiveInt = 24 * 60 * 60
    public_token_ttl: PositiveInt = 30 * 60

    # AES-256-GCM key for third-party credentials: base64 of 32 bytes. The gateway and the
    # worker refuse to start without one (``linkport dev`` makes one in its data folder).
    encryption_key: str | None = Field(default=None, repr=False)
    encryption_key_id: str = Field(default="k1", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    # Older keys still able to decrypt rows during a rotation: "id:base64,id:base64".
    encryption_previous_keys: str = Field(default="", repr=False)

    # The hosted Link flow: how long a browser session and an OAuth round trip may last.
    hosted_session_ttl: PositiveInt = 30 * 60
    oauth_state_ttl: PositiveInt = 10 * 60
    # Timeout of calls to third-party OAuth token endpoints, seconds.
    outbound_timeout: float = Field(default=15.0, gt=0)

    # The built-in sandbox provider's own OAuth client (what Linkport uses by default).
    sandbox_client_id: str = "linkport-sandbox"
    sandbox_client_secret: str = Field(default="sandbox-secret", repr=False)
    sandbox_access_token_ttl: PositiveInt = 60 * 60

    # How long a gateway trusts a cached API-key lookup, a known linked account or
    # client settings; revocations and deletions also evict at once through Redis pub/sub.
    auth_cache_ttl: float = Field(default=30.0, ge=0)
    cache_max_entries: PositiveInt = 100_000

    max_body_bytes: PositiveInt = 1024 * 1024
    page_size_default: PositiveInt = 50
    page_size_max: PositiveInt = 200

    db_pool_min: int = Field(default=2, ge=0)
    db_pool_max: PositiveInt = 20
    # Bounds every single Postgres query (seconds).
    request_timeout: float = Field(default=30.0, gt=0)

    # Executions: retries with exponential backoff and jitter, up to a number of attempts.
    execution_max_attempts: PositiveInt = 5
    retry_base_delay: float = Field(default=2.0, gt=0)
    retry_max_delay: float = Field(default=600.0, gt=0)
    # A running execution's lease: past it, a killed worker's execution is claimable again.
    execution_lease: float = Field(default=60.0, gt=0)
    # How often the sweeper re-enqueues due events and executions that have no live job, and
    # how long a row must have been due before it counts as jobless (a healthy backlog is not
    # re-enqueued over and over: each attempt costs a Redis transaction).
    sweep_interval: PositiveInt = 1
    sweep_grace: float = Field(default=10.0, ge=0)
    # Refresh an OAuth access token this many seconds before it expires.
    refresh_margin: PositiveInt = 60
    # Outbound calls from workflows: networks allowed despite being private/loopback
    # ("127.0.0.0/8,10.1.0.0/16"), largest response read, and the time limit (outbound_timeout).
    outbound_allowed_networks: str = ""
    outbound_max_response_bytes: PositiveInt = 1024 * 1024

    # The arq queue (several installs, or test runs, can share one Redis with different names).
    queue_name: str = Field(default="linkport:queue", min_length=1, max_length=100)

    # arq worker tuning: arq's defaults (poll 0.5 s, 10 jobs) cap a worker near 200 jobs/s.
    worker_poll_delay: float = Field(default=0.02, gt=0)
    worker_max_jobs: PositiveInt = 100
    worker_heartbeat_ttl: PositiveInt = 30

    # Hardening: deadlines, slow bodies, rate limits (issue 9; see docs/reliability.md).
    # Every request is answered within this many seconds once its body has arrived: past it
    # a dependency is taken to hang and the answer is a 503 service_unavailable. Hosted Link
    # pages, which may call a provider, get ``outbound_timeout`` on top.
    request_deadline: float = Field(default=10.0, gt=0)
    # A request body must have arrived in full this many seconds after its headers, else 408
    # and the connection is closed.
    body_read_timeout: float = Field(default=30.0, gt=0)
    # Token buckets shared by all replicas through Redis: requests a second per client
    # (tenant environment) and per linked account named by a request; 0 turns one off. A
    # bucket holds ``rate * rate_limit_burst`` tokens (the burst, in seconds of traffic).
    rate_limit_client: float = Field(default=10_000.0, ge=0)
    rate_limit_account: float = Field(default=100.0, ge=0)
    rate_limit_burst: float = Field(default=2.0, gt=0)
    # Per-client rates: JSON {"<client uuid>": requests a second} (until clients carry their own).
    rate_limit_overrides: dict[str, float] = Field(default_factory=dict)
    # Failed authentications (401) from one source address: this many within the window
    # (seconds) and the address gets 429 for ``auth_failure_block`` seconds.
    auth_failure_limit: int = Field(default=20, ge=0)
    auth_failure_window: float = Field(default=60.0, gt=0)
    auth_failure_block: float = Field(default=300.0, gt=0)
    # Proxies in front of the gateway that append to X-Forwarded-For (0: use the peer address).
    trusted_proxy_hops: int = Field(default=0, ge=0)
