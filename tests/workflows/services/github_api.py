"""The GitHub REST API on loopback, for what `cml` and `gh` call: issues, comments, pulls, releases, dispatches.

It keeps the repository's state (numbers shared by issues and pull requests, as on GitHub) and
records every request with the token it carried, so a test can say what was posted and by whom.
A request without a known token gets 401; a write with a read-only token (a fork's) gets 403.
"""

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.stub_http import serving


@dataclass
class Comment:
    """A comment on an issue or a pull request."""

    id: int
    issue: int
    body: str


@dataclass
class Issue:
    """An issue, or the issue side of a pull request (`head` set)."""

    number: int
    title: str
    body: str
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    head: str = ""  # a pull request's branch
    head_sha: str = ""
    base: str = ""


@dataclass
class Release:
    """A release: the tag it names and its notes."""

    tag_name: str
    name: str
    body: str


@dataclass
class Dispatch:
    """A `workflow_dispatch` request: which workflow, on which ref."""

    workflow: str
    ref: str
    inputs: dict[str, str]


@dataclass
class Request:
    """One request as it arrived."""

    method: str
    path: str
    token: str
    body: Any
    status: int


@dataclass
class GitHubApi:
    """The state of one repository and every request made to it."""

    repository: str
    tokens: dict[str, str]  # token -> "write" or "read"
    actions_token: str = ""  # the run's GITHUB_TOKEN, as opposed to a personal or app token
    # Settings > Actions > "Allow GitHub Actions to create and approve pull requests": off by default.
    actions_can_open_pull_requests: bool = False
    branch_head: Callable[[str], str] = lambda _: ""  # the origin's commit for a branch
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    dispatches: list[Dispatch] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _token: str = ""  # the token of the request being answered

    def open_pull_request(self, head: str, head_sha: str, base: str, title: str) -> Issue:
        """A pull request, as a person opens it on GitHub (not through the API, so not recorded)."""
        pull = Issue(number=len(self.issues) + 1, title=title, body="", head=head, head_sha=head_sha, base=base)
        self.issues[pull.number] = pull
        return pull

    def pulls(self) -> list[Issue]:
        """Every pull request, oldest first."""
        return [issue for issue in self.issues.values() if issue.head]

    def comments_on(self, number: int) -> list[Comment]:
        """The comments on one issue or pull request, oldest first."""
        return [comment for comment in self.comments.values() if comment.issue == number]

    def writes(self) -> list[Request]:
        """The requests that changed something."""
        return [request for request in self.requests if request.method != "GET"]

    def _issue_json(self, issue: Issue) -> dict[str, Any]:
        html = f"https://github.com/{self.repository}/{'pull' if issue.head else 'issues'}/{issue.number}"
        shape: dict[str, Any] = {
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "labels": [{"name": label} for label in issue.labels],
            "html_url": html,
        }
        if issue.head:
            shape["pull_request"] = {"html_url": html}
            repository = {"full_name": self.repository}
            shape["head"] = {
                "ref": issue.head,
                "sha": self.branch_head(issue.head) or issue.head_sha,
                "repo": repository,
            }
            shape["base"] = {"ref": issue.base, "repo": repository}
        return shape

    def _comment_json(self, comment: Comment) -> dict[str, Any]:
        return asdict(comment) | {"html_url": f"https://github.com/{self.repository}/issues/{comment.issue}"}

    def answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[HTTPStatus, Any]:
        """The response to one request against this repository's REST endpoints."""
        prefix = f"/repos/{self.repository}"
        if not path.startswith(prefix):
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}
        route = path.removeprefix(prefix)
        for pattern, verb, handler in self._routes():
            match = re.fullmatch(pattern, route)
            if match and verb == method:
                return handler(match.groups(), query, body)
        return HTTPStatus.NOT_FOUND, {"message": f"Not Found: {method} {path}"}

    def _routes(
        self,
    ) -> list[tuple[str, str, Callable[[tuple[str, ...], dict[str, list[str]], Any], tuple[HTTPStatus, Any]]]]:
        return [
            (r"", "GET", lambda _, __, ___: (HTTPStatus.OK, {"full_name": self.repository, "default_branch": "main"})),
            (r"/issues", "GET", self._list_issues),
            (r"/issues", "POST", self._create_issue),
            (r"/issues/(\d+)", "GET", lambda groups, _, __: self._get_issue(int(groups[0]))),
            (r"/issues/(\d+)", "PATCH", self._edit_issue),
            (r"/issues/(\d+)/comments", "GET", self._list_comments),
            (r"/issues/(\d+)/comments", "POST", self._create_comment),
            (r"/issues/comments/(\d+)", "PATCH", self._edit_comment),
            (r"/pulls", "GET", self._list_pulls),
            (r"/pulls", "POST", self._create_pull),
            (r"/pulls/(\d+)", "GET", lambda groups, _, __: self._get_issue(int(groups[0]))),
            (r"/pulls/(\d+)", "PATCH", self._edit_issue),
            (r"/commits/([0-9a-f]+)/pulls", "GET", self._pulls_of_commit),
            (r"/labels", "GET", lambda _, __, ___: (HTTPStatus.OK, list(self.labels.values()))),
            (r"/labels", "POST", self._save_label),
            (r"/labels/([^/]+)", "PATCH", self._save_label),
            (r"/releases", "GET", lambda _, __, ___: (HTTPStatus.OK, [asdict(release) for release in self.releases])),
            (r"/releases", "POST", self._create_release),
            (r"/actions/workflows/([^/]+)/dispatches", "POST", self._dispatch),
        ]

    def _list_issues(self, _: tuple[str, ...], query: dict[str, list[str]], __: Any) -> tuple[HTTPStatus, Any]:
        state = query.get("state", ["open"])[0]
        labels = set(query.get("labels", [""])[0].split(",")) - {""}
        found = [
            self._issue_json(issue)
            for issue in self.issues.values()
            if (state == "all" or issue.state == state) and labels <= set(issue.labels)
        ]
        return HTTPStatus.OK, found

    def _get_issue(self, number: int) -> tuple[HTTPStatus, Any]:
        if number not in self.issues:
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}
        return HTTPStatus.OK, self._issue_json(self.issues[number])

    def _create_issue(self, _: tuple[str, ...], __: dict[str, list[str]], body: Any) -> tuple[HTTPStatus, Any]:
        issue = Issue(len(self.issues) + 1, body["title"], body.get("body", ""), list(body.get("labels", [])))
        self.issues[issue.number] = issue
        return HTTPStatus.CREATED, self._issue_json(issue)

    def _edit_issue(self, groups: tuple[str, ...], _: dict[str, list[str]], body: Any) -> tuple[HTTPStatus, Any]:
        issue = self.issues.get(int(groups[0]))
        if issue is None:
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}
        for name in ("title", "body", "state"):
            if name in body:
                setattr(issue, name, body[name])
        if "labels" in body:
            issue.labels = list(body["labels"])
        return HTTPStatus.OK, self._issue_json(issue)

    def _list_comments(self, groups: tuple[str, ...], _: dict[str, list[str]], __: Any) -> tuple[HTTPStatus, Any]:
        return HTTPStatus.OK, [self._comment_json(comment) for comment in self.comments_on(int(groups[0]))]

    def _create_comment(self, groups: tuple[str, ...], _: dict[str, list[str]], body: Any) -> tuple[HTTPStatus, Any]:
        if int(groups[0]) not in self.issues:
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}
        comment = Comment(id=1000 + len(self.comments), issue=int(groups[0]), body=body["body"])
        self.comments[comment.id] = comment
        return HTTPStatus.CREATED, self._comment_json(comment)

    def _edit_comment(self, groups: tuple[str, ...], _: dict[str, list[str]], body: Any) -> tuple[HTTPStatus, Any]:
        comment = self.comments.get(int(groups[0]))
        if comment is None:
            return HTTPStatus.NOT_FOUND, {"message": "Not Found"}
        comment.body = body["body"]
        return HTTPStatus.OK, self._comment_json(comment)

    def _list_pulls(self, _: tuple[str, ...], query: dict[str, list[str]], __: Any) -> tuple[HTTPStatus, Any]:
        state = query.get("state", ["open"])[0]
        head = query.get("head", [""])[0].rpartition(":")[2]
        found = [
            self._issue_json(pull)
            for pull in self.pulls()
            if (state == "all" or pull.state == state) and (not head or pull.head == head)
        ]
        return HTTPStatus.OK, found

    def _create_pull(self, _: tuple[str, ...], __: dict[str, list[str]], body: Any) -> tuple[HTTPStatus, Any]:
        if self._token == self.actions_token and not self.actions_can_open_pull_requests:
            return HTTPStatus.FORBIDDEN, {
                "message": "GitHub Actions is not permitted to create or approve pull requests."
            }
        head = body["head"].rpartition(":")[2]
        if any(pull.head == head and pull.state == "open" for pull in self.pulls()):
            return HTTPStatus.UNPROCESSABLE_ENTITY, {"message": f"A pull request already exists for {head}."}
        pull = self.open_pull_request(head, self.branch_head(head), body.get("base", "main"), body["title"])
        pull.body = body.get("body", "")
        return HTTPStatus.CREATED, self._issue_json(pull)

    def _pulls_of_commit(self, groups: tuple[str, ...], _: dict[str, list[str]], __: Any) -> tuple[HTTPStatus, Any]:
        heads = {pull.number: self.branch_head(pull.head) or pull.head_sha for pull in self.pulls()}
        return HTTPStatus.OK, [self._issue_json(pull) for pull in self.pulls() if heads[pull.number] == groups[0]]

    def _save_label(self, _: tuple[str, ...], __: dict[str, list[str]], body: Any) -> tuple[HTTPStatus, Any]:
        self.labels[body["name"]] = {key: str(value) for key, value in body.items()}
        return HTTPStatus.OK, self.labels[body["name"]]

    def _create_release(self, _: tuple[str, ...], __: dict[str, list[str]], body: Any) -> tuple[HTTPStatus, Any]:
        if any(release.tag_name == body["tag_name"] for release in self.releases):
            return HTTPStatus.UNPROCESSABLE_ENTITY, {"message": "Validation Failed: tag_name already_exists"}
        release = Release(body["tag_name"], body.get("name", ""), body.get("body", ""))
        self.releases.append(release)
        html = f"https://github.com/{self.repository}/releases/tag/{release.tag_name}"
        return HTTPStatus.CREATED, asdict(release) | {"html_url": html}

    def _dispatch(self, groups: tuple[str, ...], _: dict[str, list[str]], body: Any) -> tuple[HTTPStatus, Any]:
        self.dispatches.append(Dispatch(groups[0], body["ref"], dict(body.get("inputs", {}))))
        return HTTPStatus.NO_CONTENT, None


def _handler(api: GitHubApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def _serve(self) -> None:
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw) if raw else None
            token = self.headers.get("Authorization", "").rpartition(" ")[2]
            with api.lock:
                if token not in api.tokens:
                    status, answer = HTTPStatus.UNAUTHORIZED, {"message": "Bad credentials"}
                elif self.command != "GET" and api.tokens[token] != "write":
                    status, answer = HTTPStatus.FORBIDDEN, {"message": "Resource not accessible by integration"}
                else:
                    api._token = token
                    status, answer = api.answer(self.command, url.path, parse_qs(url.query), body)
                api.requests.append(Request(self.command, self.path, token, body, int(status)))
            payload = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    return Handler


@contextmanager
def serving_api(repository: str, tokens: dict[str, str]) -> Iterator[GitHubApi]:
    """Serve the API of `repository` on a free loopback port for the block."""
    api = GitHubApi(repository=repository, tokens=tokens)
    with serving(_handler(api)) as url:
        api.url = url
        yield api
