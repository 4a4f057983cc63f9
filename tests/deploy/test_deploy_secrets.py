"""`paissive-income deploy secrets`: the Compose stack's secret files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from ai_models.serving import output
from paissive_income.cli import main
from paissive_income.config import SecretFileSource, Settings
from paissive_income.deploy import secrets_files, stack


def _run(*args: str):
    return CliRunner().invoke(main, ["deploy", "secrets", *args])


def _read(folder: Path) -> dict[str, str]:
    return {name: (folder / name).read_text() for name in stack.SECRETS}


def test_writes_every_secret_random_and_private(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    result = _run("--out", str(folder))
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(folder / name) for name in stack.SECRETS]
    # The folder is private; the files are readable inside containers by user 10001.
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in stack.SECRETS:
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o644
    values = _read(folder)
    assert len(values["secret_key"]) >= 48 and len(values["ai_model_api_key"]) >= 32
    assert not any(value.endswith("\n") or not value for value in values.values())
    again = _read(Path(_run("--out", str(tmp_path / "other")).output.split()[0]).parent)
    assert all(values[name] != again[name] for name in stack.SECRETS)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["other", "secrets"]  # no staging


def test_database_url_matches_the_postgres_password(tmp_path: Path) -> None:
    values = _read(Path(_run("--out", str(tmp_path / "s")).output.split()[0]).parent)
    url = make_url(values["database_url"])
    assert url.password == values["postgres_password"]
    assert (url.drivername, url.username, url.host, url.port, url.database) == (
        "postgresql+psycopg",
        stack.DATABASE_USER,
        stack.POSTGRES.name,
        stack.POSTGRES.port,
        stack.DATABASE_NAME,
    )


@pytest.mark.parametrize("password", ["p@ss:w/rd", "50%#?&=", "sp ace+plus", "ünï'\"$(x)"])
def test_database_url_escapes_any_password(password: str) -> None:
    assert make_url(secrets_files.database_url(password)).password == password


def test_the_app_reads_the_files_it_writes(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    _run("--out", str(folder))
    environ = {f"{var}_FILE": str(folder / name) for var, name in stack.AGENT_SECRETS.items()}
    read = SecretFileSource(Settings, ("SECRET_KEY", "DATABASE_URL"), environ)()
    assert read["secret_key"] == (folder / "secret_key").read_text()
    assert read["database_url"] == (folder / "database_url").read_text()


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    _run("--out", str(folder))
    before = _read(folder)
    result = _run("--out", str(folder))
    assert result.exit_code == 1 and _read(folder) == before
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--force" in lines[0]
    assert _run("--out", str(folder), "--force").exit_code == 0
    assert all(_read(folder)[name] != before[name] for name in stack.SECRETS)


def test_one_existing_file_blocks_them_all(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    folder.mkdir(mode=0o700)
    (folder / "postgres_password").write_text("kept")
    assert _run("--out", str(folder)).exit_code == 1
    assert sorted(p.name for p in folder.iterdir()) == ["postgres_password"]
    assert (folder / "postgres_password").read_text() == "kept"


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    real = output._write

    def fail_third(path: Path, file: output.OutputFile) -> None:
        written.append(file.path)
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        real(path, file)

    monkeypatch.setattr(output, "_write", fail_third)
    result = _run("--out", str(tmp_path / "secrets"))
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert list(tmp_path.iterdir()) == []


def test_warns_when_an_existing_folder_is_open_to_others(tmp_path: Path) -> None:
    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o755)
    result = _run("--out", str(folder))
    assert result.exit_code == 0 and f"warning: {folder} is open to other users" in result.output
