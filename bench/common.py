"""What the benchmarks share: a free port, a Redis database no test run holds, percentiles."""
import fcntl
import socket


def free_port():
    """A TCP port on loopback nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_db(base="redis://127.0.0.1:6379"):
    """(url, lock) of a flushed Redis database 1-15 no test run holds (the tests' lock files);
    keep the lock open while the benchmark runs."""
    import redis

    for n in range(15, 0, -1):
        lock = open(f"/tmp/gateway-tests-redis-6379-{n}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        url = f"{base}/{n}"
        redis.Redis.from_url(url).flushdb()
        return url, lock
    raise SystemExit("every Redis database 1-15 is held by a test run")


def percentile(values, fraction):
    """The value below which `fraction` (0-1) of `values` lie (nearest rank)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(fraction * (len(values) - 1))))]
