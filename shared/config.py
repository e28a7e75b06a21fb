"""Linkport's configuration: one settings class read from ``LINKPORT_*`` environment variables."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PositiveInt
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(value: Any) -> Any:
    """CIDRs from a comma-separated string (host bits allowed: ``10.1.2.3/16``)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return tuple(
            v if isinstance(v, Network) else ipaddress.ip_network(v, strict=False) for v in value
        )
    return value


# Parsed once, when settings are read; a malformed CIDR stops the process at start.
Networks = Annotated[tuple[Network, ...], NoDecode, BeforeValidator(_networks)]


def _delays(value: Any) -> Any:
    """Seconds from a comma-separated string (``0,5,300``) or a JSON list (``[0, 5, 300]``)."""
    if isinstance(value, str):
        return [part.strip() for part in value.strip().strip("[]").split(",") if part.strip()]
    return value


def _starts_at_once(value: tuple[float, ...]) -> tuple[float, ...]:
    if value[0] != 0:
        raise ValueError("the first attempt is made at once: the schedule starts with 0")
    return value


# A retry schedule: seconds before each attempt, the first 0 (at once), each >= 0.
Delays = Annotated[
    tuple[Annotated[float, Field(ge=0)], ...],
    NoDecode,
    BeforeValidator(_delays),
    Field(min_length=1),
    AfterValidator(_starts_at_once),
]


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
    # The proxy (``/v1/proxy/…``): the largest request body it forwards (read in full, so a
    # call the app refused with 401 can be sent again after a token refresh).
    proxy_max_body_bytes: PositiveInt = 10 * 1024 * 1024
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
    # The workers' refresh cron: every ``refresh_scan_interval`` seconds it refreshes up to
    # ``refresh_batch_size`` usable connections whose token expires within ``refresh_ahead``
    # seconds; one it could not refresh is tried again ``refresh_retry_interval`` seconds on.
    # ``refresh_error_after`` refreshes failing in a row (network, 5xx) mark it ``error``.
    refresh_scan_interval: PositiveInt = 60
    refresh_ahead: PositiveInt = 600
    refresh_batch_size: PositiveInt = 100
    refresh_retry_interval: PositiveInt = 120
    refresh_error_after: PositiveInt = 3
    # Revoking a deleted connection's token at its provider (RFC 7009): the time limit of
    # one attempt, and attempts before giving up (spaced like execution retries).
    revocation_timeout: float = Field(default=5.0, gt=0)
    revocation_max_attempts: PositiveInt = 8
    # Outbound calls from workflows: networks allowed despite being private/loopback
    # ("127.0.0.0/8,10.1.0.0/16"), largest response read, and the time limit (outbound_timeout).
    outbound_allowed_networks: Networks = ()
    outbound_max_response_bytes: PositiveInt = 1024 * 1024

    # A folder of catalog overrides: each ``<slug>.toml`` replaces the shipped app of that
    # slug (or adds an app), e.g. to point one at a regional or sandbox host. "": none.
    catalog_overrides: str = ""
    # A TOML file of the operator's own OAuth clients, one table per app slug (client_id,
    # client_secret, optional scopes): used for tenants that set none of their own
    # (shared/apps/defaults.py). "": none.
    oauth_defaults_file: str = ""

    # The arq queue (several installs, or test runs, can share one Redis with different names).
    queue_name: str = Field(default="linkport:queue", min_length=1, max_length=100)

    # arq worker tuning: arq's defaults (poll 0.5 s, 10 jobs) cap a worker near 200 jobs/s.
    worker_poll_delay: float = Field(default=0.02, gt=0)
    worker_max_jobs: PositiveInt = 100
    worker_heartbeat_ttl: PositiveInt = 30

    # Worker resilience: while Redis or Postgres does not answer, a worker stays up, backs off
    # (from worker_backoff_initial seconds, doubling, to worker_backoff_max), takes no jobs it
    # could not run, and lets its heartbeat go stale. Every worker_heartbeat_interval seconds
    # it asks both (each within worker_dependency_timeout); when both answer it refreshes its
    # Redis heartbeat and touches worker_heartbeat_file, which `linkport worker-health` (a
    # Kubernetes exec probe) reads: older than worker_heartbeat_ttl is unhealthy. "" = no file.
    worker_backoff_initial: float = Field(default=0.1, gt=0)
    worker_backoff_max: float = Field(default=5.0, gt=0)
    worker_heartbeat_interval: float = Field(default=5.0, gt=0)
    worker_dependency_timeout: float = Field(default=2.0, gt=0)
    worker_heartbeat_file: str = "/tmp/linkport-worker.heartbeat"  # noqa: S108 - one worker per container

    # Webhooks: seconds before each attempt (the first immediate; a delivery fails after the
    # last), each delay varied by ±jitter (a fraction); how long a rotated secret still signs
    # beside the new one; the time a receiver has to answer 2xx; deliveries in flight per
    # endpoint (a slow endpoint cannot take every worker slot); and the days of unbroken
    # failure after which an endpoint is disabled.
    webhook_retry_schedule: Delays = (
        0,
        5,
        5 * 60,
        30 * 60,
        2 * 3600,
        5 * 3600,
        10 * 3600,
        10 * 3600,
    )
    webhook_retry_jitter: float = Field(default=0.2, ge=0, lt=1)
    webhook_secret_overlap: PositiveInt = 24 * 60 * 60
    webhook_timeout: float = Field(default=15.0, gt=0)
    webhook_endpoint_concurrency: PositiveInt = 8
    webhook_disable_after_days: float = Field(default=5.0, gt=0)
    # Messages (the event log) and their deliveries are kept this long once settled.
    webhook_retention_days: float = Field(default=30.0, gt=0)

    # Production: managed services, observability, shutdown (issue 13; deploy/README.md).
    # PostgreSQL over TLS: "disable", "require" (encrypted, unverified), "verify-ca" (the
    # server's certificate chains to database_ssl_root_cert, else the system CAs), or
    # "verify-full" (and names the URL's host). None: whatever the URL's sslmode says.
    database_ssl_mode: Literal["disable", "require", "verify-ca", "verify-full"] | None = None
    database_ssl_root_cert: str | None = None
    # asyncpg's prepared-statement cache; 0 behind PgBouncer in transaction pooling mode.
    database_statement_cache_size: int = Field(default=100, ge=0)
    # What `linkport migrate` connects to when database_url goes through PgBouncer in
    # transaction mode (migrations hold a session-level advisory lock). None: database_url.
    migration_database_url: str | None = Field(default=None, repr=False)
    # Redis over TLS (a rediss:// URL): the CA bundle that signs the server's certificate
    # (None: the system's CAs).
    redis_ssl_ca_certs: str | None = None
    # Redis Sentinel: "host:port,host:port". The master named redis_sentinel_master is found
    # through them; redis_url then gives only the scheme (rediss: TLS), password and db.
    redis_sentinels: str = ""
    redis_sentinel_master: str = Field(default="mymaster", min_length=1)
    # Seconds a worker told to stop (SIGTERM) lets its running jobs finish before cancelling
    # the rest (each cancelled execution is handed back and resumes on another worker).
    worker_job_completion_wait: float = Field(default=0.0, ge=0)
    # Prometheus metrics: the gateway serves them at /metrics on its own port; a worker on
    # worker_metrics_port (0: none; its metrics then only reach Prometheus through a shared
    # PROMETHEUS_MULTIPROC_DIR). With a token, /metrics asks for "Authorization: Bearer <token>".
    metrics_enabled: bool = True
    metrics_token: str | None = Field(default=None, repr=False)
    worker_metrics_host: str = "0.0.0.0"  # noqa: S104 - a pod's own address
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    # OpenTelemetry traces (needs the [tracing] extra): "otlp" exports them over OTLP/HTTP to
    # OTEL_EXPORTER_OTLP_ENDPOINT (the standard OTEL_* variables apply); "none": no tracing.
    tracing: Literal["none", "otlp"] = "none"
    tracing_service_name: str = "linkport"

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
