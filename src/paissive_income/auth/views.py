"""Login, registration (open, first admin or invited), logout and password reset links."""

from __future__ import annotations

import math

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError
from pydantic import ValidationError

from paissive_income.auth import account as _account_routes  # noqa: F401  (they join bp)
from paissive_income.auth import expired, resets, service
from paissive_income.auth.blueprint import bp
from paissive_income.auth.forms import LoginForm, RegisterForm, ResetPasswordForm, attach_errors
from paissive_income.auth.links import read_invitation_token
from paissive_income.auth.redirects import safe_next
from paissive_income.auth.throttle import login_throttle
from paissive_income.context import db_session, services
from paissive_income.forms import ActionForm

bp.app_errorhandler(CSRFError)(expired.handle_csrf_error)
LOGIN_FAILED = "Invalid email or password."
INVITATION_UNUSABLE = (
    "This invitation has expired or is not valid. Ask your administrator for a new one."
)


def registration_open() -> bool:
    """Say whether anyone may register now (the first account always may)."""
    return service.registration_open(
        db_session(), open_registration=services().settings.open_registration
    )


@bp.app_context_processor
def _registration_flag() -> dict:
    return {"registration_open": registration_open}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and log the user in."""
    form = LoginForm()
    if not form.validate_on_submit():
        return _login_page(form), 400 if form.errors else 200
    throttle, email = login_throttle(), form.email.data.strip().lower()
    ip = request.remote_addr or "unknown"
    # Counted before the slow password check, so simultaneous attempts cannot slip past.
    reservation = throttle.reserve(email=email, ip=ip)
    if not reservation.allowed:
        flash(reservation.message, "error")
        return _login_page(form), 429, {"Retry-After": str(math.ceil(reservation.retry_after))}
    user = service.authenticate(db_session(), email=email, password=form.password.data)
    if user is None:
        flash(LOGIN_FAILED, "error")
        return _login_page(form), 401
    throttle.succeeded(email=email, ip=ip)
    login_user(user)
    return redirect(safe_next(request.args.get("next")) or url_for("projects.dashboard"))


@expired.retry_form("auth.login")
def _login_page(form: LoginForm | None = None) -> str:
    return render_template("auth/login.html", form=form or LoginForm())


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Show the registration form and create the account (while registration is open)."""
    return _register(_register_form(), invited=None)


@expired.retry_form("auth.register")
def _register_page(form: RegisterForm | None = None, *, invited: str | None = None) -> str:
    form = form or _register_form()
    return render_template("auth/register.html", form=form, invited=invited)


def _register_form() -> RegisterForm:
    if not registration_open():
        abort(404)
    return RegisterForm()


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """Let the one invited person register, even while registration is closed."""
    form = _invitation_form(token)
    return _register(form, invited=form.email.data)


@expired.retry_form("auth.accept_invitation")
def _invitation_page(token: str) -> str:
    form = _invitation_form(token)
    return _register_page(form, invited=form.email.data)


def _invitation_form(token: str) -> RegisterForm:
    invited = read_invitation_token(current_app.secret_key, token)
    if invited is None:
        abort(404, description=INVITATION_UNUSABLE)
    form = RegisterForm()
    form.email.data = invited  # the invitation's address, whatever was posted
    return form


def _register(form: RegisterForm, *, invited: str | None):
    if not form.validate_on_submit():
        return _register_page(form, invited=invited), 400 if form.errors else 200
    try:
        user = service.register_user(
            db_session(), email=form.email.data, password=form.password.data
        )
    except service.AccountError as exc:
        flash(str(exc), "error")
        return _register_page(form, invited=invited), 400
    except ValidationError as exc:
        attach_errors(form, exc)
        return _register_page(form, invited=invited), 400
    login_user(user)
    flash("Welcome! Your account is ready.", "success")
    return redirect(url_for("projects.dashboard"))


@bp.post("/logout")
@login_required
def logout():
    """Log the user out (POST with CSRF, so no cross-site logout) and say so."""
    if ActionForm().validate_on_submit():
        # Server-side: a copy of this session's cookie must not outlive the logout.
        service.end_sessions(db_session(), user=current_user._get_current_object())
        logout_user()
        flash("You have been logged out.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Let a user whose password an admin reset choose a new one, through their link."""
    session, secret = db_session(), current_app.secret_key
    if resets.user_for_reset(session, secret_key=secret, token=token) is None:
        abort(404, description=resets.LINK_UNUSABLE)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = resets.finish_password_reset(
                session, secret_key=secret, token=token, new_password=form.password.data
            )
        except service.AccountError:
            abort(404, description=resets.LINK_UNUSABLE)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            login_user(user)
            flash("Your new password is set.", "success")
            return redirect(url_for("projects.dashboard"))
    status = 400 if form.errors else 200
    return render_template("auth/reset_password.html", form=form), status


@expired.retry_form("auth.reset_password")
def _reset_page(token: str) -> str:
    if resets.user_for_reset(db_session(), secret_key=current_app.secret_key, token=token) is None:
        abort(404, description=resets.LINK_UNUSABLE)
    return render_template("auth/reset_password.html", form=ResetPasswordForm())
