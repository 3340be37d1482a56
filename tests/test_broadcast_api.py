"""Announcements through the officials' JSON API and the command line: scoped to each official's
areas, clear 400s for bad input, cancel, coverage as JSON and CSV."""
import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select

from gateway.auth import issue_token
from gateway.models import Announcement, Area, Delivery, Official, Resident, utcnow
from tests.audio_helpers import speech_wav

URL = "/api/announcements"


@pytest.fixture
def tokens(db, demo):
    out = {o.login: issue_token(db, o) for o in db.scalars(select(Official))}
    db.commit()
    return out


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def body(**kw):
    data = {"title": "Họp tổ dân phố", "body": "Tối thứ Bảy họp tổ dân phố lúc 19h30 tại nhà văn hóa.",
            "areas": ["KP1"], "channels": ["sms", "hotline"]}
    data.update(kw)
    return data


def test_leader_creates_for_their_areas_and_children(client, tokens, db):
    kp1 = db.scalar(select(Area).where(Area.code == "KP1", Area.level == "neighbourhood"))
    send_at = (utcnow() + dt.timedelta(hours=3)).astimezone(dt.timezone(dt.timedelta(hours=7)))
    r = client.post(URL, json=body(areas=["KP1", kp1.children[0].id], priority="urgent", audiences=["elderly", "poor"],
                                   channels=["sms", "voice", "hotline", "loudspeaker", "group"], category="meeting",
                                   send_at=send_at.isoformat()), headers=auth(tokens["truongkp1"]))
    assert r.status_code == 201, r.json
    got = r.json
    assert got["status"] == "scheduled" and got["priority"] == "urgent" and got["category"] == "meeting"
    assert [a["code"] for a in got["areas"]] == ["KP1", "KP1T1"]
    assert got["audiences"] == ["elderly", "poor"] and got["created_by"] == "truongkp1"
    assert dt.datetime.fromisoformat(got["send_at"]) == send_at
    assert dt.datetime.fromisoformat(got["expires_at"]) == send_at + dt.timedelta(days=7)
    a = db.get(Announcement, got["id"])
    assert a.title == "Họp tổ dân phố"


@pytest.mark.parametrize("data, message", [
    ({"title": ""}, "title is empty"),
    ({"title": 12}, "title must be text"),
    ({"body": "x" * 3001}, "body is longer than 3000"),
    ({"areas": []}, "areas must be a non-empty list"),
    ({"areas": ["KP99"]}, "area 'KP99' is unknown"),
    ({"areas": [{"id": 1}]}, "is not an area id or code"),
    ({"priority": "high"}, "priority must be one of normal, urgent, emergency"),
    ({"audiences": ["kids"]}, "audiences must be some of everyone, elderly, poor, no_smartphone"),
    ({"audiences": "elderly"}, "audiences must be a list"),
    ({"channels": ["fax"]}, "channels must be some of sms, voice, hotline, loudspeaker, group"),
    ({"send_at": "tomorrow"}, "send_at must be an ISO 8601 time"),
    ({"send_at": "2030-01-01T08:00:00"}, "send_at needs a time zone"),
    ({"send_at": "2020-01-01T08:00:00+07:00"}, "send_at is in the past"),
    ({"send_at": "2030-01-02T08:00:00+07:00", "expires_at": "2030-01-01T08:00:00+07:00"}, "expires_at must come after"),
    ({"recording_id": 999}, "recording_id is unknown"),
    ({"recording_id": "abc"}, "recording_id must be the id"),
    ({"colour": "red"}, "unknown field(s): colour"),
])
def test_bad_input_gets_a_clear_400(client, tokens, db, data, message):
    r = client.post(URL, json=body(**data), headers=auth(tokens["admin"]))
    assert r.status_code == 400 and message in r.json["error"], r.json
    assert db.scalar(select(Announcement.id)) is None


def test_not_json_is_a_400(client, tokens):
    r = client.post(URL, data="title=x", headers=auth(tokens["admin"]))
    assert r.status_code == 400 and "JSON object" in r.json["error"]


