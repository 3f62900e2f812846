"""Which backing services this machine offers the tests."""

from __future__ import annotations

import os

REDIS_URL = os.environ.get("CRMSYNC_TEST_REDIS", "redis://127.0.0.1:6379/9")


def redis_available(url: str = REDIS_URL) -> bool:
    try:
        import redis

        redis.Redis.from_url(url).ping()
        return True
    except Exception:
        return False
