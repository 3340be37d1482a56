"""Health and metrics: /healthz for load balancers, /metrics for Prometheus."""
import logging

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import func, select

from gateway import db, queue
from gateway.models import Announcement, AudioAsset, BroadcastChunk, Bulletin, Delivery, GroupPost, utcnow

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


def _check(fn):
    try:
        return {"ok": True, **(fn() or {})}
    except Exception as exc:  # a health check reports failures instead of raising them
        # The page is public: the kind of failure only, never its message (hosts, users, SQL).
        log.warning("health check failed: %s", exc.__class__.__name__)
        return {"ok": False, "error": exc.__class__.__name__}


def unfinished():
    """Per kind of work, the unfinished items now due and the age of the oldest (seconds since it
    was due): {"sms": (count, oldest), …}. Stuck work shows here before residents notice."""
    now = utcnow()
    due = lambda model: func.coalesce(model.next_attempt_at, model.created_at)  # noqa: E731
    kinds = {
        "sms": (Delivery, due(Delivery), (Delivery.channel == "sms", Delivery.status.in_(("pending", "sending")))),
        "calls": (Delivery, due(Delivery), (Delivery.channel == "voice", Delivery.status.in_(("pending", "sending")))),
        "group_posts": (GroupPost, due(GroupPost), (GroupPost.status.in_(("pending", "posting")),)),
        "announcements": (Announcement, func.coalesce(Announcement.send_at, Announcement.created_at),
                          (Announcement.status.in_(("scheduled", "sending")),)),
        "broadcast_chunks": (BroadcastChunk, BroadcastChunk.created_at, (BroadcastChunk.status == "pending",)),
        "audio_assets": (AudioAsset, AudioAsset.created_at, (AudioAsset.status == "pending",)),
        "bulletins": (Bulletin, Bulletin.updated_at, (Bulletin.status == "pending",)),
    }
    out = {}
    session = db.get_db()
    for kind, (model, since, where) in kinds.items():
        n, oldest = session.execute(select(func.count(), func.min(since)).select_from(model)
                                    .where(*where, since <= now)).one()
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=now.tzinfo)  # func.min() comes back without the column's type
        out[kind] = (n, round((now - oldest).total_seconds()) if oldest is not None else 0)
    return out


@bp.get("/")
def index():
    """A plain page saying what runs here, for whoever opens the gateway's address."""
    return (
        "<!doctype html><html lang=vi><meta charset=utf-8><title>Loa Xóm</title>"
        "<h1>Loa Xóm: cổng SMS và thoại</h1>"
        "<p>Cổng đang chạy. <a href='/console/'>Trang quản lý cho cán bộ</a> (Officials' console) · "
        "<a href='/console/simulator'>Điện thoại thử</a> (phone simulator) · "
        "<a href='/healthz'>Tình trạng</a> · <a href='/metrics'>Số liệu</a></p>"
    )


@bp.get("/healthz")
def healthz():
    """Database and queue health; 503 when either is down."""
    embedded = "gateway.embedded_worker" in current_app.extensions or not current_app.config.get("REDIS_URL")
    checks = {
        "database": _check(lambda: db.ping() and None),
        "queue": _check(lambda: {"embedded": embedded, "queues": queue.stats()}
                        if queue.get_connection().ping() else None),
    }
    ok = all(c["ok"] for c in checks.values())
    work = {}
    if checks["database"]["ok"]:
        work = {kind: {"unfinished": n, "oldest_seconds": age} for kind, (n, age) in unfinished().items()}
    return jsonify(status="ok" if ok else "fail", checks=checks, work=work), 200 if ok else 503


@bp.get("/metrics")
def metrics():
    """Queue depths and delivery counts in the Prometheus text format."""
    lines = [
        "# HELP gateway_queue_jobs Jobs per RQ queue and state.",
        "# TYPE gateway_queue_jobs gauge",
    ]
    try:
        for name, counts in queue.stats().items():
            for state, n in counts.items():
                lines.append(f'gateway_queue_jobs{{queue="{name}",state="{state}"}} {n}')
        lines.append("gateway_queue_up 1")
    except queue.REDIS_DOWN:
        lines.append("gateway_queue_up 0")  # the rest still tells what is waiting
    work = unfinished()
    lines += ["# HELP gateway_unfinished Unfinished items now due, per kind of work.",
              "# TYPE gateway_unfinished gauge"]
    lines += [f'gateway_unfinished{{kind="{kind}"}} {n}' for kind, (n, _) in work.items()]
    lines += ["# HELP gateway_oldest_unfinished_seconds Age of the oldest unfinished item per kind (since due).",
              "# TYPE gateway_oldest_unfinished_seconds gauge"]
    lines += [f'gateway_oldest_unfinished_seconds{{kind="{kind}"}} {age}' for kind, (_, age) in work.items()]
    lines += [
        "# HELP gateway_deliveries Deliveries per channel and status.",
        "# TYPE gateway_deliveries gauge",
    ]
    rows = db.get_db().execute(
        select(Delivery.channel, Delivery.status, func.count()).group_by(Delivery.channel, Delivery.status)
    )
    for channel, status, n in rows:
        lines.append(f'gateway_deliveries{{channel="{channel}",status="{status}"}} {n}')
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")


def init_app(app):
    from gateway import reconcile

    app.register_blueprint(bp)
    reconcile.init_app(app)  # the `work` commands
