"""The cache that holds django-ratelimit's counters (settings.RATELIMIT_USE_CACHE).

Django's RedisCache raises when Redis is unreachable, and django-ratelimit lets that
exception through: every rate-limited page would become a 500 and every chat message an
internal error. Here an unreachable Redis reads as "no count" instead, which is the one
case django-ratelimit hands to RATELIMIT_FAIL_OPEN, so that setting decides what happens.
"""

import logging
import time

from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError, TimeoutError

logger = logging.getLogger(__name__)

OUTAGE = (ConnectionError, TimeoutError)
# One warning per this many seconds: every message during an outage would otherwise log.
WARN_EVERY_SECONDS = 10.0


class RateLimitCache(RedisCache):
    _warned_at = float("-inf")

    def add(self, key, value, timeout=None, version=None):
        try:
            return super().add(key, value, timeout, version)
        except OUTAGE as exc:
            self._outage(exc)
            return False

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except OUTAGE as exc:
            self._outage(exc)
            return None

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except OUTAGE as exc:
            self._outage(exc)
            return None

    def _outage(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            outcome = "let through" if settings.RATELIMIT_FAIL_OPEN else "refused"
            logger.warning("Rate-limit cache unreachable, requests are %s: %s", outcome, exc)
