"""WTForms for login, registration, tokens and user administration (CSRF-protected)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from paissive_income.auth.schemas import MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class RegisterForm(FlaskForm):
    """A new account's email and password, typed twice."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)]
    )
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")]
    )


class TokenForm(FlaskForm):
    """The name of a new API token."""

    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])


class ActionForm(FlaskForm):
    """A form with nothing but its CSRF token (logout, revoke, delete)."""


class UserAdminForm(FlaskForm):
    """An admin's change to another user's role and status."""

    role = SelectField(
        "Role", choices=[SelectChoice("member", "Member"), SelectChoice("admin", "Admin")]
    )
    disabled = BooleanField("Disabled")