def test_officials_are_limited_to_their_own_areas(client, tokens, db):
    r = client.post(URL, json=body(areas=["TANLOI"]), headers=auth(tokens["truongkp1"]))
    assert r.status_code == 400 and "not your area: Thôn Tân Lợi" in r.json["error"]
    r = client.post(URL, json=body(areas=["TANLAP"]), headers=auth(tokens["truongkp1"]))  # the whole commune
    assert r.status_code == 400 and "not your area" in r.json["error"]
    mine = client.post(URL, json=body(areas=["KP2"]), headers=auth(tokens["truongkp1"])).json["id"]
    theirs = client.post(URL, json=body(areas=["TANLOI"]), headers=auth(tokens["tanloi"])).json["id"]
    listed = client.get(URL, headers=auth(tokens["truongkp1"])).json["announcements"]
    assert [a["id"] for a in listed] == [mine]
    assert {a["id"] for a in client.get(URL, headers=auth(tokens["admin"])).json["announcements"]} == {mine, theirs}
    for path in (f"{URL}/{theirs}", f"{URL}/{theirs}/coverage"):
        assert client.get(path, headers=auth(tokens["truongkp1"])).status_code == 404
    assert client.post(f"{URL}/{theirs}/cancel", headers=auth(tokens["truongkp1"])).status_code == 404
    assert db.get(Announcement, theirs).status == "scheduled"


@pytest.mark.parametrize("headers, status", [({}, 401), ({"Authorization": "Bearer nope"}, 401)])
def test_token_is_required(client, tokens, db, headers, status):
    assert client.post(URL, json=body(), headers=headers).status_code == status
    assert client.get(URL, headers=headers).status_code == status
    assert db.scalar(select(Announcement.id)) is None  # nothing was created


def test_loudspeaker_operators_may_not_announce(client, tokens, db):
    r = client.post(URL, json=body(), headers=auth(tokens["loa"]))
    assert r.status_code == 403
    assert db.scalar(select(Announcement.id)) is None and db.scalar(select(Delivery.id)) is None


def test_cancel_a_scheduled_announcement_then_not_again(client, tokens, db):
    later = (utcnow() + dt.timedelta(hours=2)).isoformat()
    aid = client.post(URL, json=body(send_at=later), headers=auth(tokens["truongkp1"])).json["id"]
    r = client.post(f"{URL}/{aid}/cancel", headers=auth(tokens["truongkp1"]))
    assert r.status_code == 200 and r.json["status"] == "cancelled"
    r = client.post(f"{URL}/{aid}/cancel", headers=auth(tokens["truongkp1"]))
    assert r.status_code == 409 and "'cancelled' and can no longer be cancelled" in r.json["error"]
    listed = client.get(URL + "?status=cancelled", headers=auth(tokens["admin"])).json["announcements"]
    assert [a["id"] for a in listed] == [aid]
    assert client.get(URL + "?status=nope", headers=auth(tokens["admin"])).status_code == 400


