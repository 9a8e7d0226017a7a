"""A git origin on loopback that authenticates as GitHub does: a bare repository served over HTTP by
`git http-backend`, behind Basic auth, recording every request.

A push (receive-pack) without the right credential gets 401, as on GitHub; reading is anonymous
unless the origin is private. `persist_credentials` gives a clone the credential the way
actions/checkout v7 does with `persist-credentials: true`: an `http.<origin>/.extraheader` in a file
outside the repository, included from the clone's own .git/config by `includeIf.gitdir:`. So a
client that reads only the global and system git config pushes without it.
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

RECEIVE_PACK = "git-receive-pack"


@dataclass(frozen=True)
class Credential:
    """A user and token, as GitHub's runners send GITHUB_TOKEN: user x-access-token, Basic auth."""

    username: str = "x-access-token"
    password: str = "ghs_loopback-token"

    def basic(self) -> str:
        """The value of an Authorization header carrying this credential."""
        return "basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


@dataclass(frozen=True)
class Request:
    """One request the origin answered: what was asked, by whom (None: no valid credential), and the status."""

    method: str
    path: str
    user: str | None
    status: int

    @property
    def is_push(self) -> bool:
        return RECEIVE_PACK in self.path


@dataclass
class GitOrigin:
    """The served bare repository, its URL, the credential it accepts and what it was asked."""

    url: str
    repository: Path
    credential: Credential
    private: bool = False
    requests: list[Request] = field(default_factory=list)

    def refs(self) -> dict[str, str]:
        """Every ref the origin holds, peeled to its commit: `refs/tags/churn@v0.1.0` -> sha."""
        listed = subprocess.run(
            ["git", "for-each-ref", "--format=%(refname) %(*objectname) %(objectname)"],
            cwd=self.repository,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        refs = {}
        for line in listed.splitlines():
            name, *shas = line.split()
            refs[name] = shas[0]  # the peeled commit of an annotated tag, else the object itself
        return refs

    def pushes(self) -> list[Request]:
        """The receive-pack requests: each push's ref advertisement and its pack."""
        return [request for request in self.requests if request.is_push]


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, de-chunked: git sends large packs with Transfer-Encoding: chunked."""
    if handler.headers.get("Transfer-Encoding", "").lower() != "chunked":
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    chunks = []
    while size := int(handler.rfile.readline().split(b";")[0].strip(), 16):
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline()
    handler.rfile.readline()  # the blank line after the last (empty) chunk
    return b"".join(chunks)


def _handler(origin: GitOrigin, root: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _authenticated_user(self) -> str | None:
            given = self.headers.get("Authorization", "")
            return origin.credential.username if given.lower() == origin.credential.basic().lower() else None

        def _serve(self) -> None:
            user = self._authenticated_user()
            if user is None and (origin.private or RECEIVE_PACK in self.path):
                self._refuse()
                return
            path, _, query = self.path.partition("?")
            body = _read_body(self) if self.command == "POST" else b""
            environment = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": self.client_address[0],
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            } | ({"REMOTE_USER": user} if user else {})
            result = subprocess.run(["git", "http-backend"], input=body, env=environment, capture_output=True)
            head, _, payload = result.stdout.partition(b"\r\n\r\n")
            headers = [line.split(":", 1) for line in head.decode().splitlines() if ":" in line]
            status = next((int(value.split()[0]) for name, value in headers if name.lower() == "status"), 200)
            origin.requests.append(Request(self.command, self.path, user, status))
            self.send_response(status)
            for name, value in headers:
                if name.lower() != "status":
                    self.send_header(name, value.strip())
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _refuse(self) -> None:
            origin.requests.append(Request(self.command, self.path, None, int(HTTPStatus.UNAUTHORIZED)))
            if self.command == "POST":
                _read_body(self)
            self.send_response(HTTPStatus.UNAUTHORIZED)
            self.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    return Handler


@contextmanager
def serving_origin(
    root: Path, source: Path | None = None, credential: Credential | None = None, private: bool = False
) -> Iterator[GitOrigin]:
    """Serve a bare repository `root/origin.git` (a mirror of `source`, else empty) on a free loopback port."""
    repository = root / "origin.git"
    if source is None:
        subprocess.run(["git", "init", "--quiet", "--bare", repository], check=True)
    else:
        subprocess.run(["git", "clone", "--quiet", "--mirror", source, repository], check=True)
    origin = GitOrigin("", repository, credential or Credential(), private)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(origin, root))
    origin.url = f"http://127.0.0.1:{server.server_address[1]}/origin.git"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        server.shutdown()
        server.server_close()


def persist_credentials(clone: Path, origin: GitOrigin, runner_temp: Path) -> Path:
    """Give `clone` the origin's credential as actions/checkout v7 does; the credentials file it wrote.

    The header goes to `$RUNNER_TEMP/git-credentials-<id>.config`, and the clone's .git/config
    includes that file for its own git directory only (`includeIf.gitdir:<clone>/.git.path`).
    """
    scheme, netloc, *_ = urlsplit(origin.url)
    credentials_file = runner_temp / "git-credentials-checkout.config"
    runner_temp.mkdir(parents=True, exist_ok=True)
    header = f"AUTHORIZATION: {origin.credential.basic()}"
    subprocess.run(
        ["git", "config", "--file", credentials_file, f"http.{scheme}://{netloc}/.extraheader", header], check=True
    )
    git_directory = (clone / ".git").resolve().as_posix()
    subprocess.run(
        ["git", "config", "--local", f"includeIf.gitdir:{git_directory}.path", str(credentials_file)],
        cwd=clone,
        check=True,
    )
    return credentials_file
