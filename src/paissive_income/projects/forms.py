"""The project form: name, market segments (one per line) and notes."""

from pydantic import ValidationError
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from paissive_income.forms import SafeForm
from paissive_income.projects.schemas import ProjectIn


class ProjectForm(SafeForm):
    """Create or edit a project."""

    name = StringField(
        "Name",
        validators=[DataRequired("Give the project a name."), Length(max=120)],
    )
    market_segments = TextAreaField(
        "Market segments",
        validators=[DataRequired("Add at least one market segment, one per line.")],
        description="One per line, e.g. “freelance illustrators” or “indie game studios”.",
    )
    notes = TextAreaField("Notes", validators=[Length(max=10_000)])

    def to_schema(self) -> ProjectIn:
        """Return the form's data validated by the same schema the API uses."""
        segments = [line.strip() for line in (self.market_segments.data or "").splitlines()]
        return ProjectIn(
            name=self.name.data or "",
            market_segments=[s for s in segments if s],
            notes=self.notes.data or "",
        )

    def apply_schema_errors(self, exc: ValidationError) -> None:
        """Put the schema's refusals on the fields they concern, in the product's words."""
        for error in exc.errors():
            field = getattr(self, str(error["loc"][0]), None)
            if field is not None:
                field.errors = [*field.errors, schema_message(field.label.text, error)]


def schema_message(label: str, error: dict) -> str:
    """Word one pydantic error of the project schema for the form (never pydantic's English)."""
    kind, limits, where = error["type"], error.get("ctx") or {}, error["loc"][1:]
    if where and isinstance(where[0], int):
        label = f"{label}, segment {where[0] + 1},"
    if kind == "too_long":
        return f"{label} can hold at most {limits['max_length']} segments."
    if kind == "too_short":
        return f"{label}: add at least one."
    if kind == "string_too_long":
        return f"{label} can be at most {limits['max_length']:,} characters long."
    if kind == "string_too_short":
        return f"{label} cannot be empty."
    # Our own validators (the text rule) raise messages written for a label to precede them.
    return f"{label} {str(error['msg']).removeprefix('Value error, ').rstrip('.')}."
