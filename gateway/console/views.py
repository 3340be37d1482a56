"""Log-in, language, the dashboard and the loudspeaker downloads page."""
import datetime as dt
import logging
from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from redis.exceptions import RedisError
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from gateway import queue
from gateway.announcements.current import LIVE_STATUSES, visible_announcements
from gateway.auth import area_scope, scoped
from gateway.console.base import (
    ALL_ROLES, bp, label, load_official, local_time, login_required, login_user, session_minutes, t, template_names,
)
from gateway.console.i18n import LANGUAGES
from gateway.db import get_db
from gateway.models import Announcement, Official, Report, utcnow

log = logging.getLogger(__name__)
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15


def _safe_next(target):
    """Only a path inside the console: never an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console"):
        return None
    return target


def _failures_key(login):
    # Per login and client address: a stranger guessing an official's password locks out only
    # their own address, not the official (TRUSTED_PROXIES makes the address the client's).
    return f"console:login-failures:{login.lower()}:{request.remote_addr or '-'}"


# The lock's counts live in Redis. While it is unreachable officials can still log in and nothing
# is counted: the slow password hash is then the only brake on guessing.
def _failures(name):
    """Wrong passwords counted for `name` from this address (0 while Redis is unreachable)."""
    try:
        return int(queue.get_connection().get(_failures_key(name)) or 0)
    except RedisError:
        log.warning("console login lock not counted: Redis is unreachable")
        return 0


def _count_failure(name):
    """One more wrong password for `name` from this address; the count lasts LOCK_MINUTES."""
    try:
        with queue.get_connection().pipeline() as pipe:
            pipe.incr(_failures_key(name)).expire(_failures_key(name), LOCK_MINUTES * 60).execute()
    except RedisError:
        pass  # _failures() has just said so


def _clear_failures(name):
    """A right password: the count for `name` from this address starts again."""
    try:
        queue.get_connection().delete(_failures_key(name))
    except RedisError:
        pass  # _failures() has just said so


def home_for(official):
    return url_for("console.downloads" if official.role == "operator" else "console.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    from gateway.setup import needs_first_run

    if needs_first_run(get_db()):
        return redirect(url_for("console.first_run_page"))
    error = None
    if session.pop("expired", False):
        error = t("login.expired", minutes=session_minutes())
    if request.method == "POST":
        name = (request.form.get("login") or "").strip()
        password = request.form.get("password") or ""
        failures = _failures(name) if name else 0
        official = get_db().scalar(select(Official).where(Official.login == name)) if name else None
        if failures >= MAX_FAILED_LOGINS:
            error = t("login.locked", minutes=LOCK_MINUTES)
        elif (official is None or not official.active or not official.password_hash
              or not check_password_hash(official.password_hash, password)):
            if name:
                _count_failure(name)
            log.info("console login failed")
            error = t("login.failed")
        else:
            _clear_failures(name)
            login_user(official)
            log.info("console login official=%s", official.id)
            return redirect(_safe_next(request.args.get("next")) or home_for(official))
        return render_template("console/login.html", error=error), 401 if error else 200
    if g.get("official") is not None:
        return redirect(home_for(g.official))
    return render_template("console/login.html", error=error)


@bp.post("/logout")
def logout():
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(t("login.logged_out"), "info")
    return redirect(url_for("console.login"))


@bp.post("/language")
def language():
    lang = request.form.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")) or url_for("console.login"))


def worker_health(app):
    """(embedded state or None, [rows of RQ workers]) for the dashboard."""
    from rq import Worker

    embedded = app.extensions.get("gateway.embedded_worker")
    if embedded is not None:
        thread = embedded._thread
        return ("ok" if thread is not None and thread.is_alive() else "idle"), []
    rows = []
    for worker in Worker.all(connection=queue.get_connection(app)):
        rows.append({"name": worker.name, "state": label("dash.worker_state", worker.get_state()),
                     "queues": ", ".join(label("queue", q) for q in worker.queue_names()),
                     "seen": local_time(_aware(worker.last_heartbeat), "%H:%M:%S")})
    return None, rows


def _aware(moment):
    # RQ stores heartbeats as naive UTC in some versions, aware in others.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment


@bp.get("/")
@login_required()
def dashboard():
    from gateway.broadcast import coverage
    from gateway.console import status

    db = get_db()
    official = g.official
    announcements = list(db.scalars(visible_announcements(db, official)
                                    .where(Announcement.status.in_(("sending", "sent", "scheduled"))).limit(30)))
    chosen = None
    if request.args.get("announcement", "").isdigit():
        chosen = next((a for a in announcements if a.id == int(request.args["announcement"])), None)
    chosen = chosen or (announcements[0] if announcements else None)
    bars, failures, language_rows = [], [], []
    if chosen is not None:
        scope = area_scope(db, official)
        bars = [row for row in coverage.by_area_and_audience(db, chosen, within=scope, with_sent=True)
                if row["audience"] == "all" and row["area"] != "*"]
        failures = coverage.failure_reasons(db, chosen, within=scope)
        language_rows = coverage.by_language(db, chosen, within=scope)
    report_query = scoped(db, official, select(func.count()).select_from(Report)
                          .where(Report.status.in_(("new", "acknowledged", "in_progress"))),
                          Report.area_id, Report.commune_id)
    admin = official.role in ("province", "admin")  # only admins see the machinery, and then in words
    embedded, workers, queues, queue_down = None, [], None, False
    if admin:
        try:
            embedded, workers = worker_health(current_app)
            queues = queue.stats()
        except queue.REDIS_DOWN:  # the page still answers; the work waits in the database
            queue_down = True
    return render_template("console/dashboard.html", announcements=announcements, chosen=chosen, bars=bars,
                           failures=failures, language_rows=language_rows if len(language_rows) > 1 else [],
                           queues=queues, queue_down=queue_down, embedded=embedded,
                           workers=workers, open_reports=db.scalar(report_query), admin=admin,
                           states=status.describe(db, announcements),
                           reports_delivery=status.sms_reports_delivery(current_app.config),
                           sms_provider=current_app.config["SMS_PROVIDER"])


@bp.get("/downloads")
@login_required(roles=ALL_ROLES)
def downloads():
    """Loudspeaker audio of the official's areas, and their private page/feed links for devices."""
    return _downloads_page()


