"""Benchmark: the inbound SMS webhook under gunicorn on loopback, against a bare Flask endpoint.

    python bench/sms_inbound.py [--requests 600] [--concurrency 8] [--workers 2] [--rounds 3]
                                [--postgres | --database-url URL] [--quick]

One gunicorn serves the gateway (`create_app()`) plus a bare route returning empty TwiML, so
both are measured on the same server in the same run. Cases, each POSTed as Twilio posts them:
- bare:   `POST /bench/bare`, no signature check, no database: the baseline;
- TIN:    `POST /sms/inbound` "TIN" from subscribed households: signature check, the message
          stored, rate limit counted, the area's digest built, TwiML answered;
- report: `POST /sms/inbound` "PA …" from a new number each time: a report opened and numbered,
          its group post queued as an RQ job (on the local Redis), the receipt answered.
Requests per second and latency percentiles (client side, loopback, a new connection per request
as Twilio makes them); each case's median over `--rounds` rounds, interleaved. `--postgres`: a
fresh database on the local PostgreSQL (default: a fresh SQLite file). `--quick`: 300 requests
per case, one round. Ends with `RATIO sms_tin`, `RATIO sms_report` (throughput ÷ bare) and
`RATIO sms_tin_p99`, `RATIO sms_report_p99` (p99 ÷ bare p99).
"""
import argparse
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlencode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.common import free_port, percentile, run_on_chosen_database, redis_db, result  # noqa: E402

BASE = "https://gw.bench.example"
TOKEN = "bench-auth-token-0123456789"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def wsgi_app():
    """The gateway with a bare route beside it (gunicorn imports this)."""
    from flask import Response

    from gateway import create_app

    app = create_app()

    @app.post("/bench/bare")
    def bare():
        return Response(EMPTY_TWIML, mimetype="text/xml")

    return app


def prepare(database_url, instance):
    """Migrate the database and load the demo town; return the households' phones."""
    from sqlalchemy import select

    from gateway import create_app
    from gateway.db import get_db, upgrade
    from gateway.demo import load_demo
    from gateway.models import Resident

    upgrade(database_url)
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": instance, "EMBEDDED_WORKER": "0",
                      "TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": "bench-secret-0123456789"})
    with app.app_context():
        db = get_db()
        load_demo(db, households=320)
        phones = list(db.scalars(select(Resident.phone).where(Resident.area_id.is_not(None))))
    app.extensions["gateway.engine"].dispose()
    return phones


def signed(path, params):
    from twilio.request_validator import RequestValidator

    body = urlencode(params)
    return body, RequestValidator(TOKEN).compute_signature(BASE + path, params)


def inbound(sender, text, n):
    sid = f"SM{n:032x}"
    return {"ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
            "Body": text, "FromCountry": "VN", "To": "+14155550100", "NumSegments": "1", "MessageSid": sid,
            "AccountSid": "AC" + "a" * 32, "From": sender, "ApiVersion": "2010-04-01", "FromCity": "", "FromZip": ""}


def requests_for(case, count, phones, offset):
    out = []
    for i in range(count):
        n = offset + i
        if case == "bare":
            out.append(("/bench/bare", urlencode(inbound(phones[n % len(phones)], "TIN", n)), None))
        elif case == "TIN":
            out.append(("/sms/inbound", *signed("/sms/inbound", inbound(phones[n % len(phones)], "TIN", n))))
        else:
            sender = f"+8498{n % 10_000_000:07d}"
            out.append(("/sms/inbound", *signed("/sms/inbound", inbound(
                sender, "PA cong thoat nuoc bi tac o hem 12, nuoc tran ra duong", n))))
    return out


def run(port, batch, concurrency):
    """Send `batch` with `concurrency` threads; (wall seconds, latencies, failures)."""
    latencies, failures, lock = [], [], threading.Lock()
    work = iter(batch)

    def client():
        while True:
            with lock:
                item = next(work, None)
            if item is None:
                return
            path, body, signature = item
            expected = b"<Message>" if signature else b"<Response"  # every SMS case gets a reply
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if signature:
                headers["X-Twilio-Signature"] = signature
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if resp.status != 200 or expected not in data:
                    failures.append(resp.status)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per case and round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--postgres", action="store_true", help="a fresh database on the local PostgreSQL")
    parser.add_argument("--quick", action="store_true", help="300 requests per case, one round")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds = 300, 1
    return run_on_chosen_database(args, "bench_sms", run_cases)


def run_cases(args):

    tmp = tempfile.mkdtemp(prefix="bench-sms-")
    database_url = args.database_url or f"sqlite:///{tmp}/gateway.sqlite"
    redis_url, _lock = redis_db()
    phones = prepare(database_url, tmp)
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, INSTANCE_PATH=tmp,
               PUBLIC_BASE_URL=BASE, TWILIO_AUTH_TOKEN=TOKEN, SECRET_KEY="bench-secret-0123456789",
               SMS_RATE_LIMIT="1000000/hour", LOG_LEVEL="WARNING", GATEWAY_ENV="development")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
         "--log-level", "warning", "bench.sms_inbound:wsgi_app()"], cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        warm = requests_for("bare", 50, phones, 0) + requests_for("TIN", 50, phones, 0)
        run(port, warm, args.concurrency)
        results = {case: [] for case in ("bare", "TIN", "report")}
        for r in range(args.rounds):
            for c, case in enumerate(results):
                # Distinct MessageSids everywhere: a repeated one is a redelivery, answered empty.
                batch = requests_for(case, args.requests, phones, 1_000_000 * (c + 1) + 10_000 * r)
                wall, latencies, failures = run(port, batch, args.concurrency)
                if failures:
                    raise SystemExit(f"{case}: {len(failures)} failed requests, e.g. HTTP {failures[0]}")
                results[case].append((len(latencies) / wall, percentile(latencies, 0.50), percentile(latencies, 0.99)))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        shutil.rmtree(tmp, ignore_errors=True)

    backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(f"gunicorn {args.workers} sync workers on loopback, {backend}, Redis; {args.requests} requests per case, "
          f"{args.concurrency} concurrent clients, median of {args.rounds} rounds\n")
    base_rps = statistics.median(x[0] for x in results["bare"])
    base_p99 = statistics.median(x[2] for x in results["bare"])
    ratios = {}
    print("| case | requests/s | p50 | p99 | throughput ÷ bare | p99 ÷ bare |")
    print("|---|---|---|---|---|---|")
    for case, rows in results.items():
        rps = statistics.median(x[0] for x in rows)
        p50 = statistics.median(x[1] for x in rows)
        p99 = statistics.median(x[2] for x in rows)
        print(f"| {case} | {rps:.0f} | {p50 * 1000:.1f} ms | {p99 * 1000:.1f} ms | {rps / base_rps:.2f}× "
              f"| {p99 / base_p99:.1f}× |")
        ratios[case] = (rps / base_rps, p99 / base_p99)
    print()
    for case, name in (("TIN", "sms_tin"), ("report", "sms_report")):
        result(name, ratios[case][0])
        result(f"{name}_p99", ratios[case][1])


if __name__ == "__main__":
    main()
