"""Reaching Redis, naming a worker, and what a worker does when Redis goes away.

Redis going away is not a failed page: the process stops at once (like a crash the crawl is
built to survive) and every URL it had not finished stays queued in the corpus frontier, so
the same command completes the crawl once Redis is back.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import redis

from corpus.errors import EXIT_UNEXPECTED, AestheticsError, BadInputError
from crawler.middlewares import SkipRequest

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class RedisUnavailableError(AestheticsError):
    """Redis could not be reached, or went away mid-crawl. Nothing stored is lost: the corpus
    keeps every page written so far and the frontier, so the same command completes the crawl
    once Redis is back."""

    exit_code = EXIT_UNEXPECTED


def worker_id() -> str:
    """``host-pid``: unique among live workers, and says where to look for a stuck one."""
    return f"{socket.gethostname()}-{os.getpid()}"


def redacted(url: str) -> str:
    """The Redis URL without its password, for messages and the run record."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (
            f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def connect(url: str, *, timeout: float = 5.0) -> redis.Redis:
    """A client for ``url`` that has answered PING; bad URLs and dead servers get clear errors."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout,
                                      socket_connect_timeout=timeout)
    except ValueError as exc:
        raise BadInputError(f"bad --redis URL {redacted(url)!r}: {exc} "
                            "(expected redis://HOST:PORT/DB)") from exc
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RedisUnavailableError(
            f"cannot reach Redis at {redacted(url)}: {exc}; start it (Debian package "
            "redis-server) or fix --redis") from exc
    return client


def went_away(redis_url: str, exc: BaseException, fetched: int) -> RedisUnavailableError:
    """The error a worker ends with when Redis failed under it: what is kept, what to run."""
    return RedisUnavailableError(
        f"Redis at {redacted(redis_url)} went away ({exc}); this worker stopped after "
        f"{fetched} pages. Pages stored so far are kept and the rest is still queued in the "
        "corpus frontier: once Redis is back, run `aesthetics crawl --redis ...` again to "
        "finish the crawl")


def redis_error(crawler: Crawler) -> BaseException | None:
    """The Redis failure that is stopping this process (set by ``fail_hard``), if any."""
    return getattr(crawler, "redis_error", None)


def fail_hard(crawler: Crawler, exc: BaseException) -> None:
    """Redis is gone: stop this process now, like a crash the crawl is built to survive.

    A graceful close would let the requests in flight fail and be recorded as failed pages;
    stopping the reactor instead leaves them queued in the corpus frontier, so the same
    command, once Redis is back, fetches them.
    """
    from twisted.internet import reactor  # imported late: Scrapy installs the reactor first

    if redis_error(crawler) is None:
        crawler.redis_error = exc
        if reactor.running:
            reactor.callLater(0, reactor.stop)


def requeue_later() -> Exception:
    """The crawl's own "not now" for a request: its URL stays queued in the corpus frontier
    (state ``queued``), so the next run fetches it."""
    return SkipRequest("Redis unavailable", state="queued")
