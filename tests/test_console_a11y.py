"""The console's colours: every text/background pair of the palette meets WCAG AA (4.5:1)."""
import os
import re

CSS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "gateway", "console", "static", "console.css")
# (text, background) pairs the stylesheet uses for text.
PAIRS = [
    ("text", "bg"), ("text", "surface"), ("muted", "bg"), ("muted", "surface"), ("link", "bg"), ("link", "surface"),
    ("on-primary", "primary"), ("nav-text", "nav-bg"), ("error", "error-bg"), ("success", "success-bg"),
    ("info", "info-bg"), ("on-danger", "danger"), ("badge-text", "badge-bg"), ("error", "surface"),
    ("success", "surface"), ("link", "info-bg"), ("warn", "warn-bg"), ("wait", "wait-bg"), ("muted", "badge-bg"),
]


def palette():
    with open(CSS, encoding="utf-8") as f:
        root = re.search(r":root\s*\{([^}]*)\}", f.read()).group(1)
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", root))


def luminance(hex_colour):
    """Relative luminance (WCAG 2.x) of an sRGB colour."""
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a, b):
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula_matches_known_values():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48  # the classic "just fails AA" grey
    assert contrast("#ffffff", "#ffffff") == 1


def test_palette_pairs_meet_aa():
    colours = palette()
    assert len(colours) >= 20
    failing = {f"{fg} on {bg}": round(contrast(colours[fg], colours[bg]), 2) for fg, bg in PAIRS
               if contrast(colours[fg], colours[bg]) < 4.5}
    assert not failing, failing


def test_every_colour_in_the_stylesheet_comes_from_the_palette():
    """Rules use var(--…) only, so the pairs above are every colour a person reads."""
    with open(CSS, encoding="utf-8") as f:
        rules = re.sub(r":root\s*\{[^}]*\}", "", f.read())
    assert not re.findall(r"#[0-9a-fA-F]{3,6}\b", rules)
