"""The "auth" blueprint, shared by the login pages (``views``) and the account page."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
