"""A git origin on loopback that authenticates as GitHub does: bare repositories served over HTTP by
`git http-backend`, recording every push.

Anyone may fetch. A push (receive-pack) must carry a token the origin accepts, by HTTP Basic auth
(any user name, the token as password), as a runner's GITHUB_TOKEN does; without one the answer is
401, as on GitHub. `persist_credentials` gives a clone the token the way actions/checkout v6 and
later do: an `http.<origin>/.extraheader` in a file outside the repository, included from the
clone's own .git/config by `includeIf.gitdir:`. So a client that reads only the global and system
git config pushes without it.
"""

import base64
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.stub_http import serving

TOKEN_USER = "x-access-token"
"""The user name a runner sends with GITHUB_TOKEN."""


@dataclass(frozen=True)
class Push:
    """One accepted receive-pack request: who pushed, and the ref updates git applied."""

    user: str
    updates: list[tuple[str, str, str]]  # (old sha, new sha, ref); "" for a ref created or deleted


@dataclass
class GitOrigin:
    """The served repositories, the tokens a push may carry, and every push (refused ones included)."""

    root: Path
    tokens: set[str]
    url: str = ""
    pushes: list[Push] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # the paths of push requests answered 401

    def repository(self, full_name: str) -> Path:
        """The bare repository behind `<url>/<owner>/<name>`."""
        return self.root / full_name

    def url_of(self, full_name: str) -> str:
        """The URL a client clones the repository `<owner>/<name>` from."""
        return f"{self.url}/{full_name}"

    def refs(self, full_name: str) -> dict[str, str]:
        """Every ref of the repository and the commit it names (an annotated tag's commit, not the tag)."""
        return _refs(self.repository(full_name), peeled=True)


def _refs(repository: Path, peeled: bool = False) -> dict[str, str]:
    """Every ref of a bare repository (none if there is no such repository) and the object it names."""
    if not repository.is_dir():
        return {}
    listing = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname) %(objectname) %(*objectname)"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    refs = {}
    for line in listing.splitlines():
        name, sha, *commit = line.split()
        refs[name] = commit[0] if peeled and commit else sha
    return refs


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, chunked (git's large pushes) or sized."""
    if handler.headers.get("Transfer-Encoding", "").lower() != "chunked":
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    chunks = []
    while size := int(handler.rfile.readline().split(b";")[0].strip(), 16):
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline()
    handler.rfile.readline()  # the blank line after the last (empty) chunk
    return b"".join(chunks)


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
            repository = origin.root / url.path.strip("/").rsplit("/", 1)[0]
            before = _refs(repository) if pushing and self.command == "POST" else {}
            result = subprocess.run(["git", "http-backend"], input=body, env=environment, capture_output=True)
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
                after = _refs(repository)
                updates = [(before.get(ref, ""), sha, ref) for ref, sha in after.items() if before.get(ref) != sha] + [
                    (sha, "", ref) for ref, sha in before.items() if ref not in after
                ]
                origin.pushes.append(Push(user=user, updates=updates))

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    return Handler


@contextmanager
def serving_origin(root: Path, tokens: set[str]) -> Iterator[GitOrigin]:
    """Serve the bare repositories under `root` (`<root>/<owner>/<name>`) on a free loopback port for the block."""
    origin = GitOrigin(root=root, tokens=tokens)
    with serving(_handler(origin)) as url:
        origin.url = url
        yield origin


def _include(clone: Path) -> str:
    """The key of .git/config that includes a file for this clone's own git directory only."""
    return f"includeIf.gitdir:{(clone / '.git').resolve().as_posix()}.path"


def persist_credentials(clone: Path, url: str, token: str, runner_temp: Path) -> Path:
    """Give `clone` the token for the server of `url` as actions/checkout v6 and later do; the file holding it."""
    scheme, netloc, *_ = urlsplit(url)
    runner_temp.mkdir(parents=True, exist_ok=True)
    credentials = runner_temp / f"git-credentials-{uuid.uuid4()}.config"
    header = "AUTHORIZATION: basic " + base64.b64encode(f"{TOKEN_USER}:{token}".encode()).decode()
    extraheader = f"http.{scheme}://{netloc}/.extraheader"
    subprocess.run(["git", "config", "--file", str(credentials), extraheader, header], check=True)
    subprocess.run(["git", "config", "--local", _include(clone), str(credentials)], cwd=clone, check=True)
    return credentials


def forget_credentials(clone: Path, credentials: Path) -> None:
    """Take back what persist_credentials gave, as actions/checkout does with `persist-credentials: false`."""
    subprocess.run(["git", "config", "--local", "--unset", _include(clone)], cwd=clone, check=True)
    credentials.unlink()
