"""Benchmark: a broadcast to N households through an HTTP SMS provider, against a bare HTTP loop.

    python bench/broadcast.py [--households 100000] [--workers 2] [--chunk 500] [--quick]

A local fake of the SMS Gateway for Android API (a threaded http.server on 127.0.0.1) takes
every message. Measured in the same run, against the same server:
- baseline: bare HTTP loops (`requests.Session` posting the same JSON bodies the `android`
  provider sends), one process per worker, the households split between them;
- broadcast: the real pipeline. An announcement to all N households (residents bulk-inserted
  into a fresh PostgreSQL database) is created as the API does; `python worker.py` processes
  on the local Redis run start → fan-out chunks (bulk insert) → one `send_delivery` per SMS
  (claim, send, record) within the shared rate limit (set high here, so it does not cap).
Prints messages per second and the peak RSS of the worker processes (with their work horses,
`wait4` ru_maxrss) beside the bare loops', as ratios; checks every household got exactly one.
Ends with `RATIO broadcast <pipeline ÷ bare loops>` and `RSS_MB broadcast <a worker's peak MiB>`.
"""
import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.common import Launcher, pg_database, redis_db, result  # noqa: E402

REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379")
USER, PASSWORD = "sms", "bench123"


class FakePhone(BaseHTTPRequestHandler):
    """POST /message as the Android app answers it: 202 with the message id; counts per number."""

    protocol_version = "HTTP/1.1"  # keep-alive, as a real provider's API
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stalls
    counts = {}
    lock = threading.Lock()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        phone = body["phoneNumbers"][0]
        with self.lock:
            self.counts[phone] = self.counts.get(phone, 0) + 1
        answer = json.dumps({"id": body.get("id") or uuid.uuid4().hex, "state": "Pending"}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def bare_loop(url, first, count, text):
    """The baseline: post `count` messages with one requests.Session, as fast as the server takes them."""
    import requests

    session = requests.Session()
    started = time.perf_counter()
    for i in range(first, first + count):
        payload = {"textMessage": {"text": text}, "phoneNumbers": [phone_of(i)], "withDeliveryReport": True,
                   "id": f"lx-{i}-0123456789"}
        r = session.post(url + "/message", json=payload, auth=(USER, PASSWORD), timeout=(5, 15))
        r.raise_for_status()
    print(json.dumps({"seconds": time.perf_counter() - started}))


def phone_of(i):
    return f"+849{i:08d}"


def seed(app, households, text):
    """A commune of 10 neighbourhoods, `households` residents (bulk insert), an admin; returns the announcement."""
    from sqlalchemy import insert

    from gateway.db import get_db
    from gateway.models import Area, Official, Resident

    with app.app_context():
        db = get_db()
        commune = Area(level="commune", kind="xa", name="Xã Thử", code="THU", hotline_number="+842633822123",
                       settings={"quiet_hours": "00:00-00:00"})  # never quiet: measure sending, not waiting
        hoods = [Area(level="neighbourhood", kind="thon", name=f"Thôn {i}", code=f"T{i}", parent=commune)
                 for i in range(1, 11)]
        admin = Official(login="admin", role="admin", name="Bench", areas=[commune])
        db.add_all([commune, *hoods, admin])
        db.commit()
        ids = [h.id for h in hoods]
        for start in range(0, households, 10000):
            db.execute(insert(Resident), [
                {"phone": phone_of(i), "name": f"Hộ {i}", "area_id": ids[i % 10], "prefers_sms": True,
                 "prefers_voice": False, "is_elderly": False, "is_poor": False, "no_smartphone": False,
                 "consent_source": "bench", "notes": ""}
                for i in range(start, min(start + 10000, households))])
        db.commit()
        return admin.id, commune.id


def announce(app, admin_id, commune_id, text):
    """The announcement to every household, created as the API does; its start job is queued on commit."""
    from gateway.broadcast import service
    from gateway.db import get_db
    from gateway.models import Area, Official

    with app.app_context():
        db = get_db()
        service.create(db, official=db.get(Official, admin_id), title="Thông báo thử", body=text,
                       areas=[db.get(Area, commune_id)], channels=["sms"])
        db.commit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="5,000 households (well under 3 minutes)")
    parser.add_argument("--bare", nargs=3, metavar=("URL", "FIRST", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    text = "Thong bao thu: tiem phong dai cho cho meo sang 14/8 tai nha van hoa. Goi 0263 3822 123"
    if args.bare:
        return bare_loop(args.bare[0], int(args.bare[1]), int(args.bare[2]), text)
    spawner = Launcher()  # before this process imports the gateway and grows
    with pg_database("bench_broadcast") as db_url:
        run(args, spawner, db_url, text)


def run(args, spawner, db_url, text):
    import redis
    from sqlalchemy import func, select

    from gateway import create_app
    from gateway.db import get_db, upgrade
    from gateway.models import Delivery

    n, workers = (5_000 if args.quick else args.households), args.workers
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePhone)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    redis_url, lock = redis_db(REDIS)
    tmp = tempfile.mkdtemp(prefix="bench-broadcast-")
    config = {
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "SECRET_KEY": "bench-secret-0123456789",
        "TWILIO_AUTH_TOKEN": "bench", "PUBLIC_BASE_URL": "https://gw.example.vn", "INSTANCE_PATH": tmp,
        "AUDIO_DIR": os.path.join(tmp, "audio"), "SMS_PROVIDER": "android", "SMS_ANDROID_URL": url,
        "SMS_ANDROID_USER": USER, "SMS_ANDROID_PASSWORD": PASSWORD, "SMS_ANDROID_SIGNING_KEY": "bench",
        "SMS_RATE_PER_SECOND": "1000000", "BROADCAST_CHUNK_SIZE": str(args.chunk), "LOG_LEVEL": "WARNING",
        "EMBEDDED_WORKER": "0",
    }
    env = {**os.environ, **config}
    procs, app = [], None
    try:
        upgrade(db_url)
        app = create_app(config)
        print(f"{n} households, {workers} workers, chunks of {args.chunk}; fake provider {url}; "
              f"PostgreSQL {db_url.rsplit('/', 1)[1]}; Redis {redis_url}; load average {os.getloadavg()[0]:.1f}")
        started = time.perf_counter()
        admin_id, commune_id = seed(app, n, text)
        print(f"seeded in {time.perf_counter() - started:.1f} s\n")

        # Baseline: bare HTTP loops, one per worker, the same bodies to the same server.
        share = [n // workers + (1 if i < n % workers else 0) for i in range(workers)]
        firsts = [sum(share[:i]) for i in range(workers)]
        started = time.perf_counter()
        procs = [spawner.start([sys.executable, os.path.abspath(__file__), "--bare", url, str(f), str(c)])
                 for f, c in zip(firsts, share)]
        reaped = [spawner.reap(pid) for pid in procs]
        procs = []
        bare_s = time.perf_counter() - started
        bare_rss = max(r[1] for r in reaped)
        if any(r[0] for r in reaped) or sum(FakePhone.counts.values()) != n:
            sys.exit("the bare loops failed or lost messages")
        FakePhone.counts.clear()

        # The broadcast: real workers on the local Redis and PostgreSQL.
        announce(app, admin_id, commune_id, text)
        started = time.perf_counter()
        log = os.path.join(tmp, "workers.log")
        procs = [spawner.start([sys.executable, "worker.py", "--name", f"bench-{i}-{os.getpid()}"], env=env, log=log)
                 for i in range(workers)]
        last, last_change = -1, time.monotonic()
        while True:
            done = sum(FakePhone.counts.values())
            if done >= n:
                break
            if done != last:
                last, last_change = done, time.monotonic()
            elif time.monotonic() - last_change > 120:
                sys.exit(f"stalled at {done}/{n}; see {log}")
            time.sleep(0.2)
        pipeline_s = time.perf_counter() - started
        with app.app_context():
            db = get_db()
            for _ in range(100):  # the last rows are recorded just after the server answered
                unsent = db.scalar(select(func.count()).select_from(Delivery).where(Delivery.status != "queued"))
                if not unsent:
                    break
                time.sleep(0.1)
                db.rollback()
        worker_rss = max(spawner.stop(pid)[1] for pid in procs)  # warm shutdown: finish the job, exit
        procs = []
        dupes = sum(1 for c in FakePhone.counts.values() if c != 1)
        missing = n - len(FakePhone.counts)

        bare_rate, rate = n / bare_s, n / pipeline_s
        print("| | bare HTTP loops | broadcast pipeline | ratio |")
        print("|---|---|---|---|")
        print(f"| wall time | {bare_s:.1f} s | {pipeline_s:.1f} s | {pipeline_s / bare_s:.2f}× |")
        print(f"| messages per second | {bare_rate:,.0f} | {rate:,.0f} | {rate / bare_rate:.2f}× |")
        print(f"| peak RSS per process | {bare_rss:.0f} MiB | {worker_rss:.0f} MiB | {worker_rss / bare_rss:.2f}× |")
        print(f"\ndelivery rows not accepted: {unsent}; numbers sent twice: {dupes}; numbers never sent: {missing}")
        result("broadcast", rate / bare_rate, worker_rss)
        if unsent or dupes or missing:
            sys.exit(1)
    finally:
        for pid in procs:  # a stalled or interrupted run leaves no worker behind
            spawner.signal(pid, signal.SIGKILL)
            spawner.reap(pid)
        spawner.close()
        server.shutdown()
        if app is not None:
            app.extensions["gateway.engine"].dispose()
        redis.Redis.from_url(redis_url).flushdb()
        lock.close()


if __name__ == "__main__":
    main()