def test_upload_a_recording_and_announce_with_it(client, tokens, db):
    r = client.post(f"{URL}/recordings", data={"file": (io.BytesIO(speech_wav()), "giong-toi.wav")},
                    headers=auth(tokens["truongkp1"]), content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    rid = r.json["id"]
    r = client.post(URL, json=body(body="", recording_id=rid), headers=auth(tokens["truongkp1"]))
    assert r.status_code == 201 and r.json["recording_id"] == rid
    bad = client.post(f"{URL}/recordings", data={"file": (io.BytesIO(b"not audio" * 100), "x.mp3")},
                      headers=auth(tokens["truongkp1"]), content_type="multipart/form-data")
    assert bad.status_code == 400 and bad.json["error"]
    missing = client.post(f"{URL}/recordings", headers=auth(tokens["truongkp1"]))
    assert missing.status_code == 400 and "'file'" in missing.json["error"]


def fake_outcomes(db, announcement):
    """Deliveries as a finished broadcast leaves them (set directly: coverage only reads them)."""
    residents = list(db.scalars(select(Resident).where(Resident.area_id.in_(
        announcement.areas[0].descendant_ids(db))).order_by(Resident.id)))
    outcomes = ["delivered", "confirmed", "failed", "sent"]
    for i, r in enumerate(residents):
        status = outcomes[i % 4]
        db.add(Delivery(idempotency_key=f"ann:{announcement.id}:sms:{r.phone}", announcement_id=announcement.id,
                        resident_id=r.id, area_id=r.area_id, phone=r.phone, channel="sms", status=status,
                        confirmed_at=utcnow() if status == "confirmed" else None,
                        error_code="30006" if status == "failed" else None,
                        last_error="landline or unreachable carrier" if status == "failed" else None))
    db.commit()
    return residents


def test_coverage_as_json_and_csv(client, tokens, db):
    aid = client.post(URL, json=body(), headers=auth(tokens["truongkp1"])).json["id"]
    residents = fake_outcomes(db, db.get(Announcement, aid))
    n = len(residents)
    r = client.get(f"{URL}/{aid}/coverage", headers=auth(tokens["truongkp1"]))
    assert r.status_code == 200
    total = next(row for row in r.json["rows"] if row["area"] == "*" and row["audience"] == "all")
    from gateway.announcements.targeting import recipients

    # Targeted households with no delivery row count too (subscribers from elsewhere, here).
    unsent = {x.resident_id for x in recipients(db, db.get(Announcement, aid))} - {x.id for x in residents}
    assert total == {"area": "*", "audience": "all", "targeted": n + len(unsent),
                     "reached": len(range(0, n, 4)) + len(range(1, n, 4)), "confirmed": len(range(1, n, 4)),
                     "failed": len(range(2, n, 4)), "in_progress": len(range(3, n, 4)), "not_sent": len(unsent)}
    elderly = next(row for row in r.json["rows"] if row["area"] == "*" and row["audience"] == "elderly")
    assert elderly["targeted"] == sum(1 for x in residents if x.is_elderly)
    assert r.json["failures"] == [{"channel": "sms", "status": "failed", "code": "30006",
                                   "reason": "landline or unreachable carrier", "count": len(range(2, n, 4))}]
    r = client.get(f"{URL}/{aid}/coverage?format=csv", headers=auth(tokens["truongkp1"]))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0].keys() >= {"area", "audience", "targeted", "reached", "confirmed", "failed"}
    assert {(x["area"], x["audience"]) for x in rows} >= {("Khu phố 1", "all"), ("*", "all")}
    shown = client.get(f"{URL}/{aid}", headers=auth(tokens["truongkp1"])).json
    assert shown["progress"]["total"] == n and shown["progress"]["sms"]["failed"] == len(range(2, n, 4))


def test_command_line_create_list_show_cancel_coverage(app, runner, db, demo):
    later = (utcnow() + dt.timedelta(hours=1)).isoformat()
    r = runner.invoke(args=["announcements", "create", "--as", "truongkp1", "--title", "Cắt điện",
                            "--body", "Cắt điện từ 7h đến 11h ngày 14/8.", "--area", "KP1", "--area", "KP2",
                            "--channel", "sms", "--channel", "voice", "--priority", "urgent", "--send-at", later])
    assert r.exit_code == 0, r.output
    a = db.scalar(select(Announcement))
    assert f"Announcement {a.id} scheduled" in r.output and a.channels == ["sms", "voice"] and a.priority == "urgent"
    r = runner.invoke(args=["announcements", "create", "--as", "truongkp1", "--title", "x", "--body", "y",
                            "--area", "TANLOI"])
    assert r.exit_code == 1 and "not your area: Thôn Tân Lợi" in r.output
    r = runner.invoke(args=["announcements", "create", "--as", "truongkp1", "--title", "x", "--body", "y",
                            "--area", "KP1", "--send-at", "8h sáng mai"])
    assert r.exit_code == 1 and "--send-at must be an ISO 8601 time" in r.output
    r = runner.invoke(args=["announcements", "list"])
    assert r.exit_code == 0 and "Cắt điện" in r.output and "scheduled" in r.output
    r = runner.invoke(args=["announcements", "show", str(a.id)])
    assert r.exit_code == 0 and "Khu phố 1 [KP1]" in r.output and "deliveries: 0" in r.output
    residents = fake_outcomes(db, a)
    r = runner.invoke(args=["announcements", "coverage", str(a.id)])
    assert r.exit_code == 0 and "TOTAL" in r.output and "landline or unreachable carrier" in r.output
    r = runner.invoke(args=["announcements", "coverage", str(a.id), "--csv"])
    rows = list(csv.DictReader(io.StringIO(r.output.lstrip("\ufeff"))))
    total = next(x for x in rows if x["area"] == "*" and x["audience"] == "all")
    assert int(total["targeted"]) == len(residents) + int(total["not_sent"])
    r = runner.invoke(args=["announcements", "cancel", str(a.id)])
    assert r.exit_code == 0 and db.get(Announcement, a.id).status in ("cancelled",)
    r = runner.invoke(args=["announcements", "cancel", str(a.id)])
    assert r.exit_code == 1 and "can no longer be cancelled" in r.output
    assert runner.invoke(args=["announcements", "show", "999"]).exit_code == 1
