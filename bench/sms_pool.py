"""Benchmark: a broadcast through a commune's pool of 4 phones, each with its own limit.

    python bench/sms_pool.py [--households 20000] [--workers 2] [--quick]

Four loopback fakes of the SMS Gateway for Android API (threaded http.server on 127.0.0.1), one
per phone, each a sender of the commune with its own per-minute limit (120, 180, 240 and 300 a
minute by default: 14 SMS a second together; a real SIM's 30-200 an hour would make the run take
days, and the schedule is the same scaled up). The real pipeline sends: an announcement to every
household, `python worker.py` processes on the local Redis and a fresh PostgreSQL database,
start → fan-out chunks → one `send_delivery` per SMS, which picks the sender with the soonest
free slot (gateway.sms.senders) and waits for it. The shared provider rate limit is set high, so
only the senders' own limits pace the broadcast.

The baseline is the sum of the senders' limits: the best a pool can do without breaking any.
Prints the achieved rate over it (the first SMS to the last), each phone's share against its
limit, and the peak RSS of each worker process (with its work horses, `wait4` ru_maxrss); checks
every household got exactly one SMS. `--quick`: 1,500 households (under two minutes of sending).
Ends with `RATIO sms_pool <achieved / limits>` and `RSS_MB sms_pool <peak MiB>`.
"""
import argparse
import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.broadcast import announce, seed  # noqa: E402
from bench.common import Launcher, pg_database, redis_db, result  # noqa: E402

REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379")
LIMITS = (120, 180, 240, 300)  # SMS a minute, one per phone (--limits)
USER, PASSWORD = "sms", "bench123"


def fake_phone():
    """A handler class with its own counts: one phone's POST /message (202 with our id)."""

    class Phone(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        counts, times = {}, []
        lock = threading.Lock()

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with self.lock:
                phone = body["phoneNumbers"][0]
                self.counts[phone] = self.counts.get(phone, 0) + 1
                self.times.append(time.monotonic())
            answer = json.dumps({"id": body.get("id"), "state": "Pending"}).encode()
            self.send_response(202)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self):  # /health
            answer = b'{"status":"pass","checks":{}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    return Phone


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--limits", default=",".join(map(str, LIMITS)),
                        help="the four phones' limits, SMS a minute (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="1,500 households")
    args = parser.parse_args()
    n = 1_500 if args.quick else args.households
    limits = tuple(int(x) for x in args.limits.split(","))
    if len(limits) != 4 or min(limits) < 1:
        parser.error("--limits takes four whole numbers, e.g. 300,450,600,750")
    spawner = Launcher()  # before this process imports the gateway and grows
    with pg_database("bench_sms_pool") as db_url:
        run(args, spawner, db_url, n, limits)


