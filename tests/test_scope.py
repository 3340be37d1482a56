"""Who sees what: one scope rule (gateway.auth) for every page, API answer, export and audio file.

Two communes (A and B) in one province; officials: the province, each commune's admin, a
leader of A's first village and a loudspeaker operator of A."""
import hashlib
import io
import os

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from gateway.auth import issue_token
from gateway.db import get_db
from gateway.demo import load_province
from gateway.models import Announcement, Area, AudioAsset, Official, Report, Resident
from gateway.phone import national
from tests.console_helpers import login

PASSWORD = "demo1234"
ROLES = ("tinh", "xa001", "xa002", "leader_a", "loa_a")


def _recording(app, db, name):
    """A ready recording asset with a real file (what a fetched voice report becomes)."""
    data = f"ID3 recording {name}".encode() * 20
    digest = hashlib.sha256(data).hexdigest()
    relative = f"originals/{digest}.mp3"
    path = os.path.join(app.config["AUDIO_DIR"], relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    asset = AudioAsset(kind="recording", content_hash=digest, status="ready", mp3_path=relative, phone_path=relative,
                       original_path=relative, options={})
    db.add(asset)
    db.flush()
    return asset


@pytest.fixture
def province(app):
    """{name: id} of the two communes' resources, and the officials' API tokens."""
    with app.app_context():
        db = get_db()
        load_province(db, communes=2, households=12, villages=2, teams=2, password=PASSWORD)
        a, b = (db.scalar(select(Area).where(Area.code == c, Area.level == "commune")) for c in ("X001", "X002"))
        a1, a2 = a.children
        leader = Official(login="leader_a", role="leader", areas=[a1], password_hash=generate_password_hash(PASSWORD))
        operator = Official(login="loa_a", role="operator", areas=[a], password_hash=generate_password_hash(PASSWORD))
        db.add_all([leader, operator])
        db.flush()

        def resident_in(village):
            return db.scalar(select(Resident).where(Resident.area_id.in_(village.descendant_ids(db)))
                             .order_by(Resident.id))

        def report_in(village):
            return db.scalar(select(Report).where(Report.area_id.in_(village.descendant_ids(db))).order_by(Report.id))

        ids = {"resident:A1": resident_in(a1), "resident:A2": resident_in(a2), "resident:B": resident_in(b.children[0]),
               "report:A1": report_in(a1), "report:A2": report_in(a2), "report:B": report_in(b.children[0])}
        ids = {k: v.id for k, v in ids.items()} | {"area:A1": a1.id, "area:B": b.children[0].id}
        phones = {k: national(db.get(Resident, ids[k]).phone) for k in ("resident:A1", "resident:A2", "resident:B")}
        for key in ("A1", "A2", "B"):
            report = db.get(Report, ids[f"report:{key}"])
            report.recording_id = _recording(app, db, key).id
            ids[f"recording:{key}"] = report.recording_id
        ids["announcement:A"] = db.scalar(select(Announcement.id).join(Announcement.areas).where(Area.id == a.id))
        ids["announcement:B"] = db.scalar(select(Announcement.id).join(Announcement.areas).where(Area.id == b.id))
        tokens = {o.login: issue_token(db, o) for o in db.scalars(select(Official))}
        db.commit()
    return {"ids": ids, "phones": phones, "tokens": tokens}


# (resource, path) → which officials may open it; everyone else gets 404 (or 403 for their role).
PAGES = {
    "resident:A1": "/console/residents/{id}", "resident:A2": "/console/residents/{id}", "resident:B": "/console/residents/{id}",
    "report:A1": "/console/reports/{id}", "report:A2": "/console/reports/{id}", "report:B": "/console/reports/{id}",
    "announcement:A": "/console/announcements/{id}", "announcement:B": "/console/announcements/{id}",
    "recording:A1": "/console/audio/{id}.mp3", "recording:A2": "/console/audio/{id}.mp3", "recording:B": "/console/audio/{id}.mp3",
    "area:A1": "/console/areas/{id}", "area:B": "/console/areas/{id}",
}
SEES = {
    "tinh": {"resident:A1", "resident:A2", "resident:B", "report:A1", "report:A2", "report:B", "announcement:A",
             "announcement:B", "recording:A1", "recording:A2", "recording:B", "area:A1", "area:B"},
    "xa001": {"resident:A1", "resident:A2", "report:A1", "report:A2", "announcement:A", "recording:A1", "recording:A2",
              "area:A1"},
    "xa002": {"resident:B", "report:B", "announcement:B", "recording:B", "area:B"},
    # A leader sees their village, and what the commune announced to it.
    "leader_a": {"resident:A1", "report:A1", "announcement:A", "recording:A1"},
    # An operator downloads loudspeaker audio only: no households, reports or residents' voices.
    "loa_a": set(),
}
CASES = [(who, resource) for who in ROLES for resource in PAGES]


@pytest.mark.parametrize("who,resource", CASES, ids=[f"{w}-{r}" for w, r in CASES])
def test_console_pages_follow_the_scope(app, province, who, resource):
    client = app.test_client()
    login(client, who, PASSWORD)
    status = client.get(PAGES[resource].format(id=province["ids"][resource])).status_code
    if resource in SEES[who]:
        assert status == 200
    elif resource.startswith("area:") and who in ("leader_a", "loa_a"):
        assert status == 403  # managing areas: admins only
    else:
        assert status in ((403, 404) if who == "loa_a" else (404,))


API = {"report:A1": "/api/reports/{id}", "report:A2": "/api/reports/{id}", "report:B": "/api/reports/{id}",
       "announcement:A": "/api/announcements/{id}", "announcement:B": "/api/announcements/{id}"}


@pytest.mark.parametrize("who", ROLES)
def test_api_answers_follow_the_scope(app, province, who):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {province['tokens'][who]}"}
    for resource, path in API.items():
        status = client.get(path.format(id=province["ids"][resource]), headers=headers).status_code
        expected = 200 if resource in SEES[who] else (403 if who == "loa_a" else 404)
        assert status == expected, (who, resource, status)
    if who == "loa_a":
        return
    listed = {r["id"] for r in client.get("/api/reports?limit=500", headers=headers).get_json()["reports"]}
    wanted = {province["ids"][k] for k in ("report:A1", "report:A2", "report:B") if k in SEES[who]}
    assert wanted <= listed
    assert not ({province["ids"][k] for k in ("report:A1", "report:A2", "report:B")} - wanted) & listed
    announced = {a["id"] for a in client.get("/api/announcements", headers=headers).get_json()["announcements"]}
    assert announced == {province["ids"][k] for k in ("announcement:A", "announcement:B") if k in SEES[who]}


@pytest.mark.parametrize("who", ROLES)
def test_lists_and_exports_follow_the_scope(app, province, who):
    client = app.test_client()
    login(client, who, PASSWORD)
    export = client.get("/console/residents/export?format=csv")
    listing = client.get("/console/residents?q=")
    if who in ("leader_a", "loa_a"):
        assert export.status_code == 403  # exports: admins (commune or province) only
    else:
        assert export.status_code == 200
        text = export.get_data(as_text=True)
        for key, phone in province["phones"].items():
            assert (phone in text) == (key in SEES[who]), (who, key)
    if who == "loa_a":
        assert listing.status_code == 403
        return
    html = listing.get_data(as_text=True)
    for key, phone in province["phones"].items():
        # Residents are listed by name with their phone; page one holds them all at this size.
        assert (phone in html) == (key in SEES[who]), (who, key)


def test_area_pages_and_export_are_the_admins_own_tree(app, province):
    client = app.test_client()
    login(client, "xa001", PASSWORD)
    top = client.get("/console/areas").get_data(as_text=True)
    assert "X001" in top and "X002" not in top and "LAMGIANG" not in top
    export = client.get("/console/areas/export?format=csv").get_data(as_text=True)
    assert "X001" in export and "X002" not in export
    found = client.get("/console/areas?q=X00").get_data(as_text=True)
    assert "X001" in found and "X002" not in found
    province_client = app.test_client()
    login(province_client, "tinh", PASSWORD)
    everything = province_client.get("/console/areas/export?format=csv").get_data(as_text=True)
    assert "X001" in everything and "X002" in everything


def test_area_import_stays_within_the_officials_commune(app, province):
    client = app.test_client()
    token = login(client, "xa001", PASSWORD)
    rows = "Mã,Tên,Loại,Mã cấp trên\nT9,Thôn 9,thôn,X001\nT8,Thôn 8,thôn,X002\nX003,Xã 3,xã,\n"

    def send(**extra):
        data = {"csrf_token": token, "file": (io.BytesIO(rows.encode()), "kv.csv"), **extra}
        return client.post("/console/areas/import", data=data, content_type="multipart/form-data")

    html = send().get_data(as_text=True)
    assert html.count("không thuộc phạm vi của bạn") == 2 and 'id="import-confirm"' not in html
    html = send(skip_bad_rows="1").get_data(as_text=True)
    confirm = html.split('name="token" value="')[1].split('"')[0]
    client.post("/console/areas/import", data={"csrf_token": token, "token": confirm, "confirm": "1",
                                               "skip_bad_rows": "1"})
    with app.app_context():
        db = get_db()
        made = {a.code: a.parent.code if a.parent else None
                for a in db.scalars(select(Area).where(Area.code.in_(("T9", "T8", "X003"))))}
    assert made == {"T9": "X001"}  # nothing in the other commune, no new commune


def test_voice_reports_are_never_public_and_providers_get_a_short_lived_url(app, province):
    from gateway.media.assets import asset_url, signed_query

    client = app.test_client()
    with app.app_context():
        db = get_db()
        asset = db.get(AudioAsset, province["ids"]["recording:A1"])
        digest = asset.content_hash
        assert client.get(f"/audio/{digest}.mp3").status_code == 404  # no login, no signature
        url = asset_url(asset, "mp3")  # what a provider is given when a call must play it
        assert url.startswith(f"https://gw.example.vn/audio/{digest}.mp3?exp=")
        assert client.get(url.replace("https://gw.example.vn", "")).status_code == 200
        import datetime as dt

        old = signed_query(digest, "mp3", now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
        assert client.get(f"/audio/{digest}.mp3?{old}").status_code == 404  # expired
        forged = url.replace("sig=", "sig=0")
        assert client.get(forged.replace("https://gw.example.vn", "")).status_code == 404
        other = db.get(AudioAsset, province["ids"]["recording:B"]).content_hash
        swapped = url.replace("https://gw.example.vn", "").replace(digest, other)
        assert client.get(swapped).status_code == 404  # a signature is for one file only
        # The console's own pages point at the console route, never at the public one.
        with app.test_request_context():
            assert asset_url(asset, "mp3", external=False) == f"/console/audio/{asset.id}.mp3"
        # Announcement audio stays public behind its unguessable URL.
        asset.kind = "announcement"
        db.commit()
    assert client.get(f"/audio/{digest}.mp3").status_code == 200


def test_an_announcement_refuses_another_areas_recording(app, province):
    client = app.test_client()
    ids = province["ids"]
    with app.app_context():
        a = get_db().scalar(select(Area).where(Area.code == "X001", Area.level == "commune"))
        area_id = a.id
    token = province["tokens"]["xa001"]
    body = {"title": "Thông báo", "body": "Họp dân tối nay.", "areas": [area_id], "channels": ["loudspeaker"]}
    theirs = client.post("/api/announcements", json=body | {"recording_id": ids["recording:B"]},
                         headers={"Authorization": f"Bearer {token}"})
    assert theirs.status_code == 400 and "recording_id" in theirs.get_json()["error"]
    mine = client.post("/api/announcements", json=body | {"recording_id": ids["recording:A1"]},
                       headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 201, mine.get_json()
    # The console form says no too.
    csrf = login(client, "xa001", PASSWORD)
    resp = client.post("/console/announcements", data={
        "csrf_token": csrf, "title": "Thông báo", "body": "Họp dân.", "areas": str(area_id),
        "audiences": "everyone", "channels": "loudspeaker", "priority": "normal", "recording_id": ids["recording:B"]})
    assert resp.status_code == 400


def test_uploads_belong_to_the_uploaders_areas(app, province):
    from tests.audio_helpers import speech_wav

    client = app.test_client()
    csrf = login(client, "xa001", PASSWORD)
    up = client.post("/console/audio/upload", data={"csrf_token": csrf, "file": (io.BytesIO(speech_wav("Xin chào bà con")), "hop.wav")},
                     content_type="multipart/form-data")
    assert up.status_code == 200, up.get_json()
    asset_id = up.get_json()["id"]
    assert client.get(f"/console/audio/{asset_id}").status_code == 200
    other = app.test_client()
    login(other, "xa002", PASSWORD)
    assert other.get(f"/console/audio/{asset_id}").status_code == 404
    assert other.get(f"/console/audio/{asset_id}.mp3").status_code == 404
    province_official = app.test_client()
    login(province_official, "tinh", PASSWORD)
    assert province_official.get(f"/console/audio/{asset_id}").status_code == 200


def test_phone_taken_error_does_not_name_another_areas_resident(app, province):
    client = app.test_client()
    csrf = login(client, "xa001", PASSWORD)
    with app.app_context():
        db = get_db()
        theirs = db.get(Resident, province["ids"]["resident:B"])
        mine = db.get(Resident, province["ids"]["resident:A2"])
        their_name, their_phone, my_name = theirs.name, national(theirs.phone), mine.name
        area_id = mine.area_id
    form = {"csrf_token": csrf, "name": "Hộ mới", "area_id": str(area_id)}
    resp = client.post("/console/residents/new", data=form | {"phone": their_phone})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "nơi khác" in html
    assert their_name not in html
    with app.app_context():
        mine_phone = national(get_db().get(Resident, province["ids"]["resident:A2"]).phone)
    resp = client.post("/console/residents/new", data=form | {"phone": mine_phone})
    assert resp.status_code == 400 and my_name in resp.get_data(as_text=True)  # their own area: named


def test_simulator_is_for_admins_only(app, province):
    for who, status in (("leader_a", 403), ("loa_a", 403), ("xa001", 200), ("tinh", 200)):
        client = app.test_client()
        login(client, who, PASSWORD)
        assert client.get("/console/simulator").status_code == status, who
