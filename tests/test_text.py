"""The one text rule: the check and the pattern documented in OpenAPI refuse the same text."""

import re

import jsonschema_rs
from hypothesis import given
from hypothesis import strategies as st

from paissive_income.text import (
    MULTI_LINE_PATTERN,
    SINGLE_LINE_PATTERN,
    VISIBLE_LINE_PATTERN,
    check_text,
    control_character_error,
)

# Text as JSON carries it (no lone surrogates), biased towards the characters that matter.
TEXT = st.text(
    st.one_of(st.characters(max_codepoint=0xA0), st.characters(exclude_categories=["Cs"]))
)


@given(TEXT)
def test_single_line_pattern_and_check_agree(text):
    assert (re.fullmatch(SINGLE_LINE_PATTERN, text) is not None) == (
        control_character_error(text) is None
    )


@given(TEXT)
def test_multi_line_pattern_and_check_agree(text):
    assert (re.fullmatch(MULTI_LINE_PATTERN, text) is not None) == (
        control_character_error(text, multiline=True) is None
    )


@given(TEXT)
def test_visible_line_pattern_is_single_line_text_with_something_visible(text):
    visible = control_character_error(text) is None and text.strip() != ""
    assert (re.fullmatch(VISIBLE_LINE_PATTERN, text) is not None) == visible


def test_patterns_are_valid_json_schema_regexes():
    for pattern in (SINGLE_LINE_PATTERN, MULTI_LINE_PATTERN, VISIBLE_LINE_PATTERN):
        validator = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
        assert validator.is_valid("plain text") and not validator.is_valid("nul\x00")


def test_lone_surrogates_and_controls_are_refused_with_their_code_point():
    assert control_character_error("a\ud800") == (
        "must not contain control characters (found U+D800)"
    )
    assert control_character_error("line\nbreak") is not None
    assert control_character_error("line\r\nbreak\ttab", multiline=True) is None
    assert check_text("ünïcode ✓ \u2028") == "ünïcode ✓ \u2028"
