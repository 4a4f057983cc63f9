"""WTForms for login, registration, passwords, tokens and user administration."""

from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from paissive_income.auth.schemas import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from paissive_income.forms import SafeForm


class LoginForm(SafeForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )


class RegisterForm(SafeForm):
    """A new account's email and password, typed twice."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
    )
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")]
    )


class TokenForm(SafeForm):
    """The name of a new API token."""

    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])


class ChangePasswordForm(SafeForm):
    """The current password and a new one, typed twice."""

    current = PasswordField(
        "Current password",
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
    )
    new = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
    )
    confirm = PasswordField(
        "Repeat new password", validators=[DataRequired(), EqualTo("new", "Passwords differ.")]
    )


class UserAdminForm(SafeForm):
    """An admin's change to another user's role and status."""

    role = SelectField(
        "Role", choices=[SelectChoice("member", "Member"), SelectChoice("admin", "Admin")]
    )
    disabled = BooleanField("Disabled")
