"""The admin page: list users, disable them, change their role."""

from __future__ import annotations

import functools

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from paissive_income.auth import service
from paissive_income.auth.forms import UserAdminForm
from paissive_income.auth.models import Role
from paissive_income.context import db_session

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


@bp.get("/users")
@admin_required
def users():
    """List every user with a form to change each."""
    people = service.list_users(db_session())
    forms = {
        u.id: UserAdminForm(prefix=f"u{u.id}", role=u.role.value, disabled=u.disabled)
        for u in people
    }
    return render_template("admin/users.html", users=people, forms=forms)


@bp.post("/users/<int:user_id>")
@admin_required
def update_user(user_id: int):
    """Apply an admin's change of role or status to one user."""
    form = UserAdminForm(prefix=f"u{user_id}")
    if form.validate_on_submit():
        try:
            service.update_user(
                db_session(),
                actor=current_user,
                user_id=user_id,
                role=Role(form.role.data),
                disabled=form.disabled.data,
            )
            flash("User updated.", "success")
        except service.AccountError as exc:
            flash(str(exc), "error")
    else:
        flash("The form expired; please try again.", "error")
    return redirect(url_for("admin.users"))
