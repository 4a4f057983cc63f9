"""The admin page: users' roles and status, password resets, unlocking, invitations.

Destructive changes (disabling, demoting, resetting a password) are confirmed on a page of
their own first, so they work without JavaScript. Every change is an audit log line.
"""

from __future__ import annotations

import functools

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from paissive_income.auth import resets, service
from paissive_income.auth.audit import audit
from paissive_income.auth.forms import InvitationForm, UserAdminForm
from paissive_income.auth.links import INVITATION_SECONDS, RESET_LINK_SECONDS, make_invitation_token
from paissive_income.auth.models import Role
from paissive_income.auth.throttle import login_throttle
from paissive_income.context import db_session, services
from paissive_income.forms import ActionForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view):
    """Allow only logged-in admins; others get 404 so the page's existence is not revealed."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(404)
        return view(*args, **kwargs)

    return wrapper


def _user(user_id: int):
    try:
        return service.get_user(db_session(), user_id)
    except service.AccountError:
        abort(404)


@bp.get("/users")
@admin_required
def users():
    """List every user with a form to change each, and the invitation form."""
    return _users_page(InvitationForm(formdata=None))


def _users_page(invitation: InvitationForm, status: int = 200):
    people = service.list_users(db_session())
    forms = {
        u.id: UserAdminForm(prefix=f"u{u.id}", role=u.role.value, disabled=u.disabled)
        for u in people
    }
    page = render_template(
        "admin/users.html",
        users=people,
        forms=forms,
        action=ActionForm(),
        invitation=invitation,
        open_registration=services().settings.open_registration,
    )
    return page, status


@bp.post("/users/<int:user_id>")
@admin_required
def update_user(user_id: int):
    """Apply an admin's change of role or status, after confirming a destructive one."""
    user, form = _user(user_id), UserAdminForm(prefix=f"u{user_id}")
    if not form.validate_on_submit():
        flash(f"Not saved: {' '.join(e for f in form.invalid_fields() for e in f.errors)}", "error")
        return redirect(url_for("admin.users"))
    role, disabled = Role(form.role.data), form.disabled.data
    destructive = (disabled and not user.disabled) or (user.is_admin and role is Role.MEMBER)
    if destructive and request.form.get("confirmed") != "yes":
        return render_template("admin/confirm_change.html", user=user, form=form, role=role)
    try:
        service.update_user(
            db_session(), actor=current_user, user_id=user_id, role=role, disabled=disabled
        )
    except service.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"))
    audit(
        "update_user", actor_id=current_user.id, user_id=user_id, role=role.value, disabled=disabled
    )
    flash(f"{user.email} updated.", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/reset-password", methods=["GET", "POST"])
@admin_required
def reset_password(user_id: int):
    """Confirm, then retire a user's password and sessions and show their reset link once."""
    user, form = _user(user_id), ActionForm()
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("admin/confirm_reset.html", user=user, form=form)
    try:
        token = resets.start_password_reset(
            db_session(), actor=current_user, user_id=user_id, secret_key=current_app.secret_key
        )
    except service.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"))
    audit("reset_password", actor_id=current_user.id, user_id=user_id)
    link = url_for("auth.reset_password", token=token, _external=True)
    hours = RESET_LINK_SECONDS // 3600
    return render_template("admin/link.html", user=user, link=link, kind="reset", hours=hours)


@bp.post("/users/<int:user_id>/unlock")
@admin_required
def unlock(user_id: int):
    """Clear the failed login attempts counted against a user's account."""
    user = _user(user_id)
    if ActionForm().validate_on_submit():
        login_throttle().unlock(email=user.email)
        audit("unlock", actor_id=current_user.id, user_id=user_id)
        flash(f"Failed login attempts cleared: {user.email} can log in again.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/invitations")
@admin_required
def invite():
    """Show once an invitation link that lets one person register while registration is closed."""
    form = InvitationForm()
    if not form.validate_on_submit():
        return _users_page(form, status=400)
    email = form.email.data.strip().lower()
    token = make_invitation_token(current_app.secret_key, email)
    audit("invite", actor_id=current_user.id, invited_domain=email.rpartition("@")[2])
    link = url_for("auth.accept_invitation", token=token, _external=True)
    days = INVITATION_SECONDS // 86400
    return render_template(
        "admin/link.html", email=email, link=link, kind="invitation", hours=days * 24
    )
