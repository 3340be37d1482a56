"""Minority languages (issue 20 point 5): a commune's languages, a household's language in the lists
officials keep, and the settings that add them. The hotline, calls, loudspeakers, coverage and compose
per language are in tests/test_languages_voice.py."""
import csv
import io
import json

import pytest
from sqlalchemy import select

from gateway import languages
from gateway.areas import settings
from gateway.models import Area, Resident
from gateway.residents import export_csv, import_residents


def commune(db, code="TANLAP"):
    return db.scalar(select(Area).where(Area.level == "commune", Area.code == code))


def add_languages(db, text="blt, mtq", code="TANLAP"):
    settings.apply(db, commune(db, code), {"languages": text})
    db.commit()


def test_the_codes_are_iso_639_3_as_debian_lists_them():
    """The catalogue's codes name the languages the README says (Debian's iso-codes, when installed)."""
    path = "/usr/share/iso-codes/json/iso_639-3.json"
    try:
        with open(path, encoding="utf-8") as f:
            iso = {row["alpha_3"]: row["name"] for row in json.load(f)["639-3"]}
    except FileNotFoundError:
        pytest.skip("iso-codes is not installed")
    expected = {"blt": "Tai Dam", "twh": "Tai Dón", "mtq": "Muong", "bru": "Eastern Bru", "scb": "Chut",
                "tyz": "Tày", "nut": "Nung (Viet Nam)", "khm": "Khmer", "cjm": "Eastern Cham", "hnj": "Hmong Njua",
                "ium": "Iu Mien", "jra": "Jarai", "rad": "Rade"}
    assert set(expected) == set(languages.KNOWN)
    assert {code: iso[code] for code in expected} == expected


LANG_CHANG = {"vi": "Tiếng Việt", "blt": "Tiếng Thái (Thái Đen)", "mtq": "Tiếng Mường"}

# (what the household list says, the code stored; or the start of the reason it is refused)
HOUSEHOLD_CASES = [
    ("", "vi"),
    ("   ", "vi"),
    ("Tiếng Việt", "vi"),
    ("tiếng việt", "vi"),
    ("vi", "vi"),
    ("Thái", "blt"),
    ("tiếng Thái", "blt"),
    ("THÁI ĐEN", "blt"),
    ("Thai den", "blt"),
    ("blt", "blt"),
    ("BLT", "blt"),
    ("Mường", "mtq"),
    ("Tiếng Mường", "mtq"),
    ("muong", "mtq"),
    ("Tie\u0302\u0301ng Mu\u031bo\u031b\u0300ng", "mtq"),  # combining marks (NFD) as some spreadsheets write
    ("Chứt", "ERR:Ngôn ngữ 'Chứt' chưa có ở xã này"),
    ("bru", "ERR:Ngôn ngữ 'bru' chưa có ở xã này"),
    ("Tiếng Anh", "ERR:Ngôn ngữ 'Tiếng Anh' chưa có"),
]


@pytest.mark.parametrize("text, expected", HOUSEHOLD_CASES)
def test_a_households_language_is_read_as_written(text, expected):
    if expected.startswith("ERR:"):
        with pytest.raises(ValueError) as err:
            languages.parse(text, LANG_CHANG)
        assert str(err.value).startswith(expected[4:])
        assert "Tiếng Thái (Thái Đen), Tiếng Mường" in str(err.value)  # what the commune has
    else:
        assert languages.parse(text, LANG_CHANG) == expected


