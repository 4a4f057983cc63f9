"""The account page: API tokens (revoking one is confirmed first) and the password change."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from pydantic import ValidationError

from paissive_income.auth import expired, service
from paissive_income.auth.blueprint import bp
from paissive_income.auth.forms import ChangePasswordForm, TokenForm, attach_errors
from paissive_income.auth.throttle import login_throttle
from paissive_income.context import db_session
from paissive_income.forms import ActionForm


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
            form.name.errors = [*form.name.errors, str(exc)]
    return _account_page(form=form, new_secret=new_secret), 400 if form.errors else 200


@expired.retry_form("auth.account")
def _account_token_again():
    if not current_user.is_authenticated:  # the lost session held the login too
        return current_app.login_manager.unauthorized()
    return _account_page(form=TokenForm())


@expired.retry_form("auth.change_password")
def _account_password_again():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    return _account_page(password_form=ChangePasswordForm())


def _account_page(**forms) -> str:
    context = {"form": TokenForm(formdata=None), "password_form": ChangePasswordForm(formdata=None)}
    context.update(forms)
    tokens = service.list_tokens(db_session(), user=current_user)
    return render_template("auth/account.html", tokens=tokens, **context)


@bp.post("/account/password")
@login_required
def change_password():
    """Change the user's password; every other session of theirs ends."""
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(password_form=form), 400
    # Checking the current password is a password guess too: it counts like a login attempt.
    throttle, ip = login_throttle(), request.remote_addr or "unknown"
    reservation = throttle.reserve(email=current_user.email, ip=ip)
    if not reservation.allowed:
        form.current.errors = [*form.current.errors, reservation.message]
        return _account_page(password_form=form), 429
    try:
        service.change_password(
            db_session(),
            user=current_user._get_current_object(),
            current_password=form.current.data,
            new_password=form.new.data,
        )
    except service.AccountError as exc:
        form.current.errors = [*form.current.errors, str(exc)]
        return _account_page(password_form=form), 400
    except ValidationError as exc:
        attach_errors(form, exc, default="new")
        return _account_page(password_form=form), 400
    throttle.succeeded(email=current_user.email, ip=ip)
    # This session carries on under the new session version; every other one has ended.
    login_user(current_user._get_current_object())
    flash("Password changed. Every other session has been logged out.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke_token(token_id: int):
    """Ask to confirm, then revoke one of the user's API tokens."""
    session = db_session()
    try:
        token = service.get_token(session, user=current_user, token_id=token_id)
    except service.AccountError:
        abort(404)
    form = ActionForm()
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("auth/revoke_token.html", token=token, form=form)
    service.revoke_token(session, user=current_user, token_id=token_id)
    flash(f"Token “{token.name}” revoked.", "success")
    return redirect(url_for("auth.account"))
