"""Health and metrics: /healthz for load balancers, /metrics for Prometheus."""
import logging

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import func, select

from gateway import db, queue
from gateway.models import Delivery

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


def _check(fn):
    try:
        return {"ok": True, **(fn() or {})}
    except Exception as exc:  # a health check reports failures instead of raising them
        # The page is public: the kind of failure only, never its message (hosts, users, SQL).
        log.warning("health check failed: %s", exc.__class__.__name__)
        return {"ok": False, "error": exc.__class__.__name__}


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
    return jsonify(status="ok" if ok else "fail", checks=checks), 200 if ok else 503


@bp.get("/metrics")
def metrics():
    """Queue depths and delivery counts in the Prometheus text format."""
    lines = [
        "# HELP gateway_queue_jobs Jobs per RQ queue and state.",
        "# TYPE gateway_queue_jobs gauge",
    ]
    for name, counts in queue.stats().items():
        for state, n in counts.items():
            lines.append(f'gateway_queue_jobs{{queue="{name}",state="{state}"}} {n}')
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
    app.register_blueprint(bp)
