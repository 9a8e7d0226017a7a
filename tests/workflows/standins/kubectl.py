"""A recording `kubectl`: one cluster's Deployments and their revisions, kept in a file; kustomize renders for real.

`apply` makes a new revision of a Deployment only when its pod template changes, as Kubernetes
does; `rollout undo` returns to the previous revision (or `--to-revision`) and numbers it anew;
`rollout status` succeeds for a Deployment that exists; `port-forward service/<name>` forwards to
the service the harness placed in the cluster (services.json: `{"<namespace>/<name>": url}`), once
its Deployment is there. Everything else is refused loudly.
"""

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tests.workflows.standins.common import RECORD_DIRECTORY, fail, record

TOOL = "kubectl"
REAL_KUBECTL = "HARNESS_REAL_KUBECTL"
"""The real kubectl (from the dev dependencies), which renders `kubectl kustomize`."""
REVISION = "deployment.kubernetes.io/revision"
SERVICES = "services.json"
"""The cluster's Services as the harness placed them: their URLs on loopback, by `<namespace>/<name>`."""


def _cluster_file() -> Path:
    return Path(os.environ[RECORD_DIRECTORY]) / "cluster.json"


def load_cluster() -> dict[str, Any]:
    """`{"<namespace>/<name>": {"revision": n, "history": {n: template}, "template": ...}}` for each Deployment."""
    path = _cluster_file()
    return dict(json.loads(path.read_text())) if path.exists() else {}


def _save(cluster: dict[str, Any]) -> None:
    _cluster_file().write_text(json.dumps(cluster, indent=1))


def _option(words: list[str], *names: str) -> str:
    for index, word in enumerate(words):
        for name in names:
            if word == name and index + 1 < len(words):
                return words[index + 1]
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
    return ""


def _deployment_key(words: list[str]) -> str:
    target = next((word for word in words if word.startswith("deployment/")), "")
    if not target:
        fail(TOOL, f"expected deployment/<name> in {words}")
    return f"{_option(words, '--namespace', '-n') or 'default'}/{target.removeprefix('deployment/')}"


def _apply(words: list[str]) -> None:
    cluster = load_cluster()
    documents = [
        document for document in yaml.safe_load_all(Path(_option(words, "-f", "--filename")).read_text()) if document
    ]
    changed = []
    for document in documents:
        if document["kind"] != "Deployment":
            continue
        key = f"{document['metadata'].get('namespace', 'default')}/{document['metadata']['name']}"
        template = document["spec"]["template"]
        state = cluster.setdefault(key, {"revision": 0, "history": {}, "template": None})
        if state["template"] != template:
            state["revision"] += 1
            state["history"][str(state["revision"])] = template
            state["template"] = template
            changed.append(key)
        print(f"deployment.apps/{document['metadata']['name']} {'configured' if key in changed else 'unchanged'}")
    _save(cluster)
    kinds = [f"{document['kind']}/{document['metadata']['name']}" for document in documents]
    record(TOOL, {"apply": kinds, "revisions": {key: state["revision"] for key, state in cluster.items()}})


def _rollout(words: list[str]) -> None:
    key = _deployment_key(words)
    cluster = load_cluster()
    if key not in cluster:
        fail(TOOL, f'Error from server (NotFound): deployments.apps "{key.split("/")[1]}" not found')
    state = cluster[key]
    if words[0] == "status":
        record(TOOL, {"rollout status": key, "revision": state["revision"]})
        print(f'deployment "{key.split("/")[1]}" successfully rolled out')
    elif words[0] == "undo":
        revisions = sorted(int(number) for number in state["history"])
        wanted = _option(words, "--to-revision")
        target = int(wanted) if wanted and wanted != "0" else (revisions[-2] if len(revisions) > 1 else 0)
        if str(target) not in state["history"]:
            fail(TOOL, f"error: unable to find specified revision {target} in history")
        template = state["history"].pop(str(target))
        state["revision"] += 1
        state["history"][str(state["revision"])] = template
        state["template"] = template
        _save(cluster)
        record(TOOL, {"rollout undo": key, "to": target, "revision": state["revision"]})
        print(f"deployment.apps/{key.split('/')[1]} rolled back")
    elif words[0] == "history":
        record(TOOL, {"rollout history": key})
        print(
            "REVISION  CHANGE-CAUSE\n"
            + "\n".join(f"{number}         <none>" for number in sorted(state["history"], key=int))
        )
    else:
        fail(TOOL, f"unsupported rollout command {words[0]!r}")