# (the settings field, the languages stored; or the start of the reason it is refused)
SETTING_CASES = [
    ("blt, mtq", {"blt": "Tiếng Thái (Thái Đen)", "mtq": "Tiếng Mường"}),
    ("Bru-Vân Kiều; Chứt", {"bru": "Tiếng Bru-Vân Kiều", "scb": "Tiếng Chứt"}),
    ("tiếng Mường", {"mtq": "Tiếng Mường"}),
    ("vi, blt", {"blt": "Tiếng Thái (Thái Đen)"}),  # Vietnamese is always there
    ("xmn=Tiếng Xinh Mun", {"xmn": "Tiếng Xinh Mun"}),
    ("", {}),
    ("xyz", "ERR:Chưa biết tên của mã 'xyz'"),
    ("tiếng Thái Lan", "ERR:'tiếng Thái Lan' không phải ngôn ngữ đã biết"),
    ("12=Số", "ERR:'12=Số' không phải"),
    (", ".join(list(languages.KNOWN)[:9]), "ERR:Nhiều nhất 8 ngôn ngữ"),
]


@pytest.mark.parametrize("text, expected", SETTING_CASES)
def test_the_communes_languages_setting(text, expected):
    if isinstance(expected, str):
        with pytest.raises(ValueError) as err:
            languages.parse_setting(text)
        assert str(err.value).startswith(expected[4:])
    else:
        assert languages.parse_setting(text) == expected
        assert languages.parse_setting(languages.setting_text(expected)) == expected


def test_languages_are_inherited_from_the_commune_and_the_choice_keys_follow_their_order(db, demo):
    add_languages(db, "mtq, blt")
    kp5 = db.scalar(select(Area).where(Area.code == "KP5"))
    assert languages.of_area(kp5) == {"vi": "Tiếng Việt", "mtq": "Tiếng Mường", "blt": "Tiếng Thái (Thái Đen)"}
    assert languages.of_area(kp5.children[0]) == languages.of_area(kp5)
    assert languages.choice_keys(languages.of_area(kp5)) == {"1": "vi", "2": "mtq", "3": "blt"}
    assert languages.choice_texts(languages.of_area(kp5)) == {
        "language_vi": "Bấm 1 nghe tiếng Việt.", "language_mtq": "Bấm 2 nghe tiếng Mường.",
        "language_blt": "Bấm 3 nghe tiếng Thái (Thái Đen)."}
    assert languages.of_area(None) == {"vi": "Tiếng Việt"}


def test_a_neighbourhood_cannot_set_languages_of_its_own(db, demo):
    kp5 = db.scalar(select(Area).where(Area.code == "KP5"))
    with pytest.raises(settings.SettingsError) as err:
        settings.apply(db, kp5, {"languages": "blt"})
    assert "chỉ đặt cho cả xã/phường" in err.value.errors["languages"]


def test_cli_adds_and_shows_the_communes_languages(app, demo, runner):
    bad = runner.invoke(args=["areas", "settings", "TANLAP", "--languages", "klingon"])
    assert bad.exit_code != 0 and "'klingon' không phải ngôn ngữ đã biết" in bad.output
    done = runner.invoke(args=["areas", "settings", "TANLAP", "--languages", "Bru-Vân Kiều, scb"])
    assert done.exit_code == 0, done.output
    assert "Ngôn ngữ khác ngoài tiếng Việt: bru, scb" in done.output
    with app.app_context():
        from gateway.db import get_db

        assert commune(get_db()).settings["languages"] == {"bru": "Tiếng Bru-Vân Kiều", "scb": "Tiếng Chứt"}
    cleared = runner.invoke(args=["areas", "settings", "TANLAP", "--languages", ""])
    assert cleared.exit_code == 0 and "Ngôn ngữ khác ngoài tiếng Việt: (theo cấp trên)" in cleared.output


HEADER = "Họ tên,Số điện thoại,Khu phố,Ngôn ngữ\n"
# (row, the language stored; or the start of the row's reason)
IMPORT_CASES = [
    ("Lò Văn Pọm,0912 000 001,Khu phố 1,Thái", "blt"),
    ("Hà Thị Mai,0912 000 002,Khu phố 2,tiếng Mường", "mtq"),
    ("Nguyễn Văn An,0912 000 003,Khu phố 3,", "vi"),
    ("Trần Văn Bình,0912 000 004,Khu phố 4,Tiếng Việt", "vi"),
    ("Hồ Văn Xa,0912 000 005,Khu phố 5,Chứt", "ERR:Ngôn ngữ 'Chứt' chưa có ở xã này"),
]


