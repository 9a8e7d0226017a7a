"""The git origin on loopback: bare repositories served by `git http-backend`, pushes only with a credential.

Like GitHub, anyone may fetch, and a push must authenticate with a token the runner was given
(HTTP Basic, any user name, the token as password); without one the answer is 401 and git says so.
"""

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

GIT_HTTP_BACKEND = Path(
    subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
)


@dataclass
class Push:
    """One authenticated receive-pack request: who pushed, and the ref updates git applied."""

    user: str
    updates: list[tuple[str, str, str]]  # (old sha, new sha, ref)


@dataclass
class GitOrigin:
    """What the origin was asked: every push (refused ones included) for the tests to assert on."""

    root: Path
    tokens: set[str]
    pushes: list[Push] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # the paths of pushes answered 401
    url: str = ""

    def repository(self, full_name: str) -> Path:
        """The bare repository behind `<url>/<owner>/<name>`."""
        return self.root / full_name

    def refs(self, full_name: str) -> dict[str, str]:
        """Every ref of the repository and the commit (or tag object) it names."""
        listing = subprocess.run(
            ["git", "for-each-ref", "--format=%(refname) %(objectname)"],
            cwd=self.repository(full_name),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return dict(line.split(" ", 1) for line in listing.splitlines())


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, chunked (git's large pushes) or sized."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


def _handler(origin: GitOrigin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._backend()

        def do_POST(self) -> None:
            self._backend()

        def _user(self) -> str | None:
            """The user name of a Basic credential whose password is a token this origin accepts."""
            scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "basic":
                return None
            user, _, password = base64.b64decode(encoded).decode().partition(":")
            return user if password in origin.tokens else None

        def _backend(self) -> None:
            url = urlsplit(self.path)
            body = _read_body(self)
            user = self._user()
            pushing = url.path.endswith("/git-receive-pack") or "service=git-receive-pack" in url.query
            if pushing and user is None:
                origin.refused.append(url.path)
                self.send_response(HTTPStatus.UNAUTHORIZED)
                self.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            environment = {
                "PATH": os.environ["PATH"],
                "GIT_PROJECT_ROOT": str(origin.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": url.path,
                "QUERY_STRING": url.query,
                "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": self.client_address[0],
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                **(
                    {"HTTP_CONTENT_ENCODING": self.headers["Content-Encoding"]}
                    if "Content-Encoding" in self.headers
                    else {}
                ),
                **({"REMOTE_USER": user} if user else {}),
            }
            before = _refs_of(origin.root, url.path) if pushing and self.command == "POST" else {}
            result = subprocess.run(
                [GIT_HTTP_BACKEND / "git-http-backend"], input=body, env=environment, capture_output=True, check=False
            )
            head, _, payload = result.stdout.partition(b"\r\n\r\n")
            status = HTTPStatus.OK
            headers: list[tuple[str, str]] = []
            for line in head.decode().splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = HTTPStatus(int(value.split()[0]))
                else:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            if pushing and self.command == "POST" and user:
                after = _refs_of(origin.root, url.path)
                updates = [(before.get(ref, ""), sha, ref) for ref, sha in after.items() if before.get(ref) != sha] + [
                    (sha, "", ref) for ref, sha in before.items() if ref not in after
                ]
                origin.pushes.append(Push(user=user, updates=updates))

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    return Handler


def _refs_of(root: Path, request_path: str) -> dict[str, str]:
    repository = root / request_path.strip("/").rsplit("/", 1)[0]
    listing = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname) %(objectname)"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return dict(line.split(" ", 1) for line in listing.splitlines())


@contextmanager
def serving_origin(root: Path, tokens: set[str]) -> Iterator[GitOrigin]:
    """Serve the bare repositories under `root` on a free loopback port for the block."""
    origin = GitOrigin(root=root, tokens=tokens)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(origin))
    origin.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        server.shutdown()
        server.server_close()
