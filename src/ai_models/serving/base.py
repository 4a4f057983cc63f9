"""The base of every deployment config: strict pydantic models that raise one error type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import DeploymentConfigError, FieldError, show
from .fields import SERVER_ENV
from .rules import raw_value_errors


class ServingConfig(BaseModel):
    """Validate on construction and on assignment; every failure is a DeploymentConfigError."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        validate_assignment=True,
        protected_namespaces=(),
        use_enum_values=False,
    )

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise DeploymentConfigError.from_pydantic(exc, type(self).__name__) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise DeploymentConfigError.from_pydantic(exc, type(self).__name__) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """pydantic's validation entry point, raising DeploymentConfigError like the constructor."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise DeploymentConfigError.from_pydantic(exc, cls.__name__) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes, **kwargs: Any) -> Self:
        """Validate a JSON document, raising DeploymentConfigError like the constructor."""
        try:
            return super().model_validate_json(json_data, **kwargs)
        except ValidationError as exc:
            raise DeploymentConfigError.from_pydantic(exc, cls.__name__) from None

    @classmethod
    def from_mapping(cls, data: object) -> Self:
        """Build a config from parsed YAML/JSON, rejecting non-mappings and non-text keys."""
        if not isinstance(data, Mapping):
            kind = type(data).__name__
            raise DeploymentConfigError([("config", f"must be a mapping of fields, not {kind}")])
        bad = [key for key in data if not isinstance(key, str)]
        if bad:
            raise DeploymentConfigError([(show(key), "field names must be text") for key in bad])
        return cls(**data)

    @field_validator("*", mode="before")
    @classmethod
    def _shared_text_rule(cls, value: Any, info: ValidationInfo) -> Any:
        """Hold every string of every field to rules.py before the field's own grammar."""
        errors = raw_value_errors(value)
        if _holds_configs(cls.model_fields[info.field_name].annotation):
            errors = [(path, message) for path, message in errors if not path]  # sizes only
        if errors:
            raise DeploymentConfigError(errors, cls.__name__)
        return value

    def given(self, *names: str) -> dict[str, Any]:
        """Map each named field to its value when the config sets it, else None (a default)."""
        return {
            name: getattr(self, name) if name in self.model_fields_set else None for name in names
        }

    def cross_field_errors(self) -> list[FieldError]:
        """Return errors that involve more than one field; subclasses extend this."""
        env_vars: Mapping[str, str] = getattr(self, "env_vars", {})
        return [
            (f'env_vars["{name}"]', f"is set by the config itself; use the {name.lower()} field")
            for name in env_vars
            if name in SERVER_ENV
        ]

    @model_validator(mode="after")
    def _check_cross_fields(self) -> Self:
        errors = self.cross_field_errors()
        if errors:
            raise DeploymentConfigError(errors, type(self).__name__)
        return self


def _holds_configs(annotation: object) -> bool:
    """Tell whether a field holds nested configs, which apply the text rule themselves."""
    if isinstance(annotation, type) and issubclass(annotation, ServingConfig):
        return True
    return any(_holds_configs(arg) for arg in get_args(annotation))
