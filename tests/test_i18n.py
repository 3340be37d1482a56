"""The console's gettext catalogues (gateway/console/translations) read through Flask-Babel."""
import logging

import pytest
from babel import Locale
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import session

from gateway.console import i18n
from gateway.console.base import label, t


def entries(catalog):
    def plain(value):
        return value if isinstance(value, str) else tuple(value)

    return {plain(m.id): plain(m.string) for m in catalog if m.id}


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_each_compiled_catalogue_matches_its_po_file(lang):
    # The .mo is what runs: a .po edited without `pybabel compile` fails here.
    with open(i18n.mo_path(lang)[:-3] + ".po", "rb") as f:
        po = read_po(f, locale=lang)
    with open(i18n.mo_path(lang), "rb") as f:
        mo = read_mo(f)
    assert len(po) > 500 and entries(po) == entries(mo)
    assert not [m.id for m in po if m.id and (m.fuzzy or not m.string or not all(m.string))]  # nothing untranslated


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_console_language_is_a_locale_babel_knows_with_a_catalogue(lang):
    # Flask-Babel parses the selected language as a CLDR locale: an unknown code fails every request.
    assert Locale.parse(lang).language == lang
    assert i18n.catalogue(lang).keys() == i18n.catalogue("vi").keys()


def speak(app, lang, key, **values):
    with app.test_request_context("/console/"):
        session["lang"] = lang
        return t(key, **values)


@pytest.mark.parametrize("lang, count, text", [
    ("en", 1, "1 household"),
    ("en", 2, "2 households"),
    ("en", 0, "0 households"),
    ("vi", 1, "1 hộ"),
    ("vi", 7, "7 hộ"),
])
def test_a_plural_message_takes_the_form_of_its_count(app, lang, count, text):
    assert speak(app, lang, "res.count", count=count) == text


@pytest.mark.parametrize("lang, text", [("vi", "Đăng xuất"), ("en", "Log out")])
def test_the_session_language_picks_the_catalogue(app, lang, text):
    assert i18n.catalogue(lang)["nav.logout"] == text
    assert speak(app, lang, "nav.logout") == text


def test_values_fill_the_placeholders(app):
    assert speak(app, "en", "ann.err_title_long", n=120) == "The title is longer than 120 characters."
    assert speak(app, "vi", "ann.err_title_long", n=120) == "Tiêu đề dài quá 120 ký tự."


def test_a_missing_key_raises_in_tests_and_shows_itself_in_production(app, caplog):
    with pytest.raises(KeyError, match="no.such.key"):
        speak(app, "vi", "no.such.key")
    app.testing = False
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.console.i18n"):
            assert speak(app, "en", "no.such.key") == "no.such.key"
    finally:
        app.testing = True
    assert "console message missing key=no.such.key lang=en" in caplog.text


def test_label_translates_known_values_and_keeps_unknown_ones(app):
    with app.test_request_context("/console/"):
        session["lang"] = "en"
        assert label("rchannel", "sms") == i18n.catalogue("en")["rchannel.sms"] != "sms"
        assert label("rchannel", "carrier-pigeon") == "carrier-pigeon"
