"""A recording `kubectl`: one cluster's Deployments and their revisions, kept in files; kustomize renders for real.

`apply` makes a new revision of a Deployment only when its pod template changes, as Kubernetes
does; `rollout undo` returns to the previous revision (or `--to-revision`) and numbers it anew;
`rollout status` succeeds for a Deployment that exists; `port-forward service/<name>` relays a free
loopback port to the service the test placed in the cluster (services.json), once its Deployment is
there, and says which port, as kubectl does. A test can make the cluster fail (faults.json).
Every call is recorded with its command line; everything else is refused loudly.
"""

import contextlib
import json
import os
import re
import socket
import socketserver
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.stand_ins.common import RECORD_DIRECTORY, fail, record

TOOL = "kubectl"
REAL_KUBECTL = "HARNESS_REAL_KUBECTL"
"""The real kubectl (from the dev dependencies), which renders `kubectl kustomize`."""
REVISION = "deployment.kubernetes.io/revision"
CLUSTER = "cluster.json"
"""The Deployments: `{"<namespace>/<name>": {"revision": n, "history": {n: template}, "template": ...}}`."""
SERVICES = "services.json"
"""The cluster's Services as the test placed them: their URLs on loopback, by `<namespace>/<name>`."""
FAULTS = "faults.json"
UNREACHABLE = "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"


@dataclass(frozen=True)
class Faults:
    """What the cluster does wrong, as a test sets it: nothing by default."""

    unreachable: bool = False  # every command fails, as against an API server that cannot be reached
    rejects_apply: bool = False  # the server refuses the manifests: apply changes nothing
    stalls_rollouts: bool = False  # no rollout completes: `rollout status` fails

    def save(self, directory: Path) -> None:
        (directory / FAULTS).write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, directory: Path) -> "Faults":
        path = directory / FAULTS
        return cls(**json.loads(path.read_text())) if path.exists() else cls()


def load_cluster(directory: Path) -> dict[str, Any]:
    """The cluster's Deployments as the stand-in keeps them in `directory` (CLUSTER)."""
    path = directory / CLUSTER
    return dict(json.loads(path.read_text())) if path.exists() else {}


def save_cluster(directory: Path, cluster: dict[str, Any]) -> None:
    """Set the cluster's Deployments, in CLUSTER's shape."""
    (directory / CLUSTER).write_text(json.dumps(cluster, indent=1))


def deployment(*templates: dict[str, Any]) -> dict[str, Any]:
    """A Deployment's state in CLUSTER after one revision per pod template, the last one running."""
    history = {str(number): template for number, template in enumerate(templates, start=1)}
    return {"revision": len(templates), "history": history, "template": templates[-1]}


def save_services(directory: Path, services: dict[str, str]) -> None:
    """Place Services in the cluster: `{"<namespace>/<name>": url on loopback}`."""
    (directory / SERVICES).write_text(json.dumps(services))


def _directory() -> Path:
    return Path(os.environ[RECORD_DIRECTORY])


def _record(entry: dict[str, Any]) -> None:
    record(TOOL, entry | {"argv": sys.argv[1:]})


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
    if Faults.load(_directory()).rejects_apply:
        fail(TOOL, "error: the server rejected the manifests")
    cluster = load_cluster(_directory())
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
    save_cluster(_directory(), cluster)
    kinds = [f"{document['kind']}/{document['metadata']['name']}" for document in documents]
    _record({"apply": kinds, "revisions": {key: state["revision"] for key, state in cluster.items()}})


def _rollout(words: list[str]) -> None:
    key = _deployment_key(words)
    cluster = load_cluster(_directory())
    if key not in cluster:
        fail(TOOL, f'Error from server (NotFound): deployments.apps "{key.split("/")[1]}" not found')
    state = cluster[key]
    if words[0] == "status":
        if Faults.load(_directory()).stalls_rollouts:
            fail(TOOL, f'error: deployment "{key.split("/")[1]}" exceeded its progress deadline')
        _record({"rollout status": key, "revision": state["revision"]})
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
        save_cluster(_directory(), cluster)
        _record({"rollout undo": key, "to": target, "revision": state["revision"]})
        print(f"deployment.apps/{key.split('/')[1]} rolled back")
    elif words[0] == "history":
        _record({"rollout history": key})
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
    cluster = load_cluster(_directory())
    if key not in cluster:
        if "--ignore-not-found" in words:
            _record({"get": key, "found": False})
            return
        fail(TOOL, f'Error from server (NotFound): deployments.apps "{key.split("/")[1]}" not found')
    state = cluster[key]
    namespace, name = key.split("/")
    metadata = {"name": name, "namespace": namespace, "annotations": {REVISION: str(state["revision"])}}
    deployment = {"metadata": metadata, "spec": {"template": state["template"]}}
    output = _option(words, "-o", "--output")
    _record({"get": key, "output": output})
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
    cluster = load_cluster(_directory())
    if key not in cluster and "--ignore-not-found" not in words:
        fail(TOOL, f'Error from server (NotFound): deployments.apps "{key.split("/")[1]}" not found')
    cluster.pop(key, None)
    save_cluster(_directory(), cluster)
    _record({"delete": key})
    print(f'deployment.apps "{key.split("/")[1]}" deleted')


def _relay(source: socket.socket, destination: socket.socket) -> None:
    """Copy one direction of a forwarded connection until it closes."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            destination.sendall(data)
    with contextlib.suppress(OSError):
        destination.shutdown(socket.SHUT_WR)


def _port_forward(words: list[str]) -> None:
    namespace = _option(words, "--namespace", "-n") or "default"
    service = next((word.removeprefix("service/") for word in words if word.startswith("service/")), "")
    services_file = _directory() / SERVICES
    services = json.loads(services_file.read_text()) if services_file.exists() else {}
    url = services.get(f"{namespace}/{service}")
    if not url or f"{namespace}/{service}" not in load_cluster(_directory()):
        fail(TOOL, "error: unable to forward port because pod is not running. Current status=Pending")
    upstream = urlsplit(url)

    class Relay(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with socket.create_connection((upstream.hostname or "", upstream.port or 0)) as connection:
                back = threading.Thread(target=_relay, args=(connection, self.request))
                back.start()
                _relay(self.request, connection)
                back.join()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Relay)
    _record({"port-forward": f"{namespace}/{service}"})
    print(f"Forwarding from 127.0.0.1:{server.server_address[1]} -> 3000", flush=True)
    server.serve_forever()  # until the smoke test is done and stops it, as kubectl runs until interrupted


def main() -> None:
    """`kubectl kustomize|apply|rollout status|undo|history|get|delete deployment|port-forward service`."""
    arguments = sys.argv[1:]
    if arguments[:1] == ["kustomize"]:  # renders locally: no cluster involved
        os.execv(os.environ[REAL_KUBECTL], [os.environ[REAL_KUBECTL], *arguments])
    if Faults.load(_directory()).unreachable:
        fail(TOOL, UNREACHABLE)
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
