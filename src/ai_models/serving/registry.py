"""A registry of deployment targets: each target is one module that registers one class."""

from __future__ import annotations

import os
import warnings
from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

from .base import ServingConfig
from .errors import DeploymentWarning, collect_warnings
from .output import OutputFile, write_files

ConfigT = TypeVar("ConfigT", bound=ServingConfig)


class DeploymentTarget(ABC, Generic[ConfigT]):
    """Turn a validated config into files; subclasses set `name`, `command` and `config_class`."""

    name: ClassVar[str]  # registry key: "docker", "kubernetes", "aws", ...
    command: ClassVar[str]  # the `paissive-income deploy <command>` that reaches it
    config_class: ClassVar[type[ServingConfig]]

    @abstractmethod
    def render(self, config: ConfigT, output_dir: str) -> list[OutputFile]:
        """Build every file's text in memory, in a stable order (output_dir names paths only)."""

    def generate(self, config: ConfigT, output_dir: str | os.PathLike[str]) -> list[str]:
        """Render then write all files; return the paths written."""
        if not isinstance(config, self.config_class):
            expected = self.config_class.__name__
            raise TypeError(
                f"the {self.name} target needs a {expected}, not {type(config).__name__}"
            )
        with collect_warnings() as notes:
            files = self.render(config, os.fspath(output_dir))
        for note in notes:  # attributed to the caller of generate_*_config
            warnings.warn(note, DeploymentWarning, stacklevel=3)
        return write_files(output_dir, files)


_TARGETS: dict[str, DeploymentTarget] = {}


def register(target_class: type[DeploymentTarget]) -> type[DeploymentTarget]:
    """Class decorator: add a target to the registry under its `name`."""
    if target_class.name in _TARGETS:
        raise ValueError(f"a deployment target named {target_class.name!r} is already registered")
    _TARGETS[target_class.name] = target_class()
    return target_class


def get_target(name: str) -> DeploymentTarget:
    """Look a target up by name."""
    try:
        return _TARGETS[name]
    except KeyError:
        known = ", ".join(sorted(_TARGETS))
        raise KeyError(f"no deployment target {name!r}; known targets: {known}") from None


def target_names(command: str | None = None) -> list[str]:
    """List registered target names, optionally only those reached by one CLI command."""
    return sorted(name for name, t in _TARGETS.items() if command in (None, t.command))


def commands() -> dict[str, type[ServingConfig]]:
    """Map each CLI command to the config class its targets take."""
    return {target.command: target.config_class for target in _TARGETS.values()}
