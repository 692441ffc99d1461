"""The shared request queue, with acknowledged pops.

scrapy-redis removes a request from the queue when a worker pops it, so a worker killed with
``kill -9`` would take its in-flight requests with it. Our pop moves the request, atomically
(one Lua script), into the worker's *in-flight* hash; the heartbeat (``heartbeat.py``) drops it
from there once Scrapy has fully handled it, or gives it back if the worker died.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from scrapy_redis.queue import PriorityQueue

from crawler.distributed.keys import Keys
from crawler.distributed.worker_settings import worker_id_of

if TYPE_CHECKING:
    import redis
    from scrapy.http import Request

FP_META = "redis_fp"  # request.meta key: the in-flight id of a request popped from Redis

# Pop the best request and park it in the worker's in-flight hash, atomically.
_POP = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0)
if #r == 0 then return false end
redis.call('ZREM', KEYS[1], r[1])
redis.call('HSET', KEYS[2], string.sub(r[1], 1, 40), r[1])
return r[1]
"""

# Put back a popped request this worker has no room for (keeps its place: same score).
_UNPOP = """
redis.call('HDEL', KEYS[2], string.sub(ARGV[2], 1, 40))
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]), ARGV[2])
return 1
"""


class AckedQueue(PriorityQueue):
    """scrapy-redis' priority queue whose pops are parked in-flight until acknowledged.

    Each entry is ``<40 hex id><pickled request>``; the id (a hash of the pickled request)
    names the in-flight hash field, so the pop script needs no decoding.
    """

    def __init__(self, server: redis.Redis, spider: Any, key: str, serializer: Any = None):
        super().__init__(server, spider, key, serializer)
        self.inflight_key = Keys().inflight(worker_id_of(spider.crawler.settings))
        self._pop = server.register_script(_POP)
        self._unpop = server.register_script(_UNPOP)

    def _encode_request(self, request: Request) -> bytes:
        blob = super()._encode_request(request)
        return hashlib.sha1(blob).hexdigest().encode("ascii") + blob

    def _decode_request(self, encoded_request: bytes) -> Request:
        request = super()._decode_request(encoded_request[40:])
        request.meta[FP_META] = encoded_request[:40].decode("ascii")
        return request

    def pop(self, timeout: int = 0) -> Request | None:
        popped = self.pop_raw()
        return popped[0] if popped else None

    def pop_raw(self) -> tuple[Request, bytes] | None:
        """The best request and its raw entry (what ``unpop`` needs to put it back)."""
        data = self._pop(keys=[self.key, self.inflight_key])
        return (self._decode_request(data), data) if data else None

    def unpop(self, request: Request, data: bytes) -> None:
        self._unpop(keys=[self.key, self.inflight_key], args=[-request.priority, data])
