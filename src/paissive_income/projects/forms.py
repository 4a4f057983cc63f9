"""The project form: name, market segments (one per line) and notes."""

from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from paissive_income.forms import SafeForm
from paissive_income.projects.schemas import ProjectIn


class ProjectForm(SafeForm):
    """Create or edit a project."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    market_segments = TextAreaField(
        "Market segments",
        validators=[DataRequired()],
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
