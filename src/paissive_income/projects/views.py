"""HTML pages: the dashboard of the user's projects and project create/edit/delete."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from pydantic import ValidationError

from paissive_income.context import db_session
from paissive_income.forms import ActionForm
from paissive_income.projects import listing, service
from paissive_income.projects.forms import ProjectForm

bp = Blueprint("projects", __name__)


def _owned(project_id: int):
    try:
        return service.get_project(db_session(), owner_id=current_user.id, project_id=project_id)
    except service.ProjectNotFound:
        abort(404)


@bp.get("/")
def dashboard():
    """List the user's projects a page at a time; a visitor not logged in gets the landing page."""
    if not current_user.is_authenticated:
        return _landing()
    parsed = listing.parse_listing()
    page = service.page_of_projects(
        db_session(),
        owner_id=current_user.id,
        query=parsed.query,
        page=parsed.page,
        per_page=listing.PER_PAGE,
    )
    return render_template(
        "projects/dashboard.html",
        page=page,
        query=parsed.query,
        errors=parsed.errors,
        sort_labels=listing.SORT_LABELS,
        order_words=listing.order_words(parsed.query),
        listing_args=listing.listing_args,
        unfiltered=replace(parsed.query, search=""),
        page_numbers=listing.page_numbers(page.page, page.pages),
    ), 400 if parsed.errors else 200


def _landing():
    """Say what the product does, with the sample plan; offer registration only when open."""
    # registration_open() (auth's template global) decides, as it does for the nav and /register.
    return render_template("landing.html")


@bp.route("/projects/new", methods=["GET", "POST"])
@login_required
def create():
    """Show the new-project form and create the project."""
    form = ProjectForm()
    if form.validate_on_submit():
        try:
            project = service.create_project(
                db_session(), owner_id=current_user.id, data=form.to_schema()
            )
        except ValidationError as exc:
            form.apply_schema_errors(exc)
        else:
            flash(f"Project “{project.name}” created: run an analysis next.", "success")
            return redirect(url_for("runs.project", project_id=project.id))
    return render_template(
        "projects/form.html", form=form, project=None
    ), 400 if form.errors else 200


@bp.route("/projects/<int:project_id>/edit", methods=["GET", "POST"])
@login_required
def edit(project_id: int):
    """Show and apply the edit form of one of the user's projects."""
    project = _owned(project_id)
    form = ProjectForm(obj=project)
    if not form.is_submitted():
        form.market_segments.data = "\n".join(project.market_segments)
    if form.validate_on_submit():
        try:
            service.update_project(
                db_session(), owner_id=current_user.id, project_id=project_id, data=form.to_schema()
            )
        except ValidationError as exc:
            form.apply_schema_errors(exc)
        else:
            flash("Project saved.", "success")
            return redirect(url_for("runs.project", project_id=project_id))
    return render_template(
        "projects/form.html", form=form, project=project
    ), 400 if form.errors else 200


@bp.route("/projects/<int:project_id>/delete", methods=["GET", "POST"])
@login_required
def delete(project_id: int):
    """Ask for confirmation, then delete one of the user's projects."""
    project = _owned(project_id)
    form = ActionForm()
    if form.validate_on_submit():
        service.delete_project(db_session(), owner_id=current_user.id, project_id=project_id)
        flash(f"Project “{project.name}” deleted.", "success")
        return redirect(url_for("projects.dashboard"))
    return render_template("projects/delete.html", project=project, form=form)
