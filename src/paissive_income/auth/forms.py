"""WTForms for login, registration, passwords, tokens and user administration.

Every check that can fail is here, so one submission reports every field's errors at once,
in the product's words; the service's own checks are the same rules (``schemas.py``).
"""

from pydantic import ValidationError as SchemaError
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import EqualTo, Length, ValidationError

from paissive_income.auth.schemas import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, normalise_email
from paissive_income.forms import Required, SafeForm
from paissive_income.text import control_character_error

MAX_EMAIL_LENGTH = 254
ENTER_EMAIL = "Enter your email address."
NEW_PASSWORD_HINT = f"At least {MIN_PASSWORD_LENGTH} characters."


def email_address(_form, field) -> None:
    """Refuse what is not an email address (length and control characters are told apart)."""
    value = field.data or ""
    if len(value) > MAX_EMAIL_LENGTH or control_character_error(value):
        return  # reported by Length and by the text rule, once each
    try:
        normalise_email(value)
    except ValueError:
        raise ValidationError("Enter an email address like name@example.com.") from None


def _email(label: str = "Email", *, check_format: bool = True) -> EmailField:
    too_long = f"An email address has at most {MAX_EMAIL_LENGTH} characters."
    checks = [Required(ENTER_EMAIL), Length(max=MAX_EMAIL_LENGTH, message=too_long)]
    return EmailField(label, validators=checks + ([email_address] if check_format else []))


def _new_password(label: str, *, required: str) -> PasswordField:
    length = Length(
        min=MIN_PASSWORD_LENGTH,
        max=MAX_PASSWORD_LENGTH,
        message=f"Use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.",
    )
    return PasswordField(
        label, validators=[Required(required), length], description=NEW_PASSWORD_HINT
    )


def _repeat(label: str, other: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[Required("Type the password again."), EqualTo(other, "The passwords differ.")],
    )


class LoginForm(SafeForm):
    """Email and password."""

    # No format check: any wrong login gets the same answer, whatever was typed.
    email = _email(check_format=False)
    password = PasswordField(
        "Password",
        validators=[Required("Enter your password."), Length(max=MAX_PASSWORD_LENGTH)],
    )


class RegisterForm(SafeForm):
    """A new account's email and password, typed twice."""

    email = _email()
    password = _new_password("Password", required="Choose a password.")
    confirm = _repeat("Repeat password", "password")


class ResetPasswordForm(SafeForm):
    """A new password, typed twice, set through a reset link."""

    password = _new_password("New password", required="Choose a new password.")
    confirm = _repeat("Repeat new password", "password")


class TokenForm(SafeForm):
    """The name of a new API token."""

    name = StringField(
        "Token name",
        validators=[
            Required("Give the token a name."),
            Length(max=100, message="A token name has at most 100 characters."),
        ],
        description="e.g. the script or machine that will use it.",
    )


class ChangePasswordForm(SafeForm):
    """The current password and a new one, typed twice."""

    current = PasswordField(
        "Current password",
        validators=[Required("Enter your current password."), Length(max=MAX_PASSWORD_LENGTH)],
    )
    new = _new_password("New password", required="Choose a new password.")
    confirm = _repeat("Repeat new password", "new")


class UserAdminForm(SafeForm):
    """An admin's change to another user's role and status."""

    role = SelectField(
        "Role", choices=[SelectChoice("member", "Member"), SelectChoice("admin", "Admin")]
    )
    disabled = BooleanField("Disabled")


class InvitationForm(SafeForm):
    """The email address of a person invited to register."""

    email = _email("Email of the person to invite")


def attach_errors(form: SafeForm, exc: SchemaError, *, default: str = "email") -> None:
    """Put a schema's errors on the form's field of the same name (else on ``default``)."""
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else default
        field = form[name] if name in form else form[default]
        message = err["msg"].removeprefix("Value error, ")
        field.errors = [*field.errors, f"{field.label.text} {message}."]
