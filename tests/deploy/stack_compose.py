"""Reading ``docker-compose.yml`` the way ``docker compose up`` does, for the stack test.

Values are interpolated as Compose does (``${VAR:-default}``, ``${VAR-default}``,
``${VAR:?message}``, ``$$``) from the committed ``.env.example`` (what ``cp .env.example .env``
gives), and ``COMPOSE_PROFILES`` there picks the services of profiles.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"  # the settings Compose reads from .env
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$\$")


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """Return the ``KEY=value`` lines of a Compose ``.env`` file."""
    found = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            found[key.strip()] = value.strip()
    return found


def compose_services(path: Path = COMPOSE_FILE, environ: dict | None = None) -> dict[str, dict]:
    """Return the services a plain ``docker compose up`` starts, with ``environ`` as its .env.

    Values are interpolated as Compose does (``${VAR:-default}``); ``COMPOSE_PROFILES`` picks
    the services of profiles. ``command`` comes back a list, ``environment`` a dict.
    """
    environ = read_env_file() if environ is None else environ
    active = {p.strip() for p in environ.get("COMPOSE_PROFILES", "").split(",") if p.strip()}
    data = yaml.safe_load(path.read_text())
    services = {}
    for name, spec in data["services"].items():
        if spec.get("profiles") and not active & set(spec["profiles"]):
            continue  # a profile not switched on (the GPU model server under "cpu")
        spec = _interpolate(spec, environ)
        command = spec.get("command") or []
        env = spec.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
        services[name] = {
            **spec,
            "command": shlex.split(command) if isinstance(command, str) else list(command),
            "environment": {k: "" if v is None else str(v) for k, v in env.items()},
        }
    return services


def _interpolate(value, environ: dict):
    if isinstance(value, dict):
        return {k: _interpolate(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, environ) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.groups()
        found = environ.get(name)
        if op and op.endswith("?") and not found:
            raise ValueError(f"docker-compose.yml: {name} is required ({default})")
        if op == ":-" and not found or op == "-" and found is None:
            return default
        return found or ""

    return _INTERPOLATION.sub(one, value)