@pytest.mark.parametrize("row, expected", IMPORT_CASES)
def test_household_import_reads_the_language_column(db, demo, row, expected):
    add_languages(db)
    report = import_residents(db, "ho-dan.csv", (HEADER + row + "\n").encode("utf-8"))
    phone = "+84" + row.split(",")[1].replace(" ", "")[1:]
    if expected.startswith("ERR:"):
        assert not report.committed
        assert report.rows[0].status == "rejected" and report.rows[0].reason.startswith(expected[4:])
        assert db.scalar(select(Resident).where(Resident.phone == phone)) is None
    else:
        assert report.committed, report.rows[0].reason
        assert db.scalar(select(Resident).where(Resident.phone == phone)).language == expected


def test_without_a_language_column_an_update_keeps_the_households_language(db, demo):
    add_languages(db)
    import_residents(db, "a.csv", (HEADER + "Lò Văn Pọm,0912 000 001,Khu phố 1,Thái\n").encode("utf-8"))
    report = import_residents(db, "b.csv", "Họ tên,Số điện thoại,Khu phố\nLò Văn Pọm,0912 000 001,Khu phố 1\n"
                              .encode("utf-8"))
    assert [r.status for r in report.rows] == ["unchanged"]
    assert db.scalar(select(Resident).where(Resident.phone == "+84912000001")).language == "blt"


def test_export_writes_the_language_and_import_reads_it_back(db, demo):
    add_languages(db)
    import_residents(db, "a.csv", (HEADER + "Lò Văn Pọm,0912 000 001,Khu phố 1,Thái đen\n"
                                   "Hà Thị Mai,0912 000 002,Khu phố 2,Mường\n").encode("utf-8"))
    rows = list(csv.reader(io.StringIO(export_csv(db).decode("utf-8-sig"))))
    header = rows[0]
    assert header[-1] == "Ngôn ngữ"
    by_phone = {r[1].replace(" ", ""): r for r in rows[1:]}
    assert by_phone["0912000001"][-1] == "Tiếng Thái (Thái Đen)"
    assert by_phone["0912000002"][-1] == "Tiếng Mường"
    assert {r[-1] for r in rows[1:] if r[1].replace(" ", "") not in ("0912000001", "0912000002")} == {"Tiếng Việt"}
    # Back in, every household keeps its language (and nothing else changed).
    db.execute(Resident.__table__.update().values(language="vi"))
    db.commit()
    report = import_residents(db, "export.csv", "\ufeff".encode() + "\r\n".join(",".join(r) for r in rows).encode())
    assert report.committed, [r.reason for r in report.rows if r.reason]
    assert {r.phone: r.language for r in db.scalars(select(Resident).where(Resident.language != "vi"))} == {
        "+84912000001": "blt", "+84912000002": "mtq"}


def test_console_settings_add_languages_and_a_prompt_recording_in_one(client, app, demo):
    from tests.audio_helpers import speech_wav
    from tests.console_helpers import login

    token = login(client)
    url = f"/console/areas/{demo}/settings"
    base = {"csrf_token": token, "hotline_numbers": "0263 3822 123", "quiet_hours": "21:00-06:30",
            "group_target": "outbox", "group_chat_id": "tanlap-main", "prompt_key": ""}
    bad = client.post(url, data={**base, "languages": "blt, klingon"}, content_type="multipart/form-data")
    assert bad.status_code == 400 and "&#39;klingon&#39; không phải ngôn ngữ đã biết" in bad.get_data(as_text=True)
    assert client.post(url, data={**base, "languages": "blt, mtq"},
                       content_type="multipart/form-data").status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert 'value="blt, mtq"' in page and '<option value="blt">Tiếng Thái (Thái Đen)</option>' in page
    assert '<option value="language_blt">' in page  # the choice line is a prompt of this commune now
    wav = speech_wav("Bấm hai nghe tiếng Thái")
    r = client.post(url, data={**base, "languages": "blt, mtq", "prompt_key": "language_blt", "prompt_language": "blt",
                               "prompt_file": (io.BytesIO(wav), "bam-2.wav")}, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)
    with app.app_context():
        from gateway.db import get_db
        from gateway.ivr.prompts import recordings_of

        commune_row = commune(get_db())
        thai = languages.prompt_recordings(commune_row, "blt")
        assert list(thai) == ["language_blt"] and recordings_of(commune_row) == {}
    assert "Tiếng Thái (Thái Đen): language_blt" in client.get(url).get_data(as_text=True)
    # Dropping the language drops its recordings with it.
    assert client.post(url, data={**base, "languages": "mtq"}, content_type="multipart/form-data").status_code == 302
    with app.app_context():
        from gateway.db import get_db

        assert "language_prompts" not in commune(get_db()).settings
        assert languages.of_area(commune(get_db())) == {"vi": "Tiếng Việt", "mtq": "Tiếng Mường"}


