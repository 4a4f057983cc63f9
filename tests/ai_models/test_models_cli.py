"""``paissive-income models …``: registry commands, and ``serve`` as containers start it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import openai
import pytest
from click.testing import CliRunner

from ai_models.cli import models
from ai_models.config import load_settings
from ai_models.serve_command import listen_address
from paissive_income.cli import main

CLI = [sys.executable, "-c", "from paissive_income.cli import main; main()", "models"]


def run(*args: str):
    return CliRunner().invoke(models, list(args))


def test_models_is_a_subcommand_of_the_product_cli():
    result = CliRunner().invoke(main, ["models", "--help"])
    assert result.exit_code == 0
    for command in ("list", "add", "remove", "info", "serve", "pull"):
        assert command in result.output


def test_add_list_info_remove_round_trip(tiny_lm):
    added = run("add", "tiny", "--source", tiny_lm, "--task", "chat", "--context-length", "512")
    assert added.exit_code == 0, added.output
    listed = run("list", "--json")
    rows = {row["name"]: row for row in json.loads(listed.output)}
    assert rows["tiny"]["options"] == {"context_length": 512}
    assert rows["all-minilm-l6-v2"]["builtin"] is True
    assert "tiny" in run("list").output
    info = run("info", "tiny").output
    assert "task: text-generation" in info and tiny_lm in info
    assert "not downloaded yet" in run("info", "qwen2.5-0.5b-instruct").output
    assert run("pull", "tiny").output.strip() == f"tiny: {tiny_lm}"
    assert run("remove", "tiny").exit_code == 0
    assert "tiny" not in run("list").output


def test_a_gguf_file_is_a_source_of_the_llama_cpp_backend(tmp_path):
    gguf = tmp_path / "tiny-q4.gguf"
    gguf.write_bytes(b"GGUF")
    added = run("add", "tiny-gguf", "--source", str(gguf), "--task", "chat")
    assert added.exit_code == 0, added.output
    assert "llama-cpp" in added.output
    info = run("info", "tiny-gguf").output
    assert "backend: llama-cpp" in info and f"files: {gguf}" in info
    assert run("pull", "tiny-gguf").output.strip() == f"tiny-gguf: {gguf}"
    hub = run("info", "qwen2.5-1.5b-instruct-q4").output
    assert "not downloaded yet" in hub and "q4_k_m" in hub.lower()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "x", "--source", "/no/such/dir", "--task", "chat"], "no such folder"),
        (["add", "x", "--source", "/no/such/m.gguf", "--task", "chat"], "no such .gguf file"),
        (
            ["add", "x", "--source", "org/m", "--task", "embeddings", "--backend", "transformers"],
            "cannot serve embeddings",
        ),
        (["add", "bad name!", "--source", "org/m", "--task", "chat"], "name:"),
        (
            ["add", "x", "--source", "http://h/v1", "--task", "chat", "--backend", "transformers"],
            "openai-compatible",
        ),
        (["remove", "all-minilm-l6-v2"], "built-in"),
        (["info", "ghost"], "no model named 'ghost'"),
    ],
)
def test_bad_commands_end_with_one_line(args, message):
    result = run(*args)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]


def test_serve_refuses_bad_env_with_one_line(monkeypatch):
    monkeypatch.setenv("MAX_BATCH_SIZE", "lots")
    result = run("serve", "--model-path", "/models/x")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: MAX_BATCH_SIZE='lots': Input should be a valid integer, unable to parse string "
        "as an integer"
    )


def test_sagemaker_mode_listens_on_8080():
    plain = load_settings()
    assert listen_address(plain, port_given=False) == ("127.0.0.1", 8000)
    sagemaker = load_settings(sagemaker=True, port=8000)  # PORT from the image's env is ignored
    assert listen_address(sagemaker, port_given=False) == ("0.0.0.0", 8080)
    assert listen_address(sagemaker, port_given=True) == ("0.0.0.0", 8000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_serve_runs_sagemaker_mode_from_env(tiny_lm, tmp_path):
    """``docker run IMAGE serve``: config only from env, SageMaker routes, SIGTERM stops it."""
    port = free_port()
    env = {
        **os.environ,
        "MODEL_PATH": tiny_lm,
        "MODEL_TYPE": "chat",
        "MODEL_ID": "llm",
        "HOST": "127.0.0.1",
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "MAX_BATCH_SIZE": "4",
        "PAISSIVE_MODELS_HOME": str(tmp_path),
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([*CLI, "serve", "serve"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ping").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("the SageMaker server never answered /ping")
        answer = httpx.post(f"{url}/invocations", json={"prompt": "hi", "max_tokens": 3}).json()
        assert answer["object"] == "text_completion" and answer["model"] == "llm"
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="none")
        assert [m.id for m in client.models.list()] == ["llm"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status reports it
    assert process.returncode in (0, -signal.SIGTERM), stderr
    assert "Traceback" not in stderr


def test_unreachable_hub_is_one_clear_line_and_exit_1(tmp_path):
    env = {
        **os.environ,
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "HF_HOME": str(tmp_path / "hf"),
        "PAISSIVE_MODELS_HOME": str(tmp_path),
        "LOG_LEVEL": "CRITICAL",
    }
    done = subprocess.run(
        [*CLI, "serve", "--model-id", "org/not-cached-model", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "Error: cannot load model 'org/not-cached-model' from 'org/not-cached-model'"
    )
    assert "cannot reach the Hugging Face Hub at http://127.0.0.1:9" in last
    assert "not in the local cache" in last and "Traceback" not in done.stderr
