"""CPU threading defaults of the model server: every core, with OpenMP workers that sleep."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from ai_models.backends.loading import configure_cpu_threads


def omp_wait_policy(**env: str) -> str:
    """Return OMP_WAIT_POLICY as a fresh process sees it once it imported ai_models."""
    code = "import ai_models, os; print(os.environ['OMP_WAIT_POLICY'])"
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    return out.stdout.strip()


def test_openmp_workers_sleep_unless_the_environment_says_otherwise():
    assert omp_wait_policy() == "PASSIVE"
    assert omp_wait_policy(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"


def test_cpu_threads_default_to_every_usable_core():
    before = torch.get_num_threads()
    try:
        configure_cpu_threads("cpu", None)
        assert torch.get_num_threads() == len(os.sched_getaffinity(0))
        configure_cpu_threads("cpu", 1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
