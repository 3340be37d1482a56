"""A send-rate limit shared by every worker: one clock and one schedule in Redis per provider.
Every SMS attempt takes a slot (`gateway.sms.jobs.send_delivery`), first tries and retries alike.

GCRA (the "theoretical arrival time" form of a leaky bucket): each send moves the key's time
forward by 1/rate; a sender whose slot is in the future sleeps until it. Written with
WATCH/MULTI rather than a Lua script so the in-process Redis stand-in (no Lua) runs it too.
A provider's Retry-After pushes the whole schedule back (`pause`).
"""
import logging
import time

from redis.exceptions import WatchError

log = logging.getLogger(__name__)
KEY = "gateway:rate:{}"


class RateLimiter:
    """At most `rate` acquisitions per second across all processes sharing `connection`."""

    def __init__(self, connection, name, rate, *, burst=1, sleep=time.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.connection = connection
        self.key = KEY.format(name)
        self.interval = 1.0 / float(rate)
        # How far ahead of the clock the schedule may run before a sender waits (a small burst).
        self.allowance = self.interval * max(0, burst - 1)
        self.sleep = sleep

    def _now(self, pipe):
        seconds, micros = pipe.time()
        return seconds + micros / 1e6

    def acquire(self):
        """Wait for a send slot; returns the seconds waited."""
        waited = 0.0
        with self.connection.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self.key)
                    now = self._now(pipe)
                    tat = max(float(pipe.get(self.key) or 0), now)
                    wait = tat - now - self.allowance
                    if wait > 0:
                        pipe.unwatch()
                        self.sleep(wait)
                        waited += wait
                        continue
                    pipe.multi()
                    # Expires once it no longer matters, so idle providers leave nothing behind.
                    pipe.set(self.key, repr(tat + self.interval), px=int((tat - now + self.interval) * 1000) + 1000)
                    pipe.execute()
                    return waited
                except WatchError:
                    continue  # another worker took a slot meanwhile; look again

    def pause(self, seconds):
        """Nobody sends for `seconds` (the provider said Retry-After)."""
        with self.connection.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self.key)
                    now = self._now(pipe)
                    tat = max(float(pipe.get(self.key) or 0), now + float(seconds))
                    pipe.multi()
                    pipe.set(self.key, repr(tat), px=int((tat - now) * 1000) + 1000)
                    pipe.execute()
                    log.info("rate limiter paused key=%s seconds=%s", self.key, seconds)
                    return
                except WatchError:
                    continue


def sms_limiter(config, connection=None):
    """The SMS provider's shared send-rate limiter (SMS_RATE_PER_SECOND across all workers)."""
    from gateway import queue

    return RateLimiter(connection or queue.get_connection(), f"sms:{config['SMS_PROVIDER']}",
                       float(config["SMS_RATE_PER_SECOND"]))