def run(args, spawner, db_url, n, limits):
    import redis
    from sqlalchemy import func, select

    from gateway import create_app
    from gateway.db import get_db, upgrade
    from gateway.models import Delivery, Sender

    phones = []
    for limit in limits:
        handler = fake_phone()
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        phones.append((limit, handler, server, f"http://127.0.0.1:{server.server_address[1]}"))

    redis_url, lock = redis_db(REDIS)
    tmp = tempfile.mkdtemp(prefix="bench-sms-pool-")
    config = {
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "SECRET_KEY": "bench-secret-0123456789",
        "TWILIO_AUTH_TOKEN": "bench", "PUBLIC_BASE_URL": "https://gw.example.vn", "INSTANCE_PATH": tmp,
        "AUDIO_DIR": os.path.join(tmp, "audio"), "SMS_PROVIDER": "outbox", "SMS_ANDROID_SIGNING_KEY": "bench",
        "SMS_RATE_PER_SECOND": "1000000", "BROADCAST_CHUNK_SIZE": str(args.chunk), "LOG_LEVEL": "WARNING",
        "EMBEDDED_WORKER": "0",
    }
    env = {**os.environ, **config}
    procs, app = [], None
    try:
        upgrade(db_url)
        app = create_app(config)
        text = "Thong bao thu: tiem phong dai cho cho meo sang 14/8 tai nha van hoa. Goi 0263 3822 123"
        admin_id, commune_id = seed(app, n, text)
        with app.app_context():
            db = get_db()
            for i, (limit, _, _, url) in enumerate(phones, 1):
                db.add(Sender(commune_id=commune_id, name=f"Phone {i}", provider="android",
                              number=f"+8498100000{i}", per_minute=limit,
                              options={"SMS_ANDROID_URL": url, "SMS_ANDROID_USER": USER,
                                       "SMS_ANDROID_PASSWORD": PASSWORD}))
            db.commit()
        capacity = sum(limits) / 60.0
        print(f"{n} households, {args.workers} workers, chunks of {args.chunk}; 4 phones limited to "
              f"{'/'.join(map(str, limits))} SMS a minute ({capacity:.0f}/s together); load average "
              f"{os.getloadavg()[0]:.1f}")

        announce(app, admin_id, commune_id, text)
        started = time.monotonic()
        log = os.path.join(tmp, "workers.log")
        procs = [spawner.start([sys.executable, "worker.py", "--name", f"pool-{i}-{os.getpid()}"], env=env, log=log)
                 for i in range(args.workers)]
        total = lambda: sum(sum(h.counts.values()) for _, h, _, _ in phones)  # noqa: E731
        last, last_change = -1, time.monotonic()
        while total() < n:
            done = total()
            if done != last:
                last, last_change = done, time.monotonic()
            elif time.monotonic() - last_change > 120:
                sys.exit(f"stalled at {done}/{n}; see {log}")
            time.sleep(0.2)
        wall = time.monotonic() - started
        with app.app_context():
            db = get_db()
            for _ in range(100):  # the last rows are recorded just after the phone answered
                unsent = db.scalar(select(func.count()).select_from(Delivery).where(Delivery.status != "queued"))
                if not unsent:
                    break
                time.sleep(0.1)
                db.rollback()
        load = os.getloadavg()[0]
        rss = [spawner.stop(pid)[1] for pid in procs]
        procs = []

        times = sorted(t for _, h, _, _ in phones for t in h.times)
        span = times[-1] - times[0]
        rate = (len(times) - 1) / span if span > 0 else float("inf")
        counts = {}
        for _, h, _, _ in phones:
            for phone, c in h.counts.items():
                counts[phone] = counts.get(phone, 0) + c
        dupes = sum(1 for c in counts.values() if c != 1)
        missing = n - len(counts)
        print("| phone | limit / min | sent | share | share of the limits | its rate / its limit |")
        print("|---|---|---|---|---|---|")
        for i, (limit, h, _, _) in enumerate(phones, 1):
            sent = sum(h.counts.values())
            own = (len(h.times) - 1) / (h.times[-1] - h.times[0]) if len(h.times) > 1 else 0.0
            print(f"| {i} | {limit} | {sent} | {sent / n:.1%} | {limit / sum(limits):.1%} | "
                  f"{own / (limit / 60):.2f}× |")
        print(f"\nachieved {rate:.1f} SMS/s from the first SMS to the last ({span:.1f} s; {wall:.1f} s from the "
              f"workers' start), limits {capacity:.1f}/s: {rate / capacity:.2f}×")
        print(f"peak RSS per worker: {', '.join(f'{r:.0f} MiB' for r in rss)}; load average at the end {load:.1f}")
        print(f"delivery rows not accepted: {unsent}; numbers sent twice: {dupes}; numbers never sent: {missing}")
        result("sms_pool", rate / capacity, max(rss))
        if unsent or dupes or missing:
            sys.exit(1)
    finally:
        for pid in procs:  # a stalled or interrupted run leaves no worker behind
            spawner.stop(pid)
        spawner.close()
        for _, _, server, _ in phones:
            server.shutdown()
        if app is not None:
            app.extensions["gateway.engine"].dispose()
        redis.Redis.from_url(redis_url).flushdb()
        lock.close()


if __name__ == "__main__":
    main()
