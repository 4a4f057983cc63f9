"""AI Models Service: model registry, backends and an OpenAI-compatible server."""

import os

# Idle OpenMP workers must sleep, not spin: spinning ones starved the server's event loop and
# made all-core decoding 7x slower on 2 cores (see configure_cpu_threads). OpenMP reads this
# once, when torch loads, so it is set here, before any module of ours imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
