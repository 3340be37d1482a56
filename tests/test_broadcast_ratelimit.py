"""The SMS rate limit shared by workers, on the real Redis."""
import threading
import time

import redis

from gateway.broadcast.ratelimit import RateLimiter


def test_acquisitions_are_spaced_across_limiters_sharing_a_key(redis_url):
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    times = []

    def worker():
        limiter = RateLimiter(redis.Redis.from_url(redis_url), "sms:test", 50)  # its own connection, like a process
        for _ in range(10):
            limiter.acquire()
            times.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 30 slots at 50 per second: the last is 29 intervals (0.58 s) after the first, whoever took them,
    # and no second holds more than 50 (+1 for the edge).
    times.sort()
    assert len(times) == 30
    assert times[-1] - times[0] >= 0.02 * 29 - 0.03
    assert all(times[i + 26] - times[i] >= 0.02 * 25 for i in range(len(times) - 26))


def test_retry_after_pauses_every_sender(redis_url):
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    a, b = RateLimiter(conn, "sms:x", 1000), RateLimiter(conn, "sms:x", 1000)
    assert a.acquire() == 0
    a.pause(0.3)
    assert b.acquire() >= 0.25


def test_rate_must_be_positive(redis_url):
    import pytest

    with pytest.raises(ValueError):
        RateLimiter(redis.Redis.from_url(redis_url), "x", 0)