def _deployment_named(words: list[str]) -> str:
    """`deployment/<name>` or `deployment <name>` in a command line, as `<namespace>/<name>`."""
    if words[:1] in (["deployment"], ["deployments"], ["deploy"]) and len(words) > 1:
        words = [f"deployment/{words[1]}", *words[2:]]
    return _deployment_key(words)


def _get(words: list[str]) -> None:
    key = _deployment_named(words)
    cluster = load_cluster()
    if key not in cluster:
        if "--ignore-not-found" in words:
            record(TOOL, {"get": key, "found": False})
            return
        fail(TOOL, f'Error from server (NotFound): deployments.apps "{key.split("/")[1]}" not found')
    state = cluster[key]
    namespace, name = key.split("/")
    metadata = {"name": name, "namespace": namespace, "annotations": {REVISION: str(state["revision"])}}
    deployment = {"metadata": metadata, "spec": {"template": state["template"]}}
    output = _option(words, "-o", "--output")
    record(TOOL, {"get": key, "output": output})
    if output == "json":
        print(json.dumps(deployment))
    elif output.startswith("jsonpath="):
        value: Any = deployment
        for part in re.findall(r"(?:[^.\\]|\\.)+", output.removeprefix("jsonpath=").strip("{}'\"")):
            value = value[part.replace("\\.", ".")]
        print(value, end="")
    else:
        fail(TOOL, f"unsupported output {output!r}")


def _delete(words: list[str]) -> None:
    key = _deployment_named(words)
    cluster = load_cluster()
    if key not in cluster and "--ignore-not-found" not in words:
        fail(TOOL, f'Error from server (NotFound): deployments.apps "{key.split("/")[1]}" not found')
    cluster.pop(key, None)
    _save(cluster)
    record(TOOL, {"delete": key})


def _port_forward(words: list[str]) -> None:
    namespace = _option(words, "--namespace", "-n") or "default"
    service = next((word.removeprefix("service/") for word in words if word.startswith("service/")), "")
    services_file = Path(os.environ[RECORD_DIRECTORY]) / SERVICES
    services = json.loads(services_file.read_text()) if services_file.exists() else {}
    url = services.get(f"{namespace}/{service}")
    if not url or f"{namespace}/{service}" not in load_cluster():
        fail(TOOL, "error: unable to forward port because pod is not running. Current status=Pending")
    record(TOOL, {"port-forward": f"{namespace}/{service}"})
    print(f"Forwarding from 127.0.0.1:{url.rsplit(':', 1)[1]} -> 3000", flush=True)
    while True:  # until the smoke test is done and stops it, as kubectl runs until interrupted
        time.sleep(1)


def main() -> None:
    """`kubectl kustomize|apply|rollout status|undo|history|get|delete deployment|port-forward service`."""
    arguments = sys.argv[1:]
    if arguments[:1] == ["kustomize"]:
        os.execv(os.environ[REAL_KUBECTL], [os.environ[REAL_KUBECTL], *arguments])
    if arguments[:1] == ["apply"]:
        _apply(arguments[1:])
    elif arguments[:1] == ["rollout"]:
        _rollout(arguments[1:])
    elif arguments[:1] == ["get"]:
        _get(arguments[1:])
    elif arguments[:1] == ["delete"]:
        _delete(arguments[1:])
    elif arguments[:1] == ["port-forward"]:
        _port_forward(arguments[1:])
    else:
        fail(TOOL, f"unsupported command {arguments[:2]}")
