"""Offline checks deploy/check.sh runs with its own tools virtualenv (not the project's).

    python check_manifests.py constraints PYPROJECT CONSTRAINTS
    python check_manifests.py compose COMPOSE_FILE
    python check_manifests.py crds MANIFEST...
    python check_manifests.py policy MANIFEST...

Exit status 1 and one line per problem on failure.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Problems = list[str]


def _name(requirement: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def check_constraints(pyproject: Path, constraints: Path) -> Problems:
    """Every runtime dependency of the project is pinned in the constraints file."""
    wanted = {_name(r) for r in tomllib.loads(pyproject.read_text())["project"]["dependencies"]}
    lines = [line for line in constraints.read_text().splitlines() if "==" in line]
    pinned = {_name(line) for line in lines}
    return [
        f"{constraints.name}: {name} is a dependency in {pyproject.name} but has no pin "
        "(run deploy/update-constraints.sh)"
        for name in sorted(wanted - pinned)
    ]


# --- Compose --------------------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: str, env: dict[str, str], problems: Problems) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error} and $$."""

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op in ("-", ":-") and unset:
            return arg
        if op in ("?", ":?") and unset:
            problems.append(f"compose: ${{{name}}} is required: {arg}")
            return ""
        return value or ""

    return _VARIABLE.sub(substitute, value)


def _interpolated(node: Any, env: dict[str, str], problems: Problems) -> Any:
    if isinstance(node, str):
        return interpolate(node, env, problems)
    if isinstance(node, list):
        return [_interpolated(item, env, problems) for item in node]
    if isinstance(node, dict):
        return {key: _interpolated(value, env, problems) for key, value in node.items()}
    return node


def check_compose(path: Path) -> Problems:
    """The file parses under the Compose Specification, and its references resolve."""
    from compose_spec import PyCompose

    problems: Problems = []
    # YAML anchors and merge keys are resolved here, as Compose does, before the spec parser.
    document = _interpolated(yaml.safe_load(path.read_text()), dict(os.environ), problems)
    try:
        PyCompose.from_json(json.dumps(document))
    except ValueError as exc:
        problems.append(f"compose: {exc}")
    services = document.get("services", {})
    volumes = document.get("volumes") or {}
    for name, service in services.items():
        depends_on = service.get("depends_on", [])
        for other in depends_on if isinstance(depends_on, list) else depends_on.keys():
            if other not in services:
                problems.append(f"compose: {name} depends on unknown service {other}")
        network_mode = service.get("network_mode", "")
        if network_mode.startswith("service:") and network_mode[8:] not in services:
            problems.append(f"compose: {name} shares the network of unknown service {network_mode}")
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            if source and not source.startswith((".", "/", "~")) and source not in volumes:
                problems.append(f"compose: {name} mounts undeclared volume {source}")
    return problems


# --- Rendered manifests ---------------------------------------------------------------------


def documents(paths: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file, document) for every non-empty document of the files."""
    for path in paths:
        with open(path) as stream:
            for document in yaml.safe_load_all(stream):
                if document:
                    yield path, document


def _dropped(given: Any, kept: Any, path: str = "") -> Iterator[str]:
    """Fields present in ``given`` that the model did not keep: unknown to its schema."""
    if isinstance(given, dict):
        for key, value in given.items():
            if not isinstance(kept, dict) or key not in kept:
                yield path + key
            else:
                yield from _dropped(value, kept[key], f"{path}{key}.")
    elif isinstance(given, list) and isinstance(kept, list):
        for index, (item, kept_item) in enumerate(zip(given, kept, strict=False)):
            yield from _dropped(item, kept_item, f"{path}{index}.")


def _crd_models() -> dict[tuple[str, str], Any]:
    from cloudcoil.models.keda import v1alpha1 as keda
    from cloudcoil.models.prometheus_operator import v1 as monitoring

    return {
        ("keda.sh/v1alpha1", "ScaledObject"): keda.ScaledObject,
        ("keda.sh/v1alpha1", "TriggerAuthentication"): keda.TriggerAuthentication,
        ("monitoring.coreos.com/v1", "ServiceMonitor"): monitoring.ServiceMonitor,
        ("monitoring.coreos.com/v1", "PodMonitor"): monitoring.PodMonitor,
    }


# The CRDs' own kinds, which Kubernetes' schemas do not describe.
CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PodMonitor"}


def check_crds(paths: list[str]) -> Problems:
    """KEDA and Prometheus Operator resources against models generated from their CRDs,
    strictly: a field the CRD does not define is an error."""
    models = _crd_models()
    problems: Problems = []
    for path, document in documents(paths):
        model = models.get((document.get("apiVersion", ""), document.get("kind", "")))
        if model is None:
            continue
        where = f"{path}: {document['kind']}/{document['metadata']['name']}"
        try:
            parsed = model.model_validate(document)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        kept = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
        problems += [f"{where}: unknown field {field}" for field in _dropped(document, kept)]
    return problems


def _pod_spec(document: dict[str, Any]) -> dict[str, Any] | None:
    kind = document["kind"]
    if kind == "Pod":
        return document["spec"]  # type: ignore[no-any-return]
    if kind in ("Deployment", "Job"):
        return document["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return None


def check_policy(paths: list[str]) -> Problems:
    """What the chart promises of every pod it renders, and of scaling."""
    problems: Problems = []
    scaled: set[str] = set()
    deployments: dict[str, dict[str, Any]] = {}
    for path, document in documents(paths):
        kind, name = document["kind"], document["metadata"]["name"]
        where = f"{path}: {kind}/{name}"
        if kind in ("HorizontalPodAutoscaler", "ScaledObject"):
            scaled.add(document["spec"]["scaleTargetRef"]["name"])
        if kind == "Deployment":
            deployments[name] = document
        pod = _pod_spec(document)
        if pod is None:
            continue
        context = pod.get("securityContext", {})
        pod_checks = {
            "runAsNonRoot": context.get("runAsNonRoot") is True,
            "seccomp RuntimeDefault": context.get("seccompProfile", {}).get("type")
            == "RuntimeDefault",
            "no service account token": pod.get("automountServiceAccountToken") is False,
        }
        problems += [f"{where}: pod lacks {check}" for check, ok in pod_checks.items() if not ok]
        for container in pod["containers"]:
            context = container.get("securityContext", {})
            checks = {
                "readOnlyRootFilesystem": context.get("readOnlyRootFilesystem") is True,
                "allowPrivilegeEscalation false": context.get("allowPrivilegeEscalation") is False,
                "capabilities drop ALL": context.get("capabilities", {}).get("drop") == ["ALL"],
                "resource requests": bool(container.get("resources", {}).get("requests")),
                "memory limit": "memory" in container.get("resources", {}).get("limits", {}),
            }
            problems += [
                f"{where}: container {container['name']} lacks {check}"
                for check, holds in checks.items()
                if not holds
            ]
    for name, document in deployments.items():
        if name in scaled and "replicas" in document["spec"]:
            problems.append(f"Deployment/{name}: sets replicas although an autoscaler owns them")
    return problems


def main(argv: list[str]) -> int:
    """Run one check; print its problems."""
    command, args = argv[1], argv[2:]
    if command == "constraints":
        problems = check_constraints(Path(args[0]), Path(args[1]))
    elif command == "compose":
        problems = check_compose(Path(args[0]))
    elif command == "crds":
        problems = check_crds(args)
    elif command == "policy":
        problems = check_policy(args)
    else:
        raise SystemExit(f"unknown check {command!r}")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
