"""Colour contrast computed from app.css itself, light and dark: a future colour change is caught.

WCAG 2.2: text 4.5:1 (1.4.3); focus rings and control borders 3:1 against what they sit on
(1.4.11). Relative luminance and contrast ratio as defined in WCAG 2.2's glossary.
"""

import re
from pathlib import Path

import pytest

CSS = (
    Path(__file__).parents[2] / "src" / "paissive_income" / "web" / "static" / "app.css"
).read_text()


def _variables(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\b", block))


def _palettes() -> dict[str, dict[str, str]]:
    light = _variables(re.search(r"^:root \{(.*?)\}", CSS, re.S | re.M).group(1))
    dark_block = re.search(r"@media \(prefers-color-scheme: dark\) \{\s*:root \{(.*?)\}", CSS, re.S)
    return {"light": light, "dark": {**light, **_variables(dark_block.group(1))}}


def luminance(colour: str) -> float:
    """Return the WCAG relative luminance of a #rgb or #rrggbb colour."""
    hex_digits = colour.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(c * 2 for c in hex_digits)
    channels = [int(hex_digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """Return the WCAG contrast ratio of two colours (1 to 21)."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_formula_on_known_pairs():
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#ffbf47", "#fff") == pytest.approx(1.64, abs=0.01)  # the old focus ring
    assert contrast("#d9dee5", "#fff") == pytest.approx(1.35, abs=0.01)  # the old input border


TEXT = [  # (foreground, background): text and links on the page and on cards
    ("fg", "bg"), ("fg", "card"), ("muted", "bg"), ("muted", "card"),
    ("primary", "bg"), ("primary", "card"), ("danger", "bg"), ("danger", "card"),
    ("ok", "card"), ("primary-fg", "primary"), ("danger-fg", "danger"),
]  # fmt: skip
UI = [  # (component colour, what it sits next to)
    ("focus", "bg"), ("focus", "card"),
    ("control-border", "bg"), ("control-border", "card"),  # inputs are filled with --bg on cards
    ("danger", "bg"), ("danger", "card"),  # an invalid input's border
]  # fmt: skip


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize(("fg", "bg"), TEXT)
def test_text_contrast_is_at_least_4_5(mode, fg, bg):
    palette = _palettes()[mode]
    assert contrast(palette[fg], palette[bg]) >= 4.5, (mode, fg, bg)


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize(("part", "against"), UI)
def test_focus_ring_and_control_borders_are_at_least_3(mode, part, against):
    palette = _palettes()[mode]
    assert contrast(palette[part], palette[against]) >= 3, (mode, part, against)


def test_the_rules_use_those_variables():
    rules = dict(re.findall(r"^([^{}@\n][^{}]*?)\s*\{([^{}]*)\}", CSS, re.M))
    assert (
        "var(--focus)" in rules[":focus-visible"]
        and "outline: 3px solid" in rules[":focus-visible"]
    )
    assert "border: 1px solid var(--control-border)" in rules["input, select, textarea"]
    assert "var(--control-border)" in rules[".button"]
    assert "color: var(--danger-fg)" in rules[".button.danger"]
    # No hard-coded colour outside the palettes: a change has to go through the variables.
    outside = re.sub(r":root \{.*?\}", "", CSS, flags=re.S)
    assert not re.findall(r"#[0-9a-fA-F]{3,6}\b", outside)
