"""The ``paissive-income`` command line: one group, commands loaded lazily from their domains."""

from __future__ import annotations

import importlib

import click

# Command name -> "module:attribute". Loading lazily keeps `paissive-income --help` fast and
# means a command's heavy imports (torch, transformers) happen only when that command runs.
LAZY_COMMANDS = {
    "serve": ("paissive_income.web.cli:serve", "Serve the web interface."),
    "web": (
        "paissive_income.web.cli:web",
        "Serve the web interface under gunicorn (containers).",
    ),
    "db": ("paissive_income.db.cli:db", "Manage the database schema."),
    "users": ("paissive_income.auth.cli:users", "Manage user accounts."),
    "deploy": (
        "paissive_income.deploy.cli:deploy",
        "Write deployment files: the framework's stack, or the model server alone.",
    ),
    "models": ("ai_models.cli:models", "Manage and serve AI models."),
    "run": ("agent_team.cli:run", "Turn a market segment into a plan in the foreground."),
    "worker": ("agent_team.cli:worker", "Work queued analysis runs (agent team jobs)."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(LAZY_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in LAZY_COMMANDS:
            return None
        module_name, attr = LAZY_COMMANDS[cmd_name][0].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_target, help_text) in sorted(LAZY_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="paissive-income")
def main() -> None:
    """pAIssive Income: plan an AI-powered product with a team of AI agents."""
