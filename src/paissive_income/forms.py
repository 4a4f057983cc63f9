"""The base of every HTML form: CSRF protection, the text rule (``text.py``) and our wording."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import StopValidation

from paissive_income.text import control_character_error

# WTForms' stock messages, reworded. "{label}" is filled in with the field's label afterwards:
# WTForms asks for a message without saying which field it is for.
PRODUCT_WORDING = {
    "This field is required.": "{label} is required.",
    "Invalid email address.": "Enter an email address like name@example.com.",
    "Not a valid choice.": "{label}: choose one of the options.",
    "Not a valid choice": "{label}: choose one of the options.",
    "Not a valid integer value.": "{label} must be a whole number.",
    "Not a valid decimal value.": "{label} must be a number.",
    "Not a valid float value.": "{label} must be a number.",
    "Field must be at least %(min)d character long.": "{label} needs at least %(min)d characters.",
    "Field cannot be longer than %(max)d character.": "{label} has at most %(max)d characters.",
    "Field must be exactly %(max)d character long.": "{label} needs exactly %(max)d characters.",
    "Field must be between %(min)d and %(max)d characters long.": (
        "{label} needs %(min)d to %(max)d characters."
    ),
    "Field must be equal to %(other_name)s.": "{label} does not match.",
    "Number must be at least %(min)s.": "{label} must be at least %(min)s.",
    "Number must be at most %(max)s.": "{label} must be at most %(max)s.",
    "Number must be between %(min)s and %(max)s.": "{label} must be between %(min)s and %(max)s.",
    "Invalid input.": "{label} is not valid.",
}


class ProductWording:
    """WTForms translations that replace its stock English with the product's own words."""

    def gettext(self, string: str) -> str:
        """Return the product's wording for a stock message (unknown ones pass through)."""
        return PRODUCT_WORDING.get(string, string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """Return the product's wording, keyed by the singular (the wording has no plural)."""
        return PRODUCT_WORDING.get(singular, singular if n == 1 else plural)


class Required:
    """Refuse an empty or blank field with the given message; no other check runs then."""

    field_flags = {"required": True}

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form, field) -> None:
        if not field.data or (isinstance(field.data, str) and not field.data.strip()):
            field.errors[:] = []
            raise StopValidation(self.message)


class SafeForm(FlaskForm):
    """A CSRF-protected form that refuses control characters and speaks the product's words."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            return ProductWording()

    def validate(self, extra_validators=None) -> bool:
        """Run every field's validators (all errors at once), then the text rule on text fields."""
        valid = super().validate(extra_validators)
        for field in self:
            field.errors = [_worded(error, field.label.text) for error in field.errors]
            if not isinstance(field.data, str):
                continue
            error = control_character_error(field.data, multiline=isinstance(field, TextAreaField))
            if error:
                field.errors = [*field.errors, f"{field.label.text} {error}."]
                valid = False
        return valid

    def invalid_fields(self) -> list:
        """Return the fields with errors, in form order, leaving out the hidden CSRF token."""
        return [f for f in self if f.errors and f.type != "CSRFTokenField"]


def _worded(error, label: str):
    return error.replace("{label}", label) if isinstance(error, str) else error


class ActionForm(SafeForm):
    """A form with nothing but its CSRF token (logout, revoke, delete)."""
