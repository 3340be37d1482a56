"""The officials' report API: tokens, area scope, filters, status changes and replies."""
import pytest
from sqlalchemy import select

from gateway.auth import issue_token
from gateway.reports.casework import change_status
from gateway.models import Area, Delivery, Official
from tests.test_casework import new_report


@pytest.fixture
def tokens(db, demo):
    out = {}
    for login in ("admin", "truongkp1", "loa"):
        out[login] = issue_token(db, db.scalar(select(Official).where(Official.login == login)))
    db.commit()
    return out


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_token_is_required(client, tokens):
    assert client.get("/api/reports").status_code == 401
    assert client.get("/api/reports", headers=auth("lx_wrong")).status_code == 401
    assert client.get("/api/reports", headers=auth(tokens["loa"])).status_code == 403  # operators: downloads only


def test_token_is_stored_hashed_and_rotates(db, tokens):
    admin = db.scalar(select(Official).where(Official.login == "admin"))
    assert tokens["admin"] not in (admin.api_token_hash or "") and len(admin.api_token_hash) == 64


def test_leader_sees_only_reports_of_their_areas(client, db, tokens):
    kp1 = new_report(db, code="KP1", text="Rác ở đầu ngõ", category="environment")
    kp5 = new_report(db, code="KP5")
    mine = client.get("/api/reports", headers=auth(tokens["truongkp1"])).get_json()
    assert [r["number"] for r in mine["reports"]] == [kp1.number] and mine["total"] == 1
    everything = client.get("/api/reports", headers=auth(tokens["admin"])).get_json()
    assert [r["number"] for r in everything["reports"]] == [kp5.number, kp1.number]
    assert client.get(f"/api/reports/{kp5.id}", headers=auth(tokens["truongkp1"])).status_code == 404
    detail = client.get(f"/api/reports/{kp1.id}", headers=auth(tokens["truongkp1"])).get_json()
    assert detail["text"] == "Rác ở đầu ngõ" and detail["events"][0]["kind"] == "message_in"
    assert detail["phone_masked"] == "09x xxx x321"


def test_team_reports_count_for_the_neighbourhood_leader(client, db, tokens, demo):
    team = db.scalar(select(Area).where(Area.code == "KP2T1"))
    from gateway.reports.records import open_report

    report = open_report(db, commune=team.commune(), channel="sms", text="x", area=team, phone="+84987654321")
    db.commit()
    got = client.get("/api/reports", headers=auth(tokens["truongkp1"])).get_json()
    assert [r["id"] for r in got["reports"]] == [report.id]
    # Filtering by the neighbourhood includes its teams, as in the console.
    kp2 = team.parent
    by_area = client.get(f"/api/reports?area={kp2.id}", headers=auth(tokens["admin"])).get_json()
    assert [r["id"] for r in by_area["reports"]] == [report.id]
    by_team = client.get(f"/api/reports?area={team.id}", headers=auth(tokens["admin"])).get_json()
    assert [r["id"] for r in by_team["reports"]] == [report.id]


def test_filters(client, db, tokens):
    rubbish = new_report(db, code="KP1", text="Rác ở đầu ngõ", category="environment")
    stranger = new_report(db, code="KP5")
    worked = new_report(db, code="KP2", text="Mất xe đạp")
    change_status(db, worked, "acknowledged")
    db.commit()

    def numbers(query):
        resp = client.get("/api/reports" + query, headers=auth(tokens["admin"]))
        assert resp.status_code == 200, query
        got = resp.get_json()
        return [r["number"] for r in got["reports"]], got["total"]

    assert numbers("?status=new") == ([stranger.number, rubbish.number], 2)
    assert numbers("?category=security") == ([worked.number, stranger.number], 2)
    assert numbers("?status=new&category=environment") == ([rubbish.number], 1)
    assert numbers(f"?area={worked.area_id}") == ([worked.number], 1)
    assert numbers("?limit=2&offset=1") == ([stranger.number, rubbish.number], 3)  # newest first


@pytest.mark.parametrize("query", ["?status=open", "?category=x", "?limit=abc", "?area=abc"])
def test_bad_filters_are_400_with_the_reason(client, db, tokens, query):
    new_report(db)
    resp = client.get("/api/reports" + query, headers=auth(tokens["admin"]))
    assert resp.status_code == 400 and resp.get_json()["error"]


def test_change_status_and_reply(client, db, tokens):
    report = new_report(db, code="KP1")
    url = f"/api/reports/{report.id}"
    ok = client.post(url + "/status", json={"status": "acknowledged", "note": "Đã nhận"},
                     headers=auth(tokens["truongkp1"]))
    assert ok.status_code == 200 and ok.get_json()["status"] == "acknowledged"
    again = client.post(url + "/status", json={"status": "acknowledged"}, headers=auth(tokens["truongkp1"]))
    assert again.status_code == 409 and "cannot become" in again.get_json()["error"]
    assert client.post(url + "/status", json={"status": "done"}, headers=auth(tokens["admin"])).status_code == 400
    reply = client.post(url + "/reply", json={"text": "Chiều nay tổ sẽ đến."}, headers={
        **auth(tokens["truongkp1"]), "Idempotency-Key": "r1"})
    assert reply.status_code == 200 and reply.get_json()["relayed"] is True
    repeat = client.post(url + "/reply", json={"text": "Chiều nay tổ sẽ đến."}, headers={
        **auth(tokens["truongkp1"]), "Idempotency-Key": "r1"})
    assert repeat.get_json()["relayed"] is False
    bodies = [d.body for d in db.scalars(select(Delivery).where(Delivery.report_id == report.id).order_by(Delivery.id))]
    assert bodies == [f"Phan anh #{report.number} da duoc tiep nhan. Đã nhận",
                      f"Tra loi phan anh #{report.number}: Chiều nay tổ sẽ đến."]
    assert client.post(url + "/reply", json={"text": " "}, headers=auth(tokens["admin"])).status_code == 400
    assert client.post(url + "/reply", json={"text": "x" * 601}, headers=auth(tokens["admin"])).status_code == 400
    other = new_report(db, code="KP5")
    assert client.post(f"/api/reports/{other.id}/status", json={"status": "resolved"},
                       headers=auth(tokens["truongkp1"])).status_code == 404


def test_cli_works_reports(app, db, demo):
    report = new_report(db, code="KP1")
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["reports", "list"])
    assert f"#{report.number}" in listed.output and "09x xxx x321" in listed.output
    denied = runner.invoke(args=["reports", "status", str(report.number), "resolved", "--as", "tanloi"])
    assert denied.exit_code != 0 and "does not look after" in denied.output
    done = runner.invoke(args=["reports", "status", str(report.number), "resolved", "--as", "truongkp1",
                               "--note", "Đã dọn"])
    assert done.exit_code == 0, done.output
    shown = runner.invoke(args=["reports", "show", str(report.number)])
    assert "status=resolved truongkp1: Đã dọn" in shown.output
    bad = runner.invoke(args=["reports", "status", str(report.number), "acknowledged", "--as", "admin"])
    assert bad.exit_code != 0 and "cannot become" in bad.output
    token = runner.invoke(args=["officials", "token", "admin"]).output.strip()
    assert token.startswith("lx_")
    assert app.test_client().get("/api/reports", headers=auth(token)).status_code == 200
