"""Benchmark: the console at province size, each page against the same page for one commune.

    python bench/console_scale.py [--quick] [--communes 100] [--households 3000] [--database-url URL]

Loads the demo province (`load_province`: bulk inserts) into a fresh PostgreSQL database
(created and dropped here; SQLite with `--database-url sqlite:///…`), then times, in the same
run, each main console page as the province official sees it (every commune) and as one
commune's admin sees it (baseline), through the real app (Flask test client: routing, session,
scope, SQL, templates). Also the targeting of a province-wide broadcast (the fan-out's chunk
plan over every household) against one commune's. Medians of `--runs`; ends with
`RATIO <name> <province ÷ commune>` lines. `--quick`: 30 communes of 1,000 households.
"""
import argparse
import os
import re
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import redis_db  # noqa: E402

PAGES = {
    "dashboard": "/console/",
    "residents": "/console/residents",
    "residents_search": "/console/residents?q=Nguy%E1%BB%85n+V%C4%83n+An",
    "residents_phone_search": "/console/residents?q=0912",
    "residents_last_page": "/console/residents?page=999999",
    "reports": "/console/reports",
    "announcements": "/console/announcements",
    "compose": "/console/announcements/new",
}
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def login(app, name, password):
    client = app.test_client()
    token = CSRF.search(client.get("/console/login").get_data(as_text=True)).group(1)
    resp = client.post("/console/login", data={"login": name, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return client


def timed(fn, runs):
    fn()  # warm: templates compiled, caches filled
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 communes of 1,000 households, 5 runs")
    parser.add_argument("--communes", type=int, default=100)
    parser.add_argument("--households", type=int, default=3000, help="per commune")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--database-url", default="", help="default: a new database on the local PostgreSQL")
    args = parser.parse_args()
    if args.quick:
        args.communes, args.households, args.runs = 30, 1000, 5

    from sqlalchemy import create_engine, func, select, text

    from gateway import create_app
    from gateway.db import get_db, upgrade

    admin_url, dbname = None, None
    url = args.database_url
    if not url:
        admin_url = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        dbname = f"bench_console_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{dbname}"'))
        url = admin_url.rsplit("/", 1)[0] + "/" + dbname
    redis_url, lock = redis_db()
    try:
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "REDIS_URL": redis_url, "EMBEDDED_WORKER": "0",
                          "INSTANCE_PATH": f"/tmp/{dbname or 'bench-console'}", "SECRET_KEY": "bench-" + "x" * 20,
                          "TWILIO_AUTH_TOKEN": "bench-token", "LOG_LEVEL": "WARNING"})
        run(app, args, get_db, func, select, url)
    finally:
        lock.close()
        if dbname:
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))


def sent_broadcast(db):
    """A province-wide SMS announcement, sent: one delivery per household (most delivered, some
    failed, a few still queued), bulk inserted as the fan-out does; its id."""
    from sqlalchemy import insert, select

    from gateway.models import Announcement, Area, Delivery, Resident, utcnow

    province = db.scalar(select(Area).where(Area.level == "province"))
    now = utcnow()
    ann = Announcement(title="Khẩn: mưa lũ", body="Di chuyển đến nơi an toàn.", areas=[province], status="sent",
                       channels=["sms"], priority="emergency", send_at=now)
    db.add(ann)
    db.flush()
    statuses = ["delivered"] * 8 + ["failed", "queued"]
    rows = []
    for resident_id, phone, area_id in db.execute(select(Resident.id, Resident.phone, Resident.area_id)):
        status = statuses[resident_id % len(statuses)]
        rows.append({"idempotency_key": f"ann:{ann.id}:sms:{phone}", "announcement_id": ann.id,
                     "resident_id": resident_id, "area_id": area_id, "phone": phone, "channel": "sms",
                     "body": "KHAN", "status": status, "attempts": 1, "created_at": now, "updated_at": now,
                     "error_code": "30003" if status == "failed" else None,
                     "last_error": "Thuê bao không liên lạc được" if status == "failed" else None})
        if len(rows) == 5000:
            db.execute(insert(Delivery), rows)
            rows = []
    if rows:
        db.execute(insert(Delivery), rows)
    db.commit()
    return ann.id


def run(app, args, get_db, func, select, url):
    from gateway.announcements.targeting import chunk_bounds
    from gateway.demo import load_province
    from gateway.models import Announcement, Area, Resident

    with app.app_context():
        db = get_db()
        started = time.perf_counter()
        load_province(db, communes=args.communes, households=args.households)
        load_s = time.perf_counter() - started
        households = db.scalar(select(func.count()).select_from(Resident))
        areas = db.scalar(select(func.count()).select_from(Area))
        started = time.perf_counter()
        broadcast_id = sent_broadcast(db)
        deliveries_s = time.perf_counter() - started
        if db.get_bind().dialect.name == "postgresql":
            with db.get_bind().connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
    load_avg = os.getloadavg()
    print(f"database: {url.split('@')[-1].split('://')[-1]} ({app.extensions['gateway.engine'].dialect.name}); "
          f"{args.communes} communes, {households} households, {areas} areas; loaded in {load_s:.1f} s "
          f"({households / load_s:,.0f} households/s); a province-wide SMS broadcast's {households} deliveries "
          f"inserted in {deliveries_s:.1f} s")
    print(f"load average before timing: {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}; "
          f"{os.cpu_count()} cores; medians of {args.runs} runs\n")
    province = login(app, "tinh", "demo1234")
    commune = login(app, "xa001", "demo1234")
    rows, ratios = [], []
    pages = dict(PAGES, dashboard_broadcast=f"/console/?announcement={broadcast_id}",
                 coverage_page=f"/console/announcements/{broadcast_id}")
    for name, path in pages.items():
        sizes = {}

        def get(client, key):
            resp = client.get(path)
            assert resp.status_code == 200, (path, resp.status_code)
            sizes[key] = len(resp.data)

        p = timed(lambda: get(province, "p"), args.runs)
        c = timed(lambda: get(commune, "c"), args.runs)
        rows.append((name, path, c, p, sizes["c"], sizes["p"]))
        ratios.append((name, p / c))
    with app.app_context():
        db = get_db()
        whole = db.scalar(select(Area).where(Area.level == "province"))
        one = db.scalar(select(Area).where(Area.code == "X001", Area.level == "commune"))

        def plan(area):
            ann = Announcement(title="x", body="y", areas=[area], audiences=["everyone"], channels=["sms"])
            with db.no_autoflush:
                bounds = chunk_bounds(db, ann, 500)
            if ann in db:
                db.expunge(ann)
            return bounds

        chunks = {"p": len(plan(whole)), "c": len(plan(one))}
        p = timed(lambda: plan(whole), args.runs)
        c = timed(lambda: plan(one), args.runs)
    rows.append(("broadcast_targeting", "chunk_bounds(500)", c, p, chunks["c"], chunks["p"]))
    ratios.append(("broadcast_targeting", p / c))
    print("| page | commune admin (baseline) | province official | province ÷ commune | HTML commune / province |")
    print("|---|---|---|---|---|")
    for name, path, c, p, sc, sp in rows:
        unit = "chunks" if name == "broadcast_targeting" else "kB"
        size = f"{sc} / {sp} {unit}" if unit == "chunks" else f"{sc / 1024:.0f} / {sp / 1024:.0f} kB"
        print(f"| {name} `{path}` | {c * 1000:.1f} ms | {p * 1000:.1f} ms | {p / c:.2f}× | {size} |")
    print()
    for name, value in ratios:
        print(f"RATIO {name} {value:.2f}")


if __name__ == "__main__":
    main()
