"""The SMS rate limit shared by workers, on the real Redis."""
import threading
import time

import redis
import responses

from gateway.sms.ratelimit import RateLimiter


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


def _schedule(conn, key):
    """Seconds from now (Redis's clock) to the next free slot of limiter `key`."""
    seconds, micros = conn.time()
    return float(conn.get(f"gateway:rate:{key}") or 0) - (seconds + micros / 1e6)


@responses.activate
def test_retries_take_a_slot_like_first_attempts_and_retry_after_pauses_everyone(app, db):
    from gateway.queue import drain
    from gateway.sms_queue import queue_sms
    from tests.test_sms_outbound import ANDROID, PROVIDERS, TWILIO_URL, twilio_message

    app.config.update(PROVIDERS["twilio"], SMS_RATE_PER_SECOND="0.5")  # a slot every 2 s
    conn = app.extensions["gateway.redis"]
    responses.add(responses.POST, TWILIO_URL, status=503, json={"code": 20500, "message": "down", "status": 503})
    responses.add(responses.POST, TWILIO_URL, status=201, json=twilio_message())
    d = queue_sms(db, phone="+84912345678", body="x", key="retried")
    db.commit()
    key = "gateway:rate:sms:twilio"
    drain(app)  # first attempt: 503
    first = float(conn.get(key))  # when the next slot is free
    drain(app, scheduled=True)  # the retry takes its own slot, after the first attempt's
    db.refresh(d)
    assert d.status == "queued" and len(responses.calls) == 2
    assert float(conn.get(key)) - first >= 2.0 - 1e-6  # the schedule moved on by the retry's slot

    # The Android gateway (it sends Retry-After) asks everyone to slow down.
    app.config.update(PROVIDERS["android"], SMS_RATE_PER_SECOND="1000")
    responses.add(responses.POST, f"{ANDROID}/message", status=429, headers={"Retry-After": "120"},
                  json={"message": "too many requests"})
    slowed = queue_sms(db, phone="+84912345679", body="y", key="slowed")
    db.commit()
    drain(app)
    db.refresh(slowed)
    assert slowed.status == "pending" and slowed.error_code == "429"
    assert _schedule(conn, "sms:android") > 100  # nobody sends for the provider's two minutes
