"""The llama-cpp backend without a model: its registration, the install hint when the optional
extra is missing, GGUF sources (local, hub, offline) and the quantized built-in entry."""

from __future__ import annotations

import subprocess
import sys

import pytest
from models_helpers import make_settings

from ai_models.backends import backend_names, backend_tasks, get_backend
from ai_models.backends.gguf_files import GgufSourceError, gguf_path
from ai_models.errors import ModelLoadError
from ai_models.registry import ModelOptions, ModelSpec, Task, builtin_specs, default_backend


def _spec(source: str, **options) -> ModelSpec:
    return ModelSpec(
        name="gguf",
        task="chat",
        backend="llama-cpp",
        source=source,
        options=ModelOptions(**options),
    )


def test_the_backend_is_registered_without_importing_llama_cpp():
    assert "llama-cpp" in backend_names()
    assert backend_tasks("llama-cpp") == (Task.TEXT_GENERATION,)
    code = (
        "import sys; from ai_models.backends import get_backend; get_backend('llama-cpp'); "
        "print('llama_cpp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_the_extra_loading_names_the_pip_command(monkeypatch, tmp_path, tmp_path_factory):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if llama-cpp-python were missing
    settings = make_settings(tmp_path_factory)
    with pytest.raises(ModelLoadError) as caught:
        get_backend("llama-cpp").load(_spec(str(model)), settings, None)
    message = str(caught.value)
    assert 'pip install "paissive-income[gguf]"' in message and "\n" not in message


def test_a_file_that_is_no_gguf_fails_in_one_line(tmp_path, tmp_path_factory):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    model = tmp_path / "broken.gguf"
    model.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(ModelLoadError) as caught:
        get_backend("llama-cpp").load(_spec(str(model)), make_settings(tmp_path_factory), None)
    assert "broken.gguf" in str(caught.value) and "\n" not in str(caught.value)


def test_a_gguf_source_is_a_file_or_the_one_gguf_of_a_folder(tmp_path):
    (tmp_path / "a-q4_k_m.gguf").write_bytes(b"GGUF")
    assert gguf_path(_spec(str(tmp_path / "a-q4_k_m.gguf"))) == tmp_path / "a-q4_k_m.gguf"
    assert gguf_path(_spec(str(tmp_path))) == tmp_path / "a-q4_k_m.gguf"
    (tmp_path / "a-q8_0.gguf").write_bytes(b"GGUF")
    with pytest.raises(GgufSourceError, match="several .gguf files.*gguf_file"):
        gguf_path(_spec(str(tmp_path)))
    assert gguf_path(_spec(str(tmp_path), gguf_file="*q8_0.gguf")) == tmp_path / "a-q8_0.gguf"
    with pytest.raises(GgufSourceError, match="no such file"):
        gguf_path(_spec(str(tmp_path / "missing.gguf")))


def test_a_hub_repo_needs_its_file_and_offline_says_so(monkeypatch, tmp_path):
    with pytest.raises(GgufSourceError, match="options.gguf_file"):
        gguf_path(_spec("paissive-test/nothing-GGUF"))
    with pytest.raises(GgufSourceError, match="not downloaded yet"):
        gguf_path(_spec("paissive-test/nothing-GGUF", gguf_file="*.gguf"), local_only=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(GgufSourceError) as caught:
        gguf_path(_spec("paissive-test/nothing-GGUF", gguf_file="*q4_k_m.gguf"))
    assert "offline" in str(caught.value) and "\n" not in str(caught.value)


def test_a_pulled_hub_gguf_loads_from_the_cache(monkeypatch, tmp_path):
    import huggingface_hub.constants

    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--paissive-test--tiny-GGUF"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for name in ("tiny-q4_k_m.gguf", "tiny-q8_0.gguf"):
        (snapshot / name).write_bytes(b"GGUF")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = _spec("paissive-test/tiny-GGUF", gguf_file="*q4_k_m.gguf")
    assert gguf_path(spec) == snapshot / "tiny-q4_k_m.gguf"
    assert gguf_path(spec, local_only=True) == snapshot / "tiny-q4_k_m.gguf"
    with pytest.raises(GgufSourceError, match="no .gguf file matching"):
        gguf_path(_spec("paissive-test/tiny-GGUF", gguf_file="*q2_k.gguf"))


def test_the_gguf_file_option_is_a_name_not_a_path():
    with pytest.raises(ValueError):
        ModelOptions(gguf_file="../../etc/passwd")
    assert ModelOptions(gguf_file="*Q4_K_M.gguf").gguf_file == "*Q4_K_M.gguf"


def test_the_quantized_default_chat_model_and_gguf_sources_pick_llama_cpp():
    entry = next(spec for spec in builtin_specs() if spec.backend == "llama-cpp")
    assert entry.task is Task.TEXT_GENERATION
    assert entry.source == "Qwen/Qwen2.5-1.5B-Instruct-GGUF"
    assert entry.options.gguf_file == "qwen2.5-1.5b-instruct-q4_k_m.gguf"
    assert default_backend(Task.TEXT_GENERATION, "~/models/x.Q4_K_M.gguf") == "llama-cpp"
    assert default_backend(Task.TEXT_GENERATION, "org/model") == "transformers"
