"""Every way a resident writes a phone number is masked where others read it: the group post,
a status note in the group, and the public Open311 output (issue 14, item 4)."""
import re

import pytest
from sqlalchemy import select

from gateway.reports.casework import change_status
from gateway.models import OutboxMessage
from gateway.queue import drain
from tests.test_casework import new_report

# The forms that reached the group and the public in full before mask_text.
FORMS = ["0912,345,678", "0912/345/678", "0912_345_678", "0912–345–678", "0912 - 345 - 678", "+84 912 345 678",
         "84912345678", "0912.345.678", "(091) 234 5678", "0168 123 4567"]
HIDDEN = {"0168 123 4567": "xxxxxxx567"}


def full(text):
    """`text` with the separators between digits removed, to find a full number however written."""
    return re.sub(r"(?<=\d)[^\w+]+(?=\d)|_", "", text)


def assert_masked(shown, form):
    digits = re.sub(r"\D", "", form)
    assert digits[-9:] not in full(shown)
    assert HIDDEN.get(form, "xxxxxxx678") in shown


def group_bodies(db):
    return [m.body for m in db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "group")
                                       .order_by(OutboxMessage.id))]


@pytest.mark.parametrize("form", FORMS)
def test_group_post_masks_every_form(app, db, demo, form):
    new_report(db, text=f"Có người lạ đi hỏi nhà ông Tư, gọi {form} nhé. Vay 10.000.000 đồng ngày 14/8/2024")
    drain(app)
    [body] = group_bodies(db)
    assert_masked(body, form)
    assert "10.000.000 đồng ngày 14/8/2024" in body  # money and dates stay readable


@pytest.mark.parametrize("form", FORMS)
def test_status_note_in_the_group_masks_every_form(app, db, demo, form):
    report = new_report(db, text="Đèn đường hỏng")
    change_status(db, report, "in_progress", note=f"Đã báo điện lực, anh Nam {form} sẽ đến lúc 8:30")
    db.commit()
    drain(app)
    status = [b for b in group_bodies(db) if "sẽ đến" in b]
    assert len(status) == 1
    assert_masked(status[0], form)
    assert "lúc 8:30" in status[0]


@pytest.mark.parametrize("form", FORMS)
def test_public_open311_output_masks_every_form(client, db, demo, form):
    report = new_report(db, text=f"Cống tắc ở hẻm 12, liên hệ {form}")
    change_status(db, report, "in_progress", note=f"Tổ 3 đang xử lý, số {form}")
    db.commit()
    [item] = client.get("/open311/v2/requests.json").get_json()
    assert_masked(item["description"], form)
    assert_masked(item["status_notes"], form)
    assert "hẻm 12" in item["description"] and "Tổ 3" in item["status_notes"]
    for path in ("/open311/v2/requests.json", "/open311/v2/requests.xml", f"/open311/v2/requests/{report.number}.json"):
        body = client.get(path).get_data(as_text=True)
        assert re.sub(r"\D", "", form)[-9:] not in full(body), path
