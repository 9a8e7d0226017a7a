"""Reach a Kubernetes Service from this machine through `kubectl port-forward`, for the smoke test.

The Service is ClusterIP and the project ships no Ingress: how clients reach it is the cluster's
choice. A runner reaches it all the same through the API server, with the deploy's own kubeconfig,
on a loopback port that kubectl picks and prints.
"""

import re
import selectors
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from mlloop.errors import SmokeFailedError

SERVICE_PORT = "http"
"""The Service's port, by the name bento/k8s/base/service.yaml gives it."""
FORWARDING = re.compile(r"^Forwarding from 127\.0\.0\.1:(\d+) ")
STOP_SECONDS = 10


def _forwarded_port(process: "subprocess.Popen[str]", service: str, timeout_seconds: float) -> int:
    """The local port kubectl says it forwards, read from its output; SmokeFailedError if it says none in time."""
    output, errors = process.stdout, process.stderr
    if output is None or errors is None:
        raise ValueError("kubectl must be started with its output piped")
    deadline = time.monotonic() + timeout_seconds
    with selectors.DefaultSelector() as selector:
        selector.register(output, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(remaining):
                continue
            line = output.readline()
            if not line:  # kubectl exited: no such service, no ready pod, no access
                process.wait()
                raise SmokeFailedError(f"kubectl port-forward to {service} failed: {errors.read().strip()}")
            if match := FORWARDING.match(line):
                return int(match.group(1))
    raise SmokeFailedError(f"kubectl port-forward to {service} forwarded no port within {timeout_seconds:g} s")


@contextmanager
def forwarded(service: str, kubectl: str, timeout_seconds: float) -> Iterator[str]:
    """For the block, the base URL on loopback of the Service `service` (`namespace/name`)."""
    namespace, name = service.split("/")
    command = [kubectl, "port-forward", "--namespace", namespace, "--address", "127.0.0.1"]
    try:
        process = subprocess.Popen(
            [*command, f"service/{name}", f":{SERVICE_PORT}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    except OSError as error:
        raise SmokeFailedError(f"cannot run {kubectl} to reach {service}: {error}") from error
    with process:  # closes kubectl's pipes and reaps it
        try:
            yield f"http://127.0.0.1:{_forwarded_port(process, service, timeout_seconds)}"
        finally:
            process.terminate()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
