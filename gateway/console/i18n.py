"""The console's words: gettext catalogues, one per language, read through Flask-Babel.

The messages live in translations/<lang>/LC_MESSAGES/messages.po: each msgid is the key the code
uses and vi/ holds the source text. The .mo files beside them are what runs; after editing a .po,
`pybabel compile -d gateway/console/translations` (a test fails while a .mo is stale).
Templates and views call `t("key", name=value)`; a plural message takes its form from `count`.
A key missing from a catalogue raises in tests (`strict`) and shows the key itself in
production, so a gap is seen, never a crash.
"""
import logging
import os

from flask_babel import Babel, get_locale, get_translations

log = logging.getLogger(__name__)
LANGUAGES = ("vi", "en")
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}
TRANSLATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "translations")


def init_app(app, *, locale_selector):
    """Flask-Babel on `app`: our catalogues, Vietnamese by default, the language `locale_selector()` names."""
    # Templates translate through t() only (no second gettext in Jinja): configure_jinja=False.
    Babel(app, configure_jinja=False, default_locale="vi", default_translation_directories=TRANSLATIONS,
          locale_selector=locale_selector)


def message(key, count=None):
    """The text of `key` in the request's language (the form for `count` when it is plural), or None."""
    translations = get_translations()
    # gettext() would give a plural message's singular form, so a count asks ngettext() first.
    text = key if count is None else translations.ngettext(key, key, count)
    if text == key:
        text = translations.gettext(key)
    return None if text == key else text


def translate(key, *, strict=False, **values):
    """The text of `key` in the request's language with `values` filled in."""
    text = message(key, values.get("count"))
    if text is None:
        if strict:
            raise KeyError(f"console message {key!r} missing for {get_locale()}")
        log.warning("console message missing key=%s lang=%s", key, get_locale())
        return key
    return text.format(**values) if values else text


def mo_path(lang):
    """The compiled catalogue of `lang`."""
    return os.path.join(TRANSLATIONS, lang, "LC_MESSAGES", "messages.mo")


def catalogue(lang):
    """{key: text} of the compiled catalogue of `lang`; a plural message's text is the tuple of its forms."""
    from babel.messages.mofile import read_mo

    with open(mo_path(lang), "rb") as f:
        return {m.id[0] if m.pluralizable else m.id: m.string for m in read_mo(f) if m.id}
