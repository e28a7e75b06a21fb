"""What an outage of PostgreSQL or Redis raises, in one place: the worker rides these out,
the executor hands its claim back on them, the gateway answers them with a 503."""

from __future__ import annotations

from asyncpg.exceptions import (
    ConnectionDoesNotExistError,
    InsufficientResourcesError,
    OperatorInterventionError,
    PostgresConnectionError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What an unreachable Redis raises (redis-py wraps socket errors in its own ConnectionError;
# BusyLoadingError, a restarted Redis still loading, is one; ReadOnlyError: a failed-over
# primary that is now a replica; WatchError: a connection lost while a pipeline WATCHes keys,
# as arq's claims and enqueues do; a true WATCH conflict never leaves arq's code).
REDIS_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    WatchError,
)
# What an unreachable, restarting or overloaded Postgres raises once connected: 08xxx
# connection errors, 57xxx operator intervention (shutdown, cannot connect now), 53xxx
# insufficient resources (too many connections), a connection that died under a query...
POSTGRES_ERRORS: tuple[type[BaseException], ...] = (
    PostgresConnectionError,
    OperatorInterventionError,
    InsufficientResourcesError,
    ConnectionDoesNotExistError,
)
# ...and while connecting (refused, reset, unreachable), or past a deadline of ours.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError)
OUTAGE_ERRORS = REDIS_ERRORS + POSTGRES_ERRORS + NETWORK_ERRORS
# Where only Redis is used (the poll loop, arq's bookkeeping of a job), any of these is Redis's.
REDIS_OUTAGE_ERRORS = REDIS_ERRORS + NETWORK_ERRORS
# Where only Postgres is used (a row written after a step), any of these is its.
POSTGRES_OUTAGE_ERRORS = POSTGRES_ERRORS + NETWORK_ERRORS
