#!/bin/sh
# Roll one image of pAIssive Income out to a cluster through a Kustomize overlay; every CI/CD
# pipeline (.github/workflows/ci-cd.yml, .gitlab-ci.yml, azure-pipelines.yml, AWS CodeBuild)
# calls it the same way, with KUBECONFIG naming the credentials it wrote from its secret:
#
#   sh deploy/ci/deploy-kubernetes.sh OVERLAY NAMESPACE IMAGE
#   e.g. deploy/kubernetes/overlays/dev paissive-income-dev ghcr.io/acme/paissive-income:<sha>
#
# Order: the migration Job is deleted (a Job's pod template is immutable, so a new image needs a
# new Job), the overlay is applied with the image set, the Job must complete, then the rollouts.
# Needs kubectl and kustomize; DEPLOY_TIMEOUT (default 15m) bounds each wait.
set -eu

# One line on stderr (control characters in a bad value shown as '?'), exit 2.
fail() {
  printf 'deploy-kubernetes: %s\n' "$(printf '%s' "$*" | tr -c '[:print:]' '?')" >&2
  exit 2
}

newline='
'
# True when the whole value (one line, no NUL or newline) matches the extended regex.
matches() {
  case $1 in *"$newline"*) return 1 ;; esac
  printf '%s' "$1" | grep -Eqx "$2"
}

[ "$#" -eq 3 ] || fail "usage: deploy-kubernetes.sh OVERLAY NAMESPACE IMAGE"
overlay=$1
namespace=$2
image=$3
timeout=${DEPLOY_TIMEOUT:-15m}

[ -f "$overlay/kustomization.yaml" ] || fail "OVERLAY: no kustomization.yaml in '$overlay'"
# A DNS label; an image reference of registry/path:tag or @digest characters only (no spaces,
# quotes or shell syntax can reach kubectl or the kustomization file).
matches "$namespace" '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?' ||
  fail "NAMESPACE: '$namespace' is not a Kubernetes namespace name"
reference='([a-z0-9][a-z0-9.-]*(:[0-9]{1,5})?/)?[a-z0-9]([a-z0-9._/-]*[a-z0-9])?'
reference="$reference(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?"
matches "$image" "$reference" ||
  fail "IMAGE: '$image' is not an image reference (registry/name:tag)"
matches "$timeout" '[0-9]+[smh]' || fail "DEPLOY_TIMEOUT: '$timeout' is not a duration like 15m"
for tool in kubectl kustomize; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done

(cd "$overlay" && kustomize edit set image "paissive-income=$image")
kubectl delete job migrate --namespace "$namespace" --ignore-not-found --wait=true
kubectl apply --kustomize "$overlay"
kubectl wait --for=condition=complete job/migrate --namespace "$namespace" --timeout "$timeout"
for deployment in web worker ai-models; do
  kubectl rollout status "deployment/$deployment" --namespace "$namespace" --timeout "$timeout"
done
echo "deploy-kubernetes: $image is live in $namespace"
