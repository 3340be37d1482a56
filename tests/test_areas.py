"""Finding areas from what people type."""
import pytest

from gateway.areas import area_key, match_area


@pytest.mark.parametrize("typed, name", [
    ("KP5", "Khu phố 5"), ("kp 5", "Khu phố 5"), ("Khu phố 5", "Khu phố 5"), ("khu pho 05", "Khu phố 5"),
    ("KHU PHO 5", "Khu phố 5"), ("5", "Khu phố 5"), ("thôn Tân Lợi", "Thôn Tân Lợi"),
    ("TANLOI", "Thôn Tân Lợi"), ("tan loi", "Thôn Tân Lợi"), ("Thon Tan Loi", "Thôn Tân Lợi"),
    ("Đông Hòa", "Thôn Đông Hòa"), ("dong hoa", "Thôn Đông Hòa"),
])
def test_match_area(db, demo, typed, name):
    match = match_area(db, typed, levels=("neighbourhood",))
    assert match.area is not None and match.area.name == name


def test_similar_names_are_offered(db, demo):
    match = match_area(db, "Tan Loii", levels=("neighbourhood",))
    assert match.area is None and [a.name for a in match.candidates][:1] == ["Thôn Tân Lợi"]


def test_ambiguous_name_lists_the_matches(db, demo):
    # "Tổ 1" exists in every neighbourhood.
    match = match_area(db, "To 1", levels=("team",))
    assert match.area is None and len(match.candidates) == 14


def test_nothing_like_it(db, demo):
    assert match_area(db, "zzzz").area is None and match_area(db, "zzzz").candidates == []
    assert match_area(db, "").area is None


def test_area_key():
    assert area_key("Khu phố 05") == area_key("KP5") == "kp5"
    assert area_key("Tổ dân phố 3") == area_key("TDP3") == "tdp3"
