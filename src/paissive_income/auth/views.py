"""Login, registration, logout and the account page with API tokens."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from pydantic import ValidationError

from paissive_income.auth import service
from paissive_income.auth.forms import ChangePasswordForm, LoginForm, RegisterForm, TokenForm
from paissive_income.auth.redirects import safe_next
from paissive_income.auth.throttle import login_throttle
from paissive_income.context import db_session, services
from paissive_income.forms import ActionForm

bp = Blueprint("auth", __name__)
LOGIN_FAILED = "Invalid email or password."
THROTTLED = "Too many failed attempts. Please wait a few minutes and try again."


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and log the user in."""
    form = LoginForm()
    if form.validate_on_submit():
        throttle, email = login_throttle(), form.email.data.strip().lower()
        ip = request.remote_addr or "unknown"
        # Counted before the slow password check, so simultaneous attempts cannot slip past.
        if not throttle.reserve(email=email, ip=ip):
            flash(THROTTLED, "error")
            return render_template("auth/login.html", form=form), 429
        user = service.authenticate(db_session(), email=email, password=form.password.data)
        if user is None:
            flash(LOGIN_FAILED, "error")
            return render_template("auth/login.html", form=form), 401
        throttle.succeeded(email=email, ip=ip)
        login_user(user)
        return redirect(safe_next(request.args.get("next")) or url_for("projects.dashboard"))
    return render_template("auth/login.html", form=form)


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Show the registration form and create the account."""
    if not services().settings.open_registration and service.has_users(db_session()):
        abort(404)
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = service.register_user(
                db_session(), email=form.email.data, password=form.password.data
            )
        except (service.AccountError, ValidationError) as exc:
            flash(_registration_message(exc), "error")
            return render_template("auth/register.html", form=form), 400
        login_user(user)
        flash("Welcome! Your account is ready.", "success")
        return redirect(url_for("projects.dashboard"))
    return render_template("auth/register.html", form=form)


def _registration_message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{str(err['loc'][0]).capitalize()} {err['msg'].removeprefix('Value error, ')}."
    return str(exc)


@bp.post("/logout")
@login_required
def logout():
    """Log the user out (POST with CSRF, so no cross-site logout)."""
    if ActionForm().validate_on_submit():
        # Server-side: a copy of this session's cookie must not outlive the logout.
        service.end_sessions(db_session(), user=current_user._get_current_object())
        logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """Show the account page; create an API token (its secret is shown once)."""
    form, new_secret = TokenForm(), None
    if form.validate_on_submit():
        try:
            _token, new_secret = service.create_token(
                db_session(), user=current_user, name=form.name.data
            )
        except service.AccountError as exc:
            flash(str(exc), "error")
    return _account_page(form=form, new_secret=new_secret)


def _account_page(*, status: int = 200, **forms):
    context = {"form": TokenForm(formdata=None), "password_form": ChangePasswordForm(formdata=None)}
    context.update(forms)
    tokens = service.list_tokens(db_session(), user=current_user)
    page = render_template("auth/account.html", tokens=tokens, action=ActionForm(), **context)
    return page, status


@bp.post("/account/password")
@login_required
def change_password():
    """Change the user's password; every other session of theirs ends."""
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(password_form=form, status=400)
    # Checking the current password is a password guess too: it counts like a login attempt.
    throttle, ip = login_throttle(), request.remote_addr or "unknown"
    if not throttle.reserve(email=current_user.email, ip=ip):
        form.current.errors = [*form.current.errors, THROTTLED]
        return _account_page(password_form=form, status=429)
    try:
        service.change_password(
            db_session(),
            user=current_user._get_current_object(),
            current_password=form.current.data,
            new_password=form.new.data,
        )
    except service.AccountError as exc:
        form.current.errors = [*form.current.errors, str(exc)]
        return _account_page(password_form=form, status=400)
    except ValidationError as exc:
        form.new.errors = [*form.new.errors, _registration_message(exc)]
        return _account_page(password_form=form, status=400)
    throttle.succeeded(email=current_user.email, ip=ip)
    # This session carries on under the new session version; every other one has ended.
    login_user(current_user._get_current_object())
    flash("Password changed. Every other session has been logged out.", "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke one of the user's API tokens."""
    if ActionForm().validate_on_submit():
        try:
            service.revoke_token(db_session(), user=current_user, token_id=token_id)
        except service.AccountError:
            abort(404)
        flash("Token revoked.", "success")
    return redirect(url_for("auth.account"))
