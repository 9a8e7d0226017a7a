"""An S3-compatible store on loopback for the remote tests: moto's server with IAM authentication on,
so a wrong key is refused as a real store refuses it, and a proxy that holds uploads, to interrupt a
push at a known point.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

REGION = "us-east-1"
STARTUP_SECONDS = 30
# How long the proxy waits for the store's answer to a relayed request.
RELAY_SECONDS = 30
# moto serves this many requests unauthenticated, then checks every signature and IAM policy:
# the three that create the administrator below (user, policy, access key).
UNAUTHENTICATED_REQUESTS = 3
# Headers that belong to one HTTP hop, not to the request or response the proxy relays.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect"}


@dataclass(frozen=True)
class Credentials:
    """An access key of an IAM user of the store."""

    key_id: str
    secret: str

    def environment(self) -> dict[str, str]:
        """The standard variables botocore, s3fs and DVC read the key from."""
        return {"AWS_ACCESS_KEY_ID": self.key_id, "AWS_SECRET_ACCESS_KEY": self.secret}


def free_port() -> int:
    """A loopback port nothing listens on (the operating system's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def isolated_environment(scratch: Path) -> dict[str, str]:
    """AWS settings that keep every client on loopback: no instance metadata, no shared config or credentials."""
    nothing = str(scratch / "no-aws-config")
    return {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": nothing,
        "AWS_SHARED_CREDENTIALS_FILE": nothing,
        "AWS_DEFAULT_REGION": REGION,
    }


@dataclass(frozen=True)
class S3Server:
    """A running store: its endpoint, and the administrator that sets up buckets, users and objects."""

    endpoint: str
    admin: Credentials

    def client(self, service: str = "s3", credentials: Credentials | None = None) -> Any:
        """A boto3 client of the store, as the administrator unless told otherwise."""
        key = credentials or self.admin
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=key.key_id,
            aws_secret_access_key=key.secret,
        )

    def create_bucket(self, bucket: str) -> None:
        """An empty bucket."""
        self.client().create_bucket(Bucket=bucket)

    def add_user(self, name: str, actions: list[str]) -> Credentials:
        """A user allowed only `actions` (e.g. s3:GetObject), and its access key."""
        iam = self.client("iam")
        return _user_with_key(iam, name, actions)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key under `prefix`, sorted."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        """One object's bytes."""
        body: bytes = self.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def upload(self, path: Path, bucket: str, key: str) -> None:
        """Store a local file as one object."""
        self.client().put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    def delete(self, bucket: str, key: str) -> None:
        """Remove one object."""
        self.client().delete_object(Bucket=bucket, Key=key)


def _user_with_key(iam: Any, name: str, actions: list[str]) -> Credentials:
    iam.create_user(UserName=name)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"moto_server exited {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"moto_server did not listen on port {port} within {STARTUP_SECONDS} s:\n{log.read_text()}")


@contextmanager
def running_s3_server(log: Path) -> Iterator[S3Server]:
    """moto's S3 server with IAM authentication on, on a free loopback port; stopped on exit."""
    port = free_port()
    server = str(Path(sys.executable).parent / "moto_server")
    environment = os.environ | {"INITIAL_NO_AUTH_ACTION_COUNT": str(UNAUTHENTICATED_REQUESTS)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [server, "--host", "127.0.0.1", "--port", str(port)], env=environment, stdout=output, stderr=output
        )
        try:
            _wait_for_port(port, process, log)
            endpoint = f"http://127.0.0.1:{port}"
            iam = boto3.client(
                "iam", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="setup", aws_secret_access_key="-"
            )
            yield S3Server(endpoint, _user_with_key(iam, "admin", ["*"]))
        finally:
            process.terminate()
            process.wait(timeout=STARTUP_SECONDS)


class StallingProxy:
    """An HTTP proxy in front of the store that relays the first `uploads` PUT requests and holds every
    later one unanswered, as a connection that died mid-push would, until the proxy is closed.

    `stalled` is set once those uploads are stored and a further one is being held, so a test knows
    exactly which objects reached the store before it interrupts the client.
    """

    def __init__(self, target: str, uploads: int) -> None:
        self.target = urlsplit(target)
        self.uploads = uploads
        self.stalled = threading.Event()
        self._stored = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._admitted = 0
        self._relayed = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _relay_handler(self))
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "StallingProxy":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stored.set()  # frees held requests even when the admitted uploads never finished
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def admit(self, method: str) -> bool:
        """Whether to relay this request: anything but an upload, and the first `uploads` uploads."""
        if method != "PUT":
            return True
        with self._lock:
            self._admitted += 1
            return self._admitted <= self.uploads

    def relayed(self, method: str) -> None:
        """Count a relayed upload; the last admitted one lets the held requests report the stall."""
        if method == "PUT":
            with self._lock:
                self._relayed += 1
                if self._relayed == self.uploads:
                    self._stored.set()

    def hold(self) -> None:
        """Hold a request until the proxy closes, once the admitted uploads are stored."""
        self._stored.wait()
        self.stalled.set()
        self._released.wait()

    def relay(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> http.client.HTTPResponse:
        """Send the request on to the store unchanged (the Host header too: the signature covers it)."""
        connection = http.client.HTTPConnection(self.target.hostname or "", self.target.port, timeout=RELAY_SECONDS)
        connection.request(method, path, body=body, headers=headers)
        return connection.getresponse()


def _relay_handler(proxy: StallingProxy) -> type[BaseHTTPRequestHandler]:
    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else None
            if not proxy.admit(self.command):
                proxy.hold()
                self.close_connection = True
                return
            headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
            response = proxy.relay(self.command, self.path, headers, body)
            payload = response.read()
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP and not (name.lower() == "content-length" and self.command != "HEAD"):
                    self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            proxy.relayed(self.command)

        # http.server calls do_<METHOD>, names it chose
        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward  # noqa: N815

        def log_message(self, format: str, *arguments: Any) -> None:
            """Silent: the test reports what matters."""

    return Relay
