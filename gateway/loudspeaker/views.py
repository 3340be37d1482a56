"""The operator's link: /loa/<token>/ page, .json list, feed.xml, MP3 downloads and bulletins.

Unknown tokens get 404 and revoked ones 410. Files honour Range and conditional GET (ETag)."""
import datetime as dt
import os
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, jsonify, make_response, render_template, request, send_file
from sqlalchemy import select

from gateway import languages
from gateway.announcements.quiet import DEFAULT_ZONE
from gateway.db import get_db
from gateway.loudspeaker import feed
from gateway.loudspeaker.bulletin import request_bulletin
from gateway.loudspeaker.links import LinkRevoked, find_link, link_url
from gateway.loudspeaker.listing import for_area, is_current, local_day, playable, recorded_languages
from gateway.media import storage
from gateway.models import Announcement, Bulletin, utcnow

bp = Blueprint("loudspeaker", __name__, url_prefix="/loa", template_folder="templates")
FEED_DAYS = 30
BULLETIN_DAYS = 7
MAX_AGE = 300


def _link(token):
    try:
        link = find_link(get_db(), token)
    except LinkRevoked:
        abort(make_response("Liên kết này đã bị thu hồi. Xin liên hệ UBND để nhận liên kết mới.\n"
                            "This link has been revoked.\n", 410, {"Content-Type": "text/plain; charset=utf-8"}))
    if link is None:
        abort(404)
    return link


def _language(area):
    """The `lang` asked for (a code of the area's languages, gateway.languages); 404 for any other."""
    code = request.args.get("lang", languages.VI)
    if code not in languages.of_area(area):
        abort(404)
    return code


def _entries(token, area, language=languages.VI):
    """(announcement, asset, mp3 url, current?) for the area's announcements whose audio is ready, in
    `language` where it was recorded (Vietnamese otherwise)."""
    now = utcnow()
    out = []
    extra = {"lang": language} if language != languages.VI else {}
    for announcement in for_area(get_db(), area, days=FEED_DAYS, now=now):
        asset = playable(announcement, language, get_db())
        if asset is not None:
            url = link_url(token, "loudspeaker.announcement_mp3", announcement_id=announcement.id, **extra)
            out.append((announcement, asset, url, is_current(announcement, now)))
    return out


def _language_files(token, entries):
    """{announcement id: [(language name, mp3 url)]}: the files each announcement has in extra languages."""
    db = get_db()
    out = {}
    for announcement, _, _, _ in entries:
        spoken = languages.of_area(announcement.areas[0]) if announcement.areas else {}
        out[announcement.id] = [
            (languages.name_of(code, spoken),
             link_url(token, "loudspeaker.announcement_mp3", announcement_id=announcement.id, lang=code))
            for code in recorded_languages(db, announcement)]
    return out


def _send(relative, name):
    path = storage.absolute(relative)
    if not os.path.isfile(path):
        abort(404)
    download = request.args.get("download") is not None
    return send_file(path, mimetype="audio/mpeg", conditional=True, etag=True, max_age=MAX_AGE,
                     as_attachment=download, download_name=name)


@bp.get("/<token>/")
def page(token):
    """The download page: current and recent announcements, and the daily bulletins."""
    link = _link(token)
    now = utcnow()
    today = local_day(now)
    # Only the days that had announcements get a bulletin link (the others would answer "none").
    had = {local_day(a.send_at) for a in for_area(get_db(), link.area, days=BULLETIN_DAYS, now=now)}
    days = [d for d in (today - dt.timedelta(days=i) for i in range(BULLETIN_DAYS)) if d in had]
    bulletins = {b.day: b for b in get_db().scalars(
        select(Bulletin).where(Bulletin.area_id == link.area_id, Bulletin.day.in_(days)))} if days else {}
    zone = ZoneInfo(link.area.inherited("timezone", DEFAULT_ZONE))
    entries = _entries(token, link.area)
    spoken = languages.of_area(link.area)
    return render_template("loudspeaker/page.html", link=link, area=link.area, entries=entries,
                           days=days, bulletins=bulletins, token=token, days_back=BULLETIN_DAYS,
                           local=lambda moment: moment.astimezone(zone).strftime("%H:%M ngày %d/%m/%Y"),
                           feed_url=link_url(token, "loudspeaker.feed_xml"),
                           language_files=_language_files(token, entries),
                           language_feeds=[(name, link_url(token, "loudspeaker.feed_xml", lang=code))
                                           for code, name in spoken.items() if code != languages.VI])