def test_console_household_language_is_checked_against_the_commune(client, app, demo):
    from tests.console_helpers import login, post

    with app.app_context():
        from gateway.db import get_db

        add_languages(get_db())
        kp1 = get_db().scalar(select(Area).where(Area.code == "KP1")).id
    token = login(client)
    form = {"name": "Lò Thị Xuân", "phone": "0912 000 009", "area_id": str(kp1), "household_code": "", "notes": ""}
    refused = post(client, "/console/residents/new", token, {**form, "language": "Chứt"})
    assert refused.status_code == 400 and "Ngôn ngữ &#39;Chứt&#39; chưa có ở xã này" in refused.get_data(as_text=True)
    saved = post(client, "/console/residents/new", token, {**form, "language": "Thái"})
    assert saved.status_code == 302
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert 'value="Tiếng Thái (Thái Đen)"' in page
    with app.app_context():
        from gateway.db import get_db

        assert get_db().scalar(select(Resident).where(Resident.phone == "+84912000009")).language == "blt"


API = "/api/announcements"


@pytest.mark.parametrize("recordings, status, error", [
    ({"blt": "THAI"}, 201, None),
    ({"blt": "THAI", "mtq": "THAI"}, 201, None),
    ({"bru": "THAI"}, 400, "language 'bru' is not an extra language of these areas"),
    ({"vi": "THAI"}, 400, "language 'vi' is not an extra language"),
    ({"blt": 99999}, 400, "recordings.blt is unknown"),
    ({"blt": "12"}, 400, "recordings.blt is unknown"),
    ({"blt": True}, 400, "recordings.blt is unknown"),
    (["blt"], 400, "recordings must be an object"),
])
def test_the_api_takes_a_recording_per_language(client, db, demo, recordings, status, error):
    from gateway.auth import issue_token
    from gateway.models import Announcement, Official
    from tests.audio_helpers import speech_wav

    add_languages(db)
    token = issue_token(db, db.scalar(select(Official).where(Official.login == "admin")))
    headers = {"Authorization": f"Bearer {token}"}
    r = client.post(f"{API}/recordings", data={"file": (io.BytesIO(speech_wav("Thông báo họp bản tối nay, đọc bằng tiếng Thái.")), "thai.wav")},
                    headers=headers, content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    thai = r.json["id"]
    if isinstance(recordings, dict):
        recordings = {k: thai if v == "THAI" else v for k, v in recordings.items()}
    r = client.post(API, json={"title": "Họp bản", "body": "Tối nay họp bản.", "areas": ["KP1"],
                               "recordings": recordings}, headers=headers)
    assert r.status_code == status, r.json
    if error:
        assert error in r.json["error"]
        assert db.scalar(select(Announcement).where(Announcement.title == "Họp bản")) is None
    else:
        ann = db.get(Announcement, r.json["id"])
        assert {c: row.recording_id for c, row in languages.recordings(db, ann).items()} == recordings
