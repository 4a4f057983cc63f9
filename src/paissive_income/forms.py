"""The base of every HTML form: CSRF protection and the shared rule for text (``text.py``)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField

from paissive_income.text import control_character_error


class SafeForm(FlaskForm):
    """A CSRF-protected form that refuses control characters in every one of its text fields."""

    def validate(self, extra_validators=None) -> bool:
        """Run the fields' own validators, then the text rule on every field holding text."""
        valid = super().validate(extra_validators)
        for field in self:
            if not isinstance(field.data, str):
                continue
            error = control_character_error(field.data, multiline=isinstance(field, TextAreaField))
            if error:
                field.errors = [*field.errors, f"{field.label.text} {error}."]
                valid = False
        return valid


class ActionForm(SafeForm):
    """A form with nothing but its CSRF token (logout, revoke, delete)."""
