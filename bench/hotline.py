"""Benchmark: the hotline's entry webhook under load, against a bare Flask endpoint in the same run.

    python bench/hotline.py [--requests 3000] [--concurrency 8] [--workers 2] [--postgres | --database-url URL]
                            [--quick]

A real gunicorn server on loopback (the Procfile's server, `--workers` processes) serves the
gateway app with one extra route, `/bare`: a constant TwiML answer with no database, no
signature check, nothing. Client threads POST signed Twilio call webhooks to `/ivr/inbound`
(known callers from 300 demo households, greeting + current announcements + menu, every prompt
rendered) and plain POSTs to `/bare`, in alternating rounds. Reported: throughput, median /
p95 / p99 latency of each, and hotline ÷ bare. The database is a SQLite file unless
`--database-url` names another (e.g. the local PostgreSQL). The first run renders the prompts
with espeak-ng (about a minute); the audio cache folder is kept for the next runs. `--postgres`:
a fresh database on the local PostgreSQL. `--quick`: 900 requests per endpoint in one round.
Ends with `RATIO hotline <throughput ÷ bare>` and `RATIO hotline_p99 <p99 ÷ bare p99>`.
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.common import free_port, percentile, run_on_chosen_database, result  # noqa: E402

TOKEN = "bench-auth-token-0123456789"
BASE = "https://gw.example.vn"
BARE_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>ok</Say></Response>'


def wsgi():
    """The gunicorn entry: the gateway app (configured by the environment) plus `/bare`."""
    from flask import Response

    from gateway import create_app

    app = create_app()
    app.add_url_rule("/bare", "bare", lambda: Response(BARE_TWIML, mimetype="text/xml"), methods=["POST"])
    return app


def prepare(env, households):
    """Migrate, load the demo commune, publish announcements, render prompts and announcements."""
    from datetime import timedelta

    from sqlalchemy import select

    from gateway import create_app
    from gateway.db import get_db, upgrade
    from gateway.demo import load_demo
    from gateway.ivr import prompts
    from gateway.media.assets import request_announcement_audio
    from gateway.models import Announcement, Area, Resident, utcnow
    from gateway.queue import drain

    upgrade(env["DATABASE_URL"])
    app = create_app({**env, "EMBEDDED_WORKER": "0"})
    with app.app_context():
        db = get_db()
        if load_demo(db, households=households) is not None:
            now = utcnow()
            commune = db.scalar(select(Area).where(Area.parent_id.is_(None)))
            db.add(Announcement(title="Lịch tiêm phòng", body="Sáng thứ bảy tiêm phòng dại cho chó mèo tại nhà văn hóa.",
                                areas=[commune], status="sent", send_at=now - timedelta(hours=1),
                                expires_at=now + timedelta(days=30)))
            for code in ("KP1", "KP2", "KP5", "TANLOI"):
                area = db.scalar(select(Area).where(Area.code == code))
                db.add(Announcement(title=f"Họp {area.name}", body=f"Tối nay họp dân {area.name} lúc 19 giờ 30.",
                                    areas=[area], status="sent", send_at=now - timedelta(minutes=30),
                                    expires_at=now + timedelta(days=30)))
            db.commit()
        prompts.render_all(db)
        for ann in db.scalars(select(Announcement)):
            request_announcement_audio(db, ann)
        drain(app, ["audio"])
        return [r.phone for r in db.scalars(select(Resident).where(Resident.area_id.is_not(None)))]


def run_round(url_path, bodies, count, concurrency, port):
    """POST `count` requests over `concurrency` threads; returns (latencies in s, wall seconds, errors)."""
    import requests

    latencies, errors, lock = [], [], threading.Lock()
    per_thread = count // concurrency

    def client(seed):
        session = requests.Session()
        rng = random.Random(seed)
        mine = []
        for _ in range(per_thread):
            data, headers = rng.choice(bodies)
            started = time.perf_counter()
            resp = session.post(f"http://127.0.0.1:{port}{url_path}", data=data, headers=headers)
            mine.append(time.perf_counter() - started)
            if resp.status_code != 200:
                with lock:
                    errors.append(resp.status_code)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - started, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per endpoint (over all rounds)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--households", type=int, default=300)
    parser.add_argument("--database-url", default="", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--audio-dir", default=os.path.join(tempfile.gettempdir(), "loaxom-bench-audio"))
    parser.add_argument("--postgres", action="store_true", help="a fresh database on the local PostgreSQL")
    parser.add_argument("--quick", action="store_true", help="900 requests per endpoint, one round")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds = 900, 1
    return run_on_chosen_database(args, "bench_hotline", run)


def run(args):

    from twilio.request_validator import RequestValidator

    tmp = tempfile.mkdtemp(prefix="loaxom-bench-")
    env = {
        "GATEWAY_ENV": "development", "SECRET_KEY": "bench-secret-0123456789", "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": BASE, "INSTANCE_PATH": tmp, "AUDIO_DIR": args.audio_dir, "REDIS_URL": "",
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/bench.sqlite", "LOG_LEVEL": "WARNING",
    }
    print("preparing (demo data; prompts rendered unless cached in", args.audio_dir, ")…", flush=True)
    phones = prepare(env, args.households)
    validator = RequestValidator(TOKEN)
    bodies = []
    for i, phone in enumerate(phones):
        params = {"AccountSid": "AC" + "a" * 32, "ApiVersion": "2010-04-01", "CallSid": f"CA{i:032x}",
                  "CallStatus": "ringing", "Direction": "inbound", "From": phone, "Caller": phone,
                  "To": "+842633822123", "Called": "+842633822123"}
        bodies.append((params, {"X-Twilio-Signature": validator.compute_signature(BASE + "/ivr/inbound", params)}))
    bare_bodies = [(b[0], {}) for b in bodies]

    port = free_port()
    server_env = {**os.environ, **env, "EMBEDDED_WORKER": "0", "PYTHONPATH": ROOT}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--chdir", os.path.join(ROOT, "bench"), "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--log-level", "warning", "hotline:wsgi()"],
        env=server_env)
    try:
        import requests

        for _ in range(100):
            try:
                requests.post(f"http://127.0.0.1:{port}/bare", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.1)
        run_round("/ivr/inbound", bodies, 200, args.concurrency, port)  # warm-up: connections, caches
        run_round("/bare", bare_bodies, 200, args.concurrency, port)
        results = {"bare": ([], 0.0, []), "hotline": ([], 0.0, [])}
        per_round = args.requests // args.rounds
        for _ in range(args.rounds):
            for name, path, b in (("bare", "/bare", bare_bodies), ("hotline", "/ivr/inbound", bodies)):
                lat, wall, errs = run_round(path, b, per_round, args.concurrency, port)
                total = results[name]
                results[name] = (total[0] + lat, total[1] + wall, total[2] + errs)
        sample = requests.post(f"http://127.0.0.1:{port}/ivr/inbound", data=bodies[0][0], headers=bodies[0][1]).text
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\ngunicorn {args.workers} workers (sync), {args.concurrency} client threads, "
          f"{len(results['bare'][0])} requests per endpoint in {args.rounds} alternating rounds; "
          f"database {'SQLite' if not args.database_url else args.database_url.split(':')[0]}\n")
    print("| endpoint | requests/s | median | p95 | p99 | errors |")
    print("|---|---|---|---|---|---|")
    stats = {}
    for name, (lat, wall, errs) in results.items():
        stats[name] = (len(lat) / wall, statistics.median(lat), percentile(lat, 0.95), percentile(lat, 0.99))
        rps, med, p95, p99 = stats[name]
        print(f"| {name} | {rps:.0f} | {med * 1000:.2f} ms | {p95 * 1000:.2f} ms | {p99 * 1000:.2f} ms | {len(errs)} |")
    b, h = stats["bare"], stats["hotline"]
    print(f"| hotline ÷ bare | {h[0] / b[0]:.2f}× | {h[1] / b[1]:.2f}× | {h[2] / b[2]:.2f}× | {h[3] / b[3]:.2f}× | |")
    plays = sample.count("<Play>")
    print(f"\n/ivr/inbound answered with {plays} <Play> verbs and {sample.count('<Say')} <Say>, "
          f"{len(sample)} bytes of TwiML.\n")
    result("hotline", h[0] / b[0])
    result("hotline_p99", h[3] / b[3])


if __name__ == "__main__":
    main()