def _downloads_page(created=None):
    from gateway.console.announcements import area_choices
    from gateway.loudspeaker.listing import is_current, playable
    from gateway.models import OperatorLink

    db = get_db()
    now = utcnow()
    query = (visible_announcements(db, g.official)
             .where(Announcement.status.in_(LIVE_STATUSES), Announcement.send_at <= now,
                    Announcement.send_at >= now - dt.timedelta(days=30)).limit(200))
    # Channels are a JSON list: filtered here, as gateway.loudspeaker.listing does.
    entries = [(a, playable(a), is_current(a, now)) for a in db.scalars(query) if "loudspeaker" in (a.channels or [])]
    links = list(db.scalars(select(OperatorLink).where(OperatorLink.official_id == g.official.id)
                            .order_by(OperatorLink.id.desc())))
    return render_template("console/downloads.html", entries=entries, links=links,
                           area_choices=area_choices(db, g.official), created=created)


@bp.post("/downloads/links")
@login_required(roles=ALL_ROLES)
def create_download_link():
    """A private link (page and podcast feed) for a loudspeaker of one of the official's areas."""
    from gateway.auth import may_act_on
    from gateway.loudspeaker.links import create_link, link_url
    from gateway.models import Area

    db = get_db()
    area_id = request.form.get("area_id", "")
    area = db.get(Area, int(area_id)) if area_id.isdigit() else None
    label = (request.form.get("label") or "").strip()
    if area is None or not may_act_on(db, g.official, area.id):
        flash(t("res.err_area"), "error")
        return redirect(url_for("console.downloads"))
    link, token = create_link(db, area=area, label=label or f"{g.official.login} – {area.name}", official=g.official)
    db.commit()
    created = {"page": link_url(token), "feed": link_url(token, "loudspeaker.feed_xml"), "area": area.name}
    return _downloads_page(created)  # shown once: only the token's hash is stored


@bp.post("/downloads/links/<int:link_id>/revoke")
@login_required(roles=ALL_ROLES)
def revoke_download_link(link_id):
    from gateway.auth import may_act_on
    from gateway.console.base import ADMINS
    from gateway.loudspeaker.links import revoke
    from gateway.models import OperatorLink

    db = get_db()
    link = db.get(OperatorLink, link_id)
    if link is None or (link.official_id != g.official.id
                        and not (g.official.role in ADMINS and may_act_on(db, g.official, link.area_id))):
        abort(404)
    revoke(db, link)
    db.commit()
    flash(t("dl.link_revoked"), "success")
    return redirect(url_for("console.downloads"))


def init_errors(app):
    """Error pages for console URLs in the console's language (other URLs keep Flask's)."""

    def handler(exc):
        if not request.path.startswith("/console"):
            return exc
        code = getattr(exc, "code", 500)
        message = t(f"error.{code}") if code in (400, 401, 403, 404, 413) else str(exc)
        if code == 400 and exc.description and exc.description != type(exc).description:
            message = exc.description
        if request.is_json or request.accept_mimetypes.best == "application/json":
            return {"error": message}, code
        if request.blueprint != "console":  # an unknown /console URL: the blueprint's hooks did not run
            load_official()
        return render_template("console/error.html", code=code, message=message, **template_names()), code

    for code in (400, 401, 403, 404, 413):
        app.register_error_handler(code, handler)

