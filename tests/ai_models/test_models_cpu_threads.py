"""CPU defaults of the model server: one thread per physical core (capped by a container's CPU
quota) with OpenMP workers that sleep, bf16 where the CPU computes it natively, and one log line
at model load saying what was chosen and why."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
import torch
from models_helpers import chat_spec, make_settings

from ai_models.backends import get_backend, loading
from ai_models.backends.loading import (
    cgroup_cpu_limit,
    configure_cpu_threads,
    default_cpu_threads,
    native_bf16,
    physical_cores,
    pick_dtype,
)
from ai_models.metrics import ServerMetrics


def omp_wait_policy(**env: str) -> str:
    """Return OMP_WAIT_POLICY as a fresh process sees it once it imported ai_models."""
    code = "import ai_models, os; print(os.environ['OMP_WAIT_POLICY'])"
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.fixture
def keep_threads():
    """Restore torch's thread count after a test changed it."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_openmp_workers_sleep_unless_the_environment_says_otherwise():
    assert omp_wait_policy() == "PASSIVE"
    assert omp_wait_policy(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"


def test_cpu_threads_default_to_the_physical_cores_and_the_setting_wins(keep_threads):
    cores, logical = physical_cores()
    assert logical == len(os.sched_getaffinity(0)) and 1 <= cores <= logical
    configure_cpu_threads("cpu", None)
    assert torch.get_num_threads() == default_cpu_threads()[0] <= cores
    configure_cpu_threads("cpu", 1)
    assert torch.get_num_threads() == 1
    configure_cpu_threads("cuda", None)
    assert torch.get_num_threads() == 1, "a GPU model leaves the CPU pool alone"


def test_hyper_threads_and_container_quotas_lower_the_default(monkeypatch):
    monkeypatch.setattr(loading, "cgroup_cpu_limit", lambda: None)
    monkeypatch.setattr(loading, "physical_cores", lambda: (8, 16))
    assert default_cpu_threads() == (8, "one per physical core: 8 of 16 logical CPUs")
    monkeypatch.setattr(loading, "physical_cores", lambda: (4, 4))
    assert default_cpu_threads() == (4, "all 4 cores")
    monkeypatch.setattr(loading, "cgroup_cpu_limit", lambda: 2)
    assert default_cpu_threads() == (2, "the container's CPU limit of 2")


@pytest.mark.parametrize(
    ("files", "limit"),
    [
        ({"cpu.max": "150000 100000\n"}, 2),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "50000 100000\n"}, 1),
        ({"cpu/cpu.cfs_quota_us": "400000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 4),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu.max": "garbage\n"}, None),
        ({}, None),
    ],
)
def test_cgroup_cpu_quota_is_read_from_v2_or_v1_files(tmp_path, files, limit):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_limit(tmp_path) == limit


def fake_capability(monkeypatch, **flags: bool) -> None:
    monkeypatch.setattr(torch._C._cpu, "_get_cpu_capability", lambda: dict(flags), raising=False)


def test_native_bf16_is_read_from_torch_and_else_from_proc_cpuinfo(monkeypatch):
    fake_capability(monkeypatch, amx_bf16=True, avx512_bf16=True)
    assert native_bf16() == "AMX"
    fake_capability(monkeypatch, amx_bf16=False, avx512_bf16=True)
    assert native_bf16() == "AVX-512 BF16"
    fake_capability(monkeypatch, amx_bf16=False, avx512_bf16=False)
    assert native_bf16() is None
    monkeypatch.delattr(torch._C._cpu, "_get_cpu_capability")
    monkeypatch.setattr(loading, "_proc_cpu_flags", lambda: {"avx2", "avx512_bf16"})
    assert native_bf16() == "AVX-512 BF16"
    monkeypatch.setattr(loading, "_proc_cpu_flags", lambda: {"avx2", "fma"})
    assert native_bf16() is None


def test_proc_cpuinfo_flags_match_torchs_answer():
    flags = loading._proc_cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags on this system")
    capability = torch._C._cpu._get_cpu_capability()
    for flag in ("amx_bf16", "avx512_bf16"):
        assert (flag in flags) == bool(capability.get(flag)), flag


def test_auto_dtype_is_bf16_only_on_cpus_with_native_bf16(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="ai_models.backends.loading")
    monkeypatch.setattr(loading, "native_bf16", lambda: "AMX")
    assert pick_dtype("auto", "cpu") is torch.bfloat16
    assert pick_dtype(None, "cpu") is torch.bfloat16
    assert pick_dtype("float32", "cpu") is torch.float32, "an explicit value is honoured"
    monkeypatch.setattr(loading, "native_bf16", lambda: None)
    assert pick_dtype("auto", "cpu") is torch.float32
    assert pick_dtype("bfloat16", "cpu") is torch.bfloat16
    assert pick_dtype("float16", "cpu") is torch.float16
    assert pick_dtype("auto", "mps") is torch.float16
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("dtype bfloat16 (CPU has AMX); threads ")
    assert lines[2].startswith("dtype float32 (as configured); threads ")
    assert lines[3].startswith("dtype float32 (CPU has no native bf16); threads ")


def test_loading_a_model_logs_its_dtype_and_threads_once(
    tiny_lm, tmp_path_factory, caplog, monkeypatch
):
    from transformers import AutoModelForCausalLM

    loaded = []
    original = AutoModelForCausalLM.from_pretrained

    def spy(*args, **kwargs):
        loaded.append(original(*args, **kwargs))
        return loaded[-1]

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", spy)
    caplog.set_level(logging.INFO, logger="ai_models.backends.loading")
    before = torch.get_num_threads()
    try:
        settings = make_settings(tmp_path_factory, MODEL_CPU_THREADS=1)
        spec = chat_spec(tiny_lm)
        model = get_backend(spec.backend).load(spec, settings, ServerMetrics().for_model("x"))
        model.close()
    finally:
        torch.set_num_threads(before)
    expected = torch.bfloat16 if native_bf16() else torch.float32
    assert [m.dtype for m in loaded] == [expected]
    chosen = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dtype ")]
    why = f"CPU has {native_bf16()}" if native_bf16() else "CPU has no native bf16"
    name = str(expected).removeprefix("torch.")
    assert chosen == [f"dtype {name} ({why}); threads 1 (MODEL_CPU_THREADS)"]