@bp.get("/<token>/announcements.json")
def announcements_json(token):
    """The same list as JSON, for scripts on smart loudspeakers."""
    link = _link(token)
    language = _language(link.area)
    entries = _entries(token, link.area, language)
    files = _language_files(token, entries)
    return jsonify(area={"id": link.area.id, "name": link.area.name}, language=language, announcements=[{
        "id": a.id, "title": a.title, "text": a.body, "priority": a.priority, "category": a.category,
        "send_at": a.send_at.isoformat(), "expires_at": a.expires_at.isoformat() if a.expires_at else None,
        "current": current, "mp3_url": url, "bytes": asset.mp3_bytes, "duration_ms": asset.duration_ms,
        "sha256_name": asset.content_hash, "languages": dict(files[a.id]),
    } for a, asset, url, current in entries])


@bp.get("/<token>/feed.xml")
def feed_xml(token):
    """The area's podcast feed (RSS 2.0 with iTunes tags)."""
    link = _link(token)
    area = link.area
    language = _language(area)
    extra = {"lang": language} if language != languages.VI else {}
    body = feed.build(area=area, commune=area.commune(),
                      items=[(a, s, u) for a, s, u, _ in _entries(token, area, language)],
                      feed_url=link_url(token, "loudspeaker.feed_xml", **extra),
                      page_url=link_url(token, "loudspeaker.page"),
                      language=language, language_name=languages.of_area(area)[language])
    response = make_response(body)
    response.headers["Content-Type"] = "application/rss+xml; charset=utf-8"
    response.headers["Cache-Control"] = f"private, max-age={MAX_AGE}"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/<token>/<int:announcement_id>.mp3")
def announcement_mp3(token, announcement_id):
    """One announcement's MP3, if it is for this link's area."""
    link = _link(token)
    announcement = get_db().get(Announcement, announcement_id)
    if announcement is None or announcement not in for_area(get_db(), link.area, days=FEED_DAYS):
        abort(404)
    language = _language(link.area)
    asset = playable(announcement, language, get_db())
    if asset is None:
        abort(404)
    suffix = f"-{language}" if language != languages.VI else ""
    return _send(asset.mp3_path, f"thong-bao-{announcement.id}{suffix}.mp3")


@bp.get("/<token>/bulletin/<day>.mp3")
def bulletin_mp3(token, day):
    """The day's bulletin; 202 with Retry-After while it is being joined, 404 when the day had none."""
    link = _link(token)
    try:
        day = dt.date.fromisoformat(day)
    except ValueError:
        abort(404)
    if not 0 <= (local_day(utcnow()) - day).days < FEED_DAYS:
        abort(404)
    bulletin = request_bulletin(get_db(), link.area, day)
    if bulletin.status == "empty":
        return _text(f"Ngày {day:%d/%m/%Y} không có thông báo nào cho {link.area.name}.\n", 404)
    if bulletin.status == "failed":
        return _text("Không ghép được bản tin ngày này. Xin thử lại sau.\n", 503,
                     {"Retry-After": "600"})
    if bulletin.status != "ready":
        return _text("Bản tin đang được ghép, xin thử lại sau ít phút.\n", 202, {"Retry-After": "30"})
    return _send(bulletin.asset.mp3_path, f"ban-tin-{day:%Y-%m-%d}.mp3")


def _text(message, status, headers=None):
    return message, status, {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
