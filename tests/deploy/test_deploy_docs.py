"""docs/deployment.md and the README's deployment lines: every command, path and name is real."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from docs_pages import (
    DOC,
    LINK,
    README,
    ROOT,
    TICKED,
    anchors,
    compose_file,
    compose_service,
    fenced,
    kustomize_targets,
    message_pattern,
    paissive_commands,
    parse_cli,
    prose,
    quoted_messages,
    repo_paths,
    shell_commands,
    source_text,
    variables_read,
)

from paissive_income.cli import main as cli
from paissive_income.deploy import stack

# Upper-case words in backticks that are not environment variables.
NOT_VARIABLES = {"OOMKilled", "HEALTHCHECK", "CMD", "SIGTERM", "PGDATA"}


def cli_failures(tmp_path: Path) -> list[str]:
    """Run ``db current`` and ``db wait`` with the broken settings the section describes."""
    key_file = tmp_path / "secret_key"
    key_file.write_text("k" * 48)
    unset = dict.fromkeys(
        ("PAISSIVE_ENV", "SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "DATABASE_URL_FILE")
    )
    cases = [
        {"PAISSIVE_ENV": "production", "SECRET_KEY": "short"},
        {"SECRET_KEY": "k" * 48, "SECRET_KEY_FILE": str(key_file)},
        {"SECRET_KEY_FILE": str(tmp_path / "missing")},
        {"DATABASE_URL": "nonsense"},
        {"DATABASE_URL": "postgresql://paissive:hunter2@127.0.0.1:1/paissive"},
    ]
    runs = [(["db", "current"], case, 2) for case in cases]
    runs.append((["db", "wait", "--timeout", "0"], cases[-1], 1))  # gives up at once
    printed = []
    for args, case, status in runs:
        env = {**unset, "INSTANCE_PATH": str(tmp_path / "instance"), **case}
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == status, (args, case, result.output)
        assert "hunter2" not in result.output
        printed += result.output.strip().splitlines()
    return printed


def test_the_page_shows_every_paissive_income_command_it_relies_on() -> None:
    shown = {" ".join(words[:3]) for words in paissive_commands(DOC.read_text())}
    for expected in (
        "paissive-income deploy secrets",
        "paissive-income db upgrade",
        "paissive-income db wait",
        "paissive-income web --no-migrate",
        "paissive-income worker",
        "paissive-income models serve",
        "paissive-income deploy stack",
    ):
        assert any(line.startswith(expected) for line in shown), expected


@pytest.mark.parametrize("page", [DOC, README], ids=lambda p: p.name)
def test_every_paissive_income_command_parses(page: Path) -> None:
    runnable = paissive_commands(page.read_text(), prose_too=False)
    named = paissive_commands(page.read_text())
    assert runnable
    for words in named:
        # Lines of bash blocks run as written; a command in prose with options must parse too.
        complete = words in runnable or any(word.startswith("-") for word in words)
        try:
            parse_cli(words, complete=complete)
        except click.UsageError as exc:
            pytest.fail(f"{' '.join(words)}: {exc.format_message()}")


@pytest.mark.parametrize("page", [DOC, README], ids=lambda p: p.name)
def test_every_path_the_page_names_exists(page: Path) -> None:
    paths = repo_paths(page.read_text())
    assert "deploy/kubernetes/overlays/prod" in paths and "docker-compose.yml" in paths
    missing = sorted(p for p in paths if not any(ROOT.glob(p)) and not (ROOT / p).exists())
    assert not missing, missing


@pytest.mark.parametrize("page", [DOC, README], ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    links = LINK.findall(page.read_text())
    assert links
    for target, anchor in links:
        linked = (page.parent / target).resolve() if target else page
        assert linked.exists(), target
        if anchor:
            assert anchor in anchors(linked.read_text()), f"{target}#{anchor}"


def test_every_variable_the_page_names_is_read_by_the_code() -> None:
    known = variables_read()
    named = set()
    for span in TICKED.findall(prose(DOC.read_text())) + fenced(DOC.read_text(), "bash"):
        named |= set(re.findall(r"(?<![\w/.-])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b", span))
    assert {"DATABASE_URL_FILE", "WEB_CONCURRENCY", "COMPOSE_PROFILES"} <= named
    unknown = sorted(named - known - NOT_VARIABLES)
    assert not unknown, unknown


@pytest.mark.parametrize("page", [DOC, README], ids=lambda p: p.name)
def test_every_kustomize_folder_is_an_overlay_of_the_repository(page: Path) -> None:
    targets = kustomize_targets(page.read_text())
    assert "deploy/kubernetes/overlays/prod" in targets
    for target in targets:
        assert (ROOT / target / "kustomization.yaml").is_file(), target


def test_compose_commands_name_real_services_and_profiles() -> None:
    compose = compose_file()
    services = compose["services"]
    profiles = {p for service in services.values() for p in service.get("profiles", [])}
    checked = 0
    for words in shell_commands(DOC.read_text()):
        if words[:2] != ["docker", "compose"]:
            continue
        for index, word in enumerate(words):
            if word == "--scale":
                assert words[index + 1].split("=")[0] in services, words
                checked += 1
            if word == "--profile":
                assert words[index + 1] in profiles, words
                checked += 1
        for verb in ("logs", "exec", "run"):
            if verb in words:
                assert compose_service(words[words.index(verb) + 1 :]) in services, words
                checked += 1
    assert checked >= 4


def test_docker_run_publishes_the_port_the_image_exposes() -> None:
    exposed = re.findall(r"^EXPOSE (\d+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    for page in (DOC, README):
        runs = [w for w in shell_commands(page.read_text()) if w[:2] == ["docker", "run"]]
        assert runs, page.name
        app_runs = [w for w in runs if w[-1] == "paissive-income"]
        assert app_runs, page.name
        for words in app_runs:
            published = words[words.index("-p") + 1].split(":")[-1]
            assert published in exposed, (page.name, words)


def test_the_page_names_every_service_and_secret_of_the_stack() -> None:
    text = DOC.read_text()
    for service in (*stack.APP_SERVICES, *stack.INFRA_SERVICES):
        assert f"`{service.name}`" in text, service.name
    for name in stack.SECRETS:
        assert f"`{name}`" in text, name
    assert stack.POSTGRES_IMAGE in text and stack.REDIS_IMAGE in text and stack.VLLM_IMAGE in text


def test_pipeline_secrets_are_the_ones_the_pipeline_files_read() -> None:
    section = DOC.read_text().split("## 7. CI/CD", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|") for line in section.splitlines() if re.match(r"\| [A-Z]\w+ ", line)]
    rows = [cells for cells in rows if cells[1].strip() != "Pipeline"]
    files = set()
    for cells in rows:
        named_files = TICKED.findall(cells[2])
        text = "\n".join((ROOT / file).read_text() for file in named_files)
        files.update(named_files)
        names = TICKED.findall(cells[3])
        assert len(names) >= 2, cells
        for name in names:
            assert name in text, (named_files, name)
    expected = {".github/workflows/ci-cd.yml", ".gitlab-ci.yml", "azure-pipelines.yml"}
    assert files >= expected | {"buildspec.yml", "deploy/aws/codepipeline.yml"}


def test_codepipeline_command_sets_parameters_the_template_has() -> None:
    template = (ROOT / "deploy" / "aws" / "codepipeline.yml").read_text()
    parameters = yaml.load(template, Loader=yaml.BaseLoader)["Parameters"]
    (words,) = [w for w in shell_commands(DOC.read_text()) if w[:2] == ["aws", "cloudformation"]]
    overrides = words[words.index("--parameter-overrides") + 1 :]
    keys = [word.split("=")[0] for word in overrides if "=" in word]
    assert keys and all(key in parameters for key in keys), keys


def test_quoted_cli_errors_are_what_the_commands_print(tmp_path: Path) -> None:
    errors = [message for message in quoted_messages() if message.startswith("Error: ")]
    assert len(errors) >= 6
    printed = cli_failures(tmp_path)
    for message in errors:
        pattern = message_pattern(message)
        assert any(pattern.fullmatch(line) for line in printed), (message, printed)


def test_other_quoted_messages_are_in_the_code() -> None:
    source = source_text()
    others = [message for message in quoted_messages() if not message.startswith("Error: ")]
    assert len(others) >= 6
    for message in others:
        fragments = re.split(r"<[^>]+>|…|['()]", message)
        for fragment in (part.strip(" .:") for part in fragments):
            if len(fragment) >= 8:
                assert fragment in source, (message, fragment)


def key_paths(data: object, prefix: tuple = ()) -> list[tuple]:
    """Return the path of every leaf of nested mappings."""
    if not isinstance(data, dict):
        return [prefix]
    return [path for key, value in data.items() for path in key_paths(value, (*prefix, key))]


def test_compose_override_example_changes_keys_the_compose_file_has() -> None:
    (override,) = [yaml.safe_load(b) for b in fenced(DOC.read_text(), "yaml") if "services:" in b]
    services = compose_file()["services"]
    for path in key_paths(override["services"]):
        node = services
        for key in path:
            assert isinstance(node, dict) and key in node, path
            node = node[key]


def test_services_table_has_each_service_command_and_port_of_stack_py() -> None:
    section = DOC.read_text().split("## What runs where", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        names = TICKED.findall(cells[0]) if cells else []
        if names:
            rows[names[0]] = cells
    assert set(rows) == {s.name for s in (*stack.APP_SERVICES, *stack.INFRA_SERVICES)}
    for service in stack.APP_SERVICES:
        assert f"`{' '.join(service.command)}`" in rows[service.name][2], service.name
        assert rows[service.name][3] == str(service.port or "–"), service.name
    for infra in stack.INFRA_SERVICES:
        assert infra.image in rows[infra.name][2] and rows[infra.name][3] == str(infra.port)
