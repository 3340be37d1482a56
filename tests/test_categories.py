"""Report categories come from one table (gateway.categories): the hotline's category menu is
read from it and dispatches on its keys, the main menu's prompt from the key table the flow
dispatches on, and SMS guesses, Open311, the group and the console read the same rows. A
prompt recording whose text changed after it was recorded is flagged in the console."""
import pytest
from sqlalchemy import select

from gateway import categories
from gateway.console.i18n import message
from gateway.db import get_db
from gateway.ivr import prompts
from gateway.models import Area, AudioAsset, Report
from gateway.sms.commands import category_of
from tests.console_helpers import login
from tests.ivr_helpers import Call, hotline, hotline_template, shared_audio  # noqa: F401  (fixtures)


def test_the_table_is_whole():
    keys = [c.key for c in categories.CATEGORIES]
    assert len(set(keys)) == len(keys) and len(set(categories.CODES)) == len(categories.CODES)
    assert all(k.isdigit() and len(k) == 1 for k in keys)  # one keypad key each
    assert categories.DEFAULT in categories.CODES and set(categories.GUESS_ORDER) <= set(categories.CODES)
    for c in categories.CATEGORIES:
        assert c.vi and c.en and c.spoken and c.description
        assert bool(c.keywords) == (c.code in categories.GUESS_ORDER)


def test_the_category_menu_is_read_from_the_table_in_key_order():
    text = prompts.PROMPTS["category_menu"]
    positions = [text.index(f"{c.spoken}, bấm {c.key}.") for c in categories.CATEGORIES]
    assert positions == sorted(positions)
    assert text.count("bấm") == len(categories.CATEGORIES)


def test_the_main_menu_is_read_from_the_key_table_the_flow_dispatches_on():
    text = prompts.PROMPTS["menu"]
    assert text.count("bấm") == len(prompts.MAIN_MENU)
    for key, (action, phrase) in prompts.MAIN_MENU.items():
        assert f"{phrase}, bấm {key}." in text
    assert {a for a, _ in prompts.MAIN_MENU.values()} == {"replay", "report", "area", "duty"}
    assert f"bấm {prompts.menu_key_for('report')} để phản ánh" in prompts.PROMPTS["duty_unavailable"]


@pytest.mark.parametrize("category", categories.CATEGORIES, ids=categories.CODES)
def test_each_key_of_the_category_menu_files_its_category(hotline, category):
    call = Call(hotline, hotline.names, sid="CA" + category.key * 32)
    call.inbound()
    call.press(prompts.menu_key_for("report"))
    call.press(category.key)
    call.recorded(sid="RE" + category.key * 32)
    call.press("1")
    with hotline.app_context():
        [report] = get_db().scalars(select(Report))
        assert report.category == category.code


@pytest.mark.parametrize("category", [categories.BY_CODE[c] for c in categories.GUESS_ORDER],
                         ids=categories.GUESS_ORDER)
def test_an_sms_with_a_categorys_words_is_guessed_as_it(category):
    others = {p for c in categories.CATEGORIES if c is not category for p in c.keywords}
    for phrase in category.keywords:
        if any(f" {o} " in f" {phrase} " for o in others):
            continue  # "do trom" (dumping) holds "trom" (theft): a tie, which the more pressing wins
        assert category_of(f"Ở xóm tôi có {phrase} từ hôm qua") == category.code, phrase


def test_sms_without_any_category_word_is_the_default():
    assert category_of("Xin cảm ơn các cán bộ") == categories.DEFAULT


def test_open311_lists_the_tables_services(app):
    services = app.test_client().get("/open311/v2/services.json").get_json()
    assert [(s["service_code"], s["service_name"], s["description"]) for s in services] == \
        [(c.code, c.vi, c.description) for c in categories.CATEGORIES]


def test_the_console_and_the_group_read_the_tables_labels(app):
    from flask_babel import force_locale

    from gateway.console.base import category_label

    with app.test_request_context():
        for c in categories.CATEGORIES:
            with force_locale("vi"):
                assert category_label(c.code) == c.vi == categories.label(c.code)
                assert message(f"category.{c.code}") is None  # not copied into the catalogue
            with force_locale("en"):
                assert category_label(c.code) == c.en == categories.label(c.code, "en")
    assert categories.label("retired-code") == "retired-code"


# --- recorded prompts whose text changed ------------------------------------------------

def recording(db, name="a"):
    asset = AudioAsset(kind="prompt", content_hash=name * 64, status="ready", original_path=f"originals/{name}.wav")
    db.add(asset)
    db.commit()
    return asset.id


def settings_form(client, token, demo, **extra):
    base = {"csrf_token": token, "hotline_numbers": "0263 3822 123", "quiet_hours": "21:00-06:30",
            "group_target": "outbox", "group_chat_id": "tanlap-main"}
    return client.post(f"/console/areas/{demo}/settings", data={**base, **extra})


def test_a_recording_whose_prompt_changed_is_flagged_until_recorded_again(app, client, db, demo):
    token = login(client)
    url = f"/console/areas/{demo}/settings"
    first = recording(db, "a")
    assert settings_form(client, token, demo, prompt_key="greeting", prompt_asset=str(first)).status_code == 302
    commune = db.get(Area, demo)
    db.refresh(commune)
    said = prompts.greeting_text(commune)
    assert commune.settings[prompts.RECORDED_TEXTS_SETTING] == {"greeting": said}
    assert "đã đổi sau khi ghi âm" not in client.get(url).get_data(as_text=True)

    commune.name = "Xã Tân Lập Mới"  # the greeting names the commune: its text is not what was recorded
    db.commit()
    page = client.get(url).get_data(as_text=True)
    assert "Lời &#39;greeting&#39; đã đổi sau khi ghi âm" in page and said in page and "Xã Tân Lập Mới xin chào" in page
    assert prompts.changed_since_recorded(db, commune) == {"greeting": (said, "Xã Tân Lập Mới xin chào bà con.")}

    # Saving the form again keeps the recording, so the flag stays: nothing was recorded anew.
    assert settings_form(client, token, demo, prompt_key="").status_code == 302
    assert "đã đổi sau khi ghi âm" in client.get(url).get_data(as_text=True)

    again = recording(db, "b")
    assert settings_form(client, token, demo, prompt_key="greeting", prompt_asset=str(again)).status_code == 302
    assert "đã đổi sau khi ghi âm" not in client.get(url).get_data(as_text=True)
    db.expire_all()
    assert prompts.changed_since_recorded(db, db.get(Area, demo)) == {}


def test_a_recording_mapped_before_texts_were_kept_is_not_flagged(db, demo):
    commune = db.get(Area, demo)
    commune.settings = {**(commune.settings or {}), prompts.RECORDINGS_SETTING: {"greeting": recording(db)}}
    commune.name = "Xã Khác"
    db.commit()
    assert prompts.changed_since_recorded(db, commune) == {}  # unknown, not invented
