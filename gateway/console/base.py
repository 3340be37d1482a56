"""The console's blueprint and what every page relies on: the logged-in official, roles,
CSRF tokens, session expiry and the message catalogue."""
import datetime as dt
import functools
import hmac
import logging
import secrets
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, g, redirect, request, session, url_for
from flask_babel import get_locale

from gateway import categories
from gateway.console.i18n import LANGUAGES, message, translate
from gateway.db import get_db
from gateway.models import Official

log = logging.getLogger(__name__)
bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")

LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Pages each role may open; an operator only downloads loudspeaker audio.
STAFF = ("province", "admin", "leader")
# Imports, exports and the phone simulator: a commune's admins and the province's.
ADMINS = ("province", "admin")
ALL_ROLES = ("province", "admin", "leader", "operator")


def t(key, **values):
    """`key` from the catalogue in the session's language, formatted with `values`."""
    return translate(key, strict=current_app.testing, **values)


def label(prefix, value):
    """The translation of `prefix.value` when the catalogue has one, else `value` itself."""
    text = message(f"{prefix}.{value}")
    return value if text is None else text


def category_label(code):
    """A report category as officials read it, in the session's language (from gateway.categories)."""
    return categories.label(code, str(get_locale()))


def area_name(area):
    """An area as officials read it: a team with its neighbourhood ("Khu phố 1, Tổ 3")."""
    if area is None:
        return ""
    if area.level == "team" and area.parent is not None:
        return f"{area.parent.name}, {area.name}"
    return area.name


def area_path(area, with_commune=False):
    """An area's full name for lists: "Khu phố 5 — Tổ 1" (with its commune first when several are shown)."""
    nodes = list(area.ancestors())[::-1]
    names = [n.name for n in nodes if n.level != "province" and (n is area or n.level != "commune" or with_commune)]
    return " — ".join(names)


def current_language():
    """The session's language (Flask-Babel's locale selector)."""
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "vi"


def csrf_token():
    """The session's CSRF token (made on first use); every POST form and fetch carries it."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf():
    """400 unless the POST carries the session's token (form field or header)."""
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        log.warning("console: CSRF token missing or wrong path=%s", request.path)
        abort(400, description=t("error.csrf"))


def session_minutes(config=None):
    """Minutes of inactivity after which a log-in ends (CONSOLE_SESSION_MINUTES)."""
    config = config or current_app.config
    return max(int(float(config.get("CONSOLE_SESSION_MINUTES") or 60)), 1)


def now_ts():
    return int(dt.datetime.now(dt.timezone.utc).timestamp())


def load_official():
    """Set `g.official` from the session; an expired or stale session is cleared."""
    g.official = None
    official_id = session.get("official_id")
    if official_id is None:
        return
    seen = session.get("seen", 0)
    if now_ts() - seen > session_minutes() * 60:
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        session["expired"] = True  # the log-in page says why
        return
    official = get_db().get(Official, official_id)
    if official is None or not official.active:
        session.clear()
        return
    session["seen"] = now_ts()
    g.official = official


def login_user(official):
    """Start a fresh session for `official` (a new CSRF token: no fixation)."""
    lang = session.get("lang")
    session.clear()
    session.permanent = True
    session["official_id"] = official.id
    session["seen"] = now_ts()
    session["lang"] = lang or "vi"
    csrf_token()


def login_required(roles=STAFF):
    """Decorator: the log-in page for visitors, 403 for officials whose role may not open the page."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if g.get("official") is None:
                if request.method == "GET" and request.accept_mimetypes.best != "application/json":
                    return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
                abort(401)
            if roles and g.official.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def local_time(moment, fmt="%d/%m/%Y %H:%M"):
    """An aware UTC time as the commune reads it."""
    if moment is None:
        return ""
    return moment.astimezone(LOCAL_ZONE).strftime(fmt)


def parse_local(text):
    """"2026-11-25T08:30" typed in the commune's time → aware UTC; None when empty; ValueError when wrong."""
    text = (text or "").strip()
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_ZONE)
    return moment.astimezone(dt.timezone.utc)


def simulator_enabled(config=None):
    """The phone simulator runs outside production, or when SIMULATOR_ENABLED=1."""
    config = config or current_app.config
    flag = str(config.get("SIMULATOR_ENABLED") or "").strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    if flag in ("0", "false", "no", "off"):
        return False
    return config.get("GATEWAY_ENV") != "production"


@bp.before_request
def _console_request():
    if request.endpoint == "console.static":
        return
    load_official()
    if request.method == "POST":
        check_csrf()


@bp.after_request
def _no_store(response):
    # Pages show residents' data: browsers and proxies must not keep them.
    if request.endpoint != "console.static":
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.context_processor
def template_names():
    """What every console template uses (also given to error pages of URLs no console route matched)."""
    from gateway.console.i18n import LANGUAGE_NAMES
    from gateway.media.assets import asset_url
    from gateway.phone import national

    return {
        "t": t, "csrf_token": csrf_token, "lang": current_language(), "languages": LANGUAGE_NAMES,
        "official": g.get("official"), "local_time": local_time, "label": label, "category_label": category_label, "area_name": area_name, "area_path": area_path, "national": national,
        "simulator_enabled": simulator_enabled(),
        "asset_url": lambda asset, rendition="mp3": asset_url(asset, rendition, external=False),
    }
