"""Forms report every field's errors at once, in our words, each tied to its input."""

import re

import pytest
from wtforms import IntegerField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange

from paissive_income.forms import PRODUCT_WORDING, SafeForm
from web_support import AuthActions, csrf_token

PASSWORD = "correct horse battery"
STOCK = re.compile(
    r"This field is required|Invalid email address|Field must be|Field cannot be|Not a valid|"
    r"Number must be|Invalid input|CSRF"
)


def _post(client, path: str, page: str | None = None, **data):
    token = csrf_token(client.get(page or path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def _input(body: str, field_id: str) -> str:
    found = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{field_id}"[^>]*>', body)
    assert found, f"no input {field_id}"
    return found.group(0)


def _assert_tied(body: str, field_id: str, message: str) -> None:
    """The field's error is in an element its input names in aria-describedby, and linked above."""
    tag = _input(body, field_id)
    assert 'aria-invalid="true"' in tag
    described = re.search(r'aria-describedby="([^"]+)"', tag).group(1).split()
    assert f"{field_id}-error" in described
    error = re.search(rf'<p class="error" id="{field_id}-error">(.*?)</p>', body, re.S)
    assert error and message in error.group(1)
    summary = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', body, re.S)
    assert summary and re.search(
        rf'<a href="#{field_id}">[^<]*{re.escape(message)}', summary.group(1)
    )


def test_registration_reports_every_error_in_one_round(client):
    response = _post(client, "/register", email="not-an-email", password="short", confirm="other")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    _assert_tied(body, "email", "Enter an email address like name@example.com.")
    _assert_tied(body, "password", "Use 10 to 1024 characters.")
    _assert_tied(body, "confirm", "The passwords differ.")
    assert not STOCK.search(body)
    assert 'value="not-an-email"' in body and 'value="short"' not in body  # passwords never echo
    assert client.get("/account").status_code == 302


def test_an_empty_registration_names_every_field(client):
    body = _post(client, "/register").get_data(as_text=True)
    for field_id, message in [
        ("email", "Enter your email address."),
        ("password", "Choose a password."),
        ("confirm", "Type the password again."),
    ]:
        _assert_tied(body, field_id, message)
    assert not STOCK.search(body)


def test_the_error_summary_is_focused_and_hints_stay_described(client):
    body = _post(
        client, "/register", email="a@example.com", password="short", confirm="short"
    ).get_data(as_text=True)
    assert re.search(r'<div class="error-summary"[^>]*\bautofocus', body)
    tag = _input(body, "password")
    assert 'aria-describedby="password-hint password-error"' in tag
    assert re.search(r'<p class="hint" id="password-hint">At least 10 characters.</p>', body)
    # A valid field is neither invalid nor pointing at an error that is not there.
    assert "aria-invalid" not in _input(body, "email") and "email-error" not in body


def test_login_reports_both_missing_fields_at_once(client):
    response = _post(client, "/login", email="", password="")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    _assert_tied(body, "email", "Enter your email address.")
    _assert_tied(body, "password", "Enter your password.")
    assert not STOCK.search(body)


def test_account_forms_report_every_error(client, auth):
    auth.register()
    token_page = _post(client, "/account", name="   ").get_data(as_text=True)
    _assert_tied(token_page, "name", "Give the token a name.")
    response = _post(
        client, "/account/password", page="/account", current="", new="short", confirm="x"
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    _assert_tied(body, "current", "Enter your current password.")
    _assert_tied(body, "new", "Use 10 to 1024 characters.")
    _assert_tied(body, "confirm", "The passwords differ.")
    assert not STOCK.search(body)


def test_the_admin_invitation_form_reports_its_error(client, auth):
    auth.register("admin@example.com")
    response = _post(client, "/admin/invitations", page="/admin/users", email="nobody")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    _assert_tied(body, "email", "Enter an email address like name@example.com.")


@pytest.mark.parametrize(
    ("email", "password", "field_id", "message"),
    [
        (
            "a\x00@example.com",
            PASSWORD,
            "email",
            "Email must not contain control characters (found U+0000).",
        ),
        ("a@example.com", "correct\x00horse battery", "password", "found U+0000"),
        ("a@example.com\n", PASSWORD, "email", "found U+000A"),
        (
            "a" * 10_000 + "@example.com",
            PASSWORD,
            "email",
            "An email address has at most 254 characters.",
        ),
        ("a@example.com", "x" * 5000, "password", "Use 10 to 1024 characters."),
        ("@example.com", PASSWORD, "email", "Enter an email address like name@example.com."),
    ],
)
def test_hostile_registrations_are_field_errors_never_500(
    client, email, password, field_id, message
):
    response = _post(client, "/register", email=email, password=password, confirm=password)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    _assert_tied(body, field_id, message)
    assert body.count(f'id="{field_id}-error"') == 1  # one error element, the message said once
    assert len(body) < 40_000  # a huge value is not echoed back into every error


@pytest.mark.parametrize(
    ("email", "password"),
    [("ünï@exämple.com", PASSWORD), ("zoë@example.com", "pässwörd ✓ 密码 🔑🔑")],
)
def test_unicode_emails_and_passwords_register_and_log_in(client, email, password):
    user = AuthActions(client)
    assert user.register(email, password).status_code == 302
    user.logout()
    assert user.login(email.upper(), password).status_code == 302


@pytest.mark.parametrize(
    ("email", "password"),
    [("\x00", "\x00"), ("a" * 100_000, "b" * 100_000), ("\ufeff@\u200b.com", "\U0001f511" * 2000)],
)
def test_hostile_logins_are_refused_plainly(client, auth, email, password):
    auth.register()
    auth.logout()
    response = _post(client, "/login", email=email, password=password)
    assert response.status_code in (400, 401)
    assert not STOCK.search(response.get_data(as_text=True))


class _Everything(SafeForm):
    """A form with every stock validator, to see each one's words."""

    name = StringField("Name", validators=[DataRequired(), Length(min=3, max=5)])
    exact = StringField("Code", validators=[Length(min=4, max=4)])
    count = IntegerField("Count", validators=[NumberRange(min=1, max=9)])
    kind = SelectField("Kind", choices=[SelectChoice("a", "A")])
    secret = PasswordField("Secret")
    again = PasswordField("Secret again", validators=[EqualTo("secret")])


def test_every_stock_message_is_reworded_with_the_field_label(app):
    data = {
        "name": "toolongname",
        "exact": "xy",
        "count": "many",
        "kind": "z",
        "secret": "a",
        "again": "b",
    }
    app.config["WTF_CSRF_ENABLED"] = False
    with app.test_request_context("/", method="POST", data=data):
        form = _Everything()
        assert not form.validate()
        errors = {field.name: field.errors for field in form if field.errors}
    assert errors == {
        "name": ["Name needs 3 to 5 characters."],
        "exact": ["Code needs exactly 4 characters."],
        "count": ["Count must be a whole number.", "Count must be between 1 and 9."],
        "kind": ["Kind: choose one of the options."],
        "again": ["Secret again does not match."],
    }
    with app.test_request_context("/", method="POST", data={"count": "0"}):
        form = _Everything()
        form.validate()
        assert form.name.errors == ["Name is required."]
        assert form.count.errors == ["Count must be between 1 and 9."]


def test_no_stock_message_is_left_unworded():
    assert all(not STOCK.search(words) for words in PRODUCT_WORDING.values())
