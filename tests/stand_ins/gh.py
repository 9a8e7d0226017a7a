"""A recording `gh` that validates each command against gh's documented flags and acts through the API stand-in.

Real gh reaches GitHub through GraphQL for most of these commands; the stand-in keeps their
contract (flags, the repository from GH_REPO or the origin remote, the token from GH_TOKEN or
GITHUB_TOKEN, what each prints) and makes the equivalent REST calls, which the tests assert on.
"""

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.stand_ins.common import fail, record
from tests.stand_ins.github_client import call_api

TOOL = "gh"
# Per command: each documented flag (long name) and whether it takes a value; then short aliases.
FLAGS: dict[tuple[str, str], dict[str, bool]] = {
    ("issue", "list"): {
        "app": True, "assignee": True, "author": True, "jq": True, "json": True, "label": True, "limit": True,
        "mention": True, "milestone": True, "search": True, "state": True, "template": True, "web": False,
    },
    ("issue", "create"): {
        "assignee": True, "body": True, "body-file": True, "editor": False, "label": True, "milestone": True,
        "project": True, "recover": True, "template": True, "title": True, "web": False,
    },
    ("issue", "edit"): {
        "add-assignee": True, "add-label": True, "add-project": True, "body": True, "body-file": True,
        "milestone": True, "remove-assignee": True, "remove-label": True, "remove-milestone": False,
        "remove-project": True, "title": True,
    },
    ("issue", "comment"): {
        "body": True, "body-file": True, "create-if-none": False, "delete-last": False, "edit-last": False,
        "editor": False, "web": False, "yes": False,
    },
    ("issue", "close"): {"comment": True, "reason": True},
    ("pr", "create"): {
        "assignee": True, "base": True, "body": True, "body-file": True, "draft": False, "dry-run": False,
        "editor": False, "fill": False, "fill-first": False, "fill-verbose": False, "head": True, "label": True,
        "milestone": True, "no-maintainer-edit": False, "project": True, "recover": True, "reviewer": True,
        "template": True, "title": True, "web": False,
    },
    ("pr", "list"): {
        "app": True, "assignee": True, "author": True, "base": True, "draft": False, "head": True, "jq": True,
        "json": True, "label": True, "limit": True, "search": True, "state": True, "template": True, "web": False,
    },
    ("pr", "edit"): {
        "add-assignee": True, "add-label": True, "add-project": True, "add-reviewer": True, "base": True,
        "body": True, "body-file": True, "milestone": True, "remove-assignee": True, "remove-label": True,
        "remove-milestone": False, "remove-project": True, "remove-reviewer": True, "title": True,
    },
    ("workflow", "run"): {"field": True, "json": False, "raw-field": True, "ref": True},
    ("label", "create"): {"color": True, "description": True, "force": False},
    ("release", "create"): {
        "discussion-category": True, "draft": False, "fail-on-no-commits": False, "generate-notes": False,
        "latest": False, "notes": True, "notes-file": True, "notes-from-tag": False, "notes-start-tag": True,
        "prerelease": False, "target": True, "title": True, "verify-tag": False,
    },
}  # fmt: skip
NOT_INTERACTIVE = "must provide `--title` and `--body` (or `--fill` or `fill-first` or `--fillverbose`) when not running interactively"  # noqa: E501 - gh's message, verbatim
SHORT = {
    "a": "assignee", "A": "author", "b": "body", "B": "base", "c": "comment", "d": "draft", "e": "editor",
    "f": "raw-field", "F": "body-file", "H": "head", "l": "label", "L": "limit", "m": "milestone", "n": "notes",
    "p": "project", "q": "jq", "r": "ref", "R": "repo", "s": "state", "S": "search", "t": "title", "T": "template",
    "w": "web",
}  # fmt: skip
# Where a short flag means something else in one command.
SHORT_OVERRIDES = {
    ("release", "create"): {"F": "notes-file", "p": "prerelease"},
    ("workflow", "run"): {"F": "field"},
    ("label", "create"): {"c": "color", "d": "description", "f": "force"},
}


def _parse(command: tuple[str, str], words: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    known = FLAGS[command] | {"repo": True, "help": False}
    options: dict[str, list[str]] = {}
    positional: list[str] = []
    stream = iter(words)
    for word in stream:
        if not word.startswith("-") or word == "-":
            positional.append(word)
            continue
        if word.startswith("--"):
            name, has_value, value = word[2:].partition("=")
        else:
            letter = word[1:2]
            name = SHORT_OVERRIDES.get(command, {}).get(letter) or SHORT.get(letter, "")
            has_value, value = ("=", word[2:]) if len(word) > len("-x") else ("", "")
        if name not in known:
            fail(TOOL, f"unknown flag: {word}\n\nUsage:  gh {' '.join(command)} [flags]")
        if known[name] and not has_value:
            value = next(stream, "")
        options.setdefault(name, []).append(value if known[name] else "true")
    return options, positional


def _repository(options: dict[str, list[str]]) -> str:
    """The repository as gh resolves it: --repo, GH_REPO, then the origin remote's path."""
    if options.get("repo"):
        return options["repo"][-1]
    if os.environ.get("GH_REPO"):
        return os.environ["GH_REPO"]
    remote = subprocess.run(["git", "remote", "get-url", "origin"], capture_output=True, text=True, check=False)
    if remote.returncode != 0:
        fail(TOOL, "could not determine the repository: no GH_REPO and no git remote", code=1)
    return "/".join(remote.stdout.strip().removesuffix(".git").split("/")[-2:])


def _token() -> str:
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN") or ""
    if not token:
        fail(TOOL, "To get started with GitHub CLI, please run:  gh auth login", code=4)
    return token


def _body(options: dict[str, list[str]], text: str = "body", file: str = "body-file") -> str | None:
    if options.get(file):
        name = options[file][-1]
        return sys.stdin.read() if name == "-" else Path(name).read_text()
    return options[text][-1] if options.get(text) else None


def _fields(items: list[dict[str, Any]], wanted: str) -> list[dict[str, Any]]:
    shapes: dict[str, Callable[[dict[str, Any]], Any]] = {
        "number": lambda item: item["number"],
        "title": lambda item: item["title"],
        "body": lambda item: item["body"],
        "state": lambda item: item["state"].upper(),
        "url": lambda item: item["html_url"],
        "labels": lambda item: [{"name": label["name"]} for label in item["labels"]],
        "headRefName": lambda item: item["head"]["ref"],
        "isCrossRepository": lambda item: item["head"]["repo"]["full_name"] != item["base"]["repo"]["full_name"],
    }
    names = wanted.split(",")
    unknown = [name for name in names if name not in shapes]
    if unknown:
        fail(TOOL, f"Unknown JSON field: {unknown[0]!r}")
    return [{name: shapes[name](item) for name in names} for item in items]


def _run(command: tuple[str, str], options: dict[str, list[str]], positional: list[str]) -> str:
    repository, token = _repository(options), _token()
    base = f"/repos/{repository}"

    def last(name: str, default: str = "") -> str:
        return options[name][-1] if options.get(name) else default

    if command == ("issue", "list"):
        query = f"?state={last('state', 'open')}&labels={','.join(options.get('label', []))}"
        issues = [item for item in call_api(TOOL, "GET", f"{base}/issues{query}", token) if "pull_request" not in item]
        return (
            json.dumps(_fields(issues, last("json")))
            if "json" in options
            else "\n".join(str(i["number"]) for i in issues)
        )
    if command == ("pr", "list"):
        query = f"?state={last('state', 'open')}" + (f"&head={last('head')}" if "head" in options else "")
        pulls = call_api(TOOL, "GET", f"{base}/pulls{query}", token)
        return (
            json.dumps(_fields(pulls, last("json")))
            if "json" in options
            else "\n".join(str(p["number"]) for p in pulls)
        )
    if command == ("label", "create"):
        label = {"name": positional[0], "color": last("color"), "description": last("description")}
        exists = any(item["name"] == label["name"] for item in call_api(TOOL, "GET", f"{base}/labels", token))
        if exists and "force" not in options:
            fail(
                TOOL,
                f'label with name "{label["name"]}" already exists; use `--force` to update its color and description',
            )
        method, path = ("PATCH", f"{base}/labels/{label['name']}") if exists else ("POST", f"{base}/labels")
        call_api(TOOL, method, path, token, label)
        return f'✓ Label "{label["name"]}" created in {repository}'
    if command == ("issue", "create"):
        if not options.get("title"):
            fail(TOOL, NOT_INTERACTIVE)
        known = {item["name"] for item in call_api(TOOL, "GET", f"{base}/labels", token)}
        missing = [label for label in options.get("label", []) if label not in known]
        if missing:
            fail(TOOL, f"could not add label: '{missing[0]}' not found")
        issue = {"title": last("title"), "body": _body(options) or "", "labels": options.get("label", [])}
        return str(call_api(TOOL, "POST", f"{base}/issues", token, issue)["html_url"])
    if command in {("issue", "edit"), ("pr", "edit")}:
        number = _number(positional)
        change: dict[str, Any] = {"title": last("title"), "body": _body(options)}
        change = {key: value for key, value in change.items() if value}
        return str(call_api(TOOL, "PATCH", f"{base}/issues/{number}", token, change)["html_url"])
    if command == ("issue", "comment"):
        body = _body(options)
        if body is None:
            fail(TOOL, "`--body` or `--body-file` required when not running interactively")
        comment = call_api(TOOL, "POST", f"{base}/issues/{_number(positional)}/comments", token, {"body": body})
        return str(comment["html_url"])
    if command == ("issue", "close"):
        number = _number(positional)
        if options.get("comment"):
            call_api(TOOL, "POST", f"{base}/issues/{number}/comments", token, {"body": last("comment")})
        call_api(TOOL, "PATCH", f"{base}/issues/{number}", token, {"state": "closed"})
        return f"✓ Closed issue #{number}"
    if command == ("pr", "create"):
        current = subprocess.run(["git", "branch", "--show-current"], capture_output=True, text=True, check=True)
        head = last("head") or current.stdout.strip()
        if not options.get("title") or _body(options) is None:
            fail(TOOL, NOT_INTERACTIVE)
        pull = {"title": last("title"), "body": _body(options), "head": head, "base": last("base", "main")}
        return str(call_api(TOOL, "POST", f"{base}/pulls", token, pull)["html_url"])
    if command == ("workflow", "run"):
        if len(positional) != 1:
            fail(TOOL, "workflow ID, name, or filename required when not running interactively")
        inputs = dict(value.split("=", 1) for value in options.get("raw-field", []) + options.get("field", []))
        dispatch = {"ref": last("ref", "main"), "inputs": inputs}
        call_api(TOOL, "POST", f"{base}/actions/workflows/{positional[0]}/dispatches", token, dispatch)
        return f"✓ Created workflow_dispatch event for {positional[0]} at {dispatch['ref']}"
    if command == ("release", "create"):
        if len(positional) < 1:
            fail(TOOL, "could not create: no tag name provided")
        notes = _body(options, text="notes", file="notes-file")
        release = {"tag_name": positional[0], "name": last("title"), "body": notes or ""}
        return str(call_api(TOOL, "POST", f"{base}/releases", token, release)["html_url"])
    return fail(TOOL, f"unsupported command {' '.join(command)}")


def _number(positional: list[str]) -> int:
    match = re.fullmatch(r"(?:.*/)?(\d+)", positional[0] if positional else "")
    if match is None:
        fail(TOOL, f"invalid issue or pull request number: {positional[:1]}")
    return int(match.group(1))


def main() -> None:
    """`gh <group> <command> [flags] [arguments]`, for the commands in FLAGS."""
    arguments = sys.argv[1:]
    padded = [*arguments, "", ""]
    command = padded[0], padded[1]
    if command not in FLAGS:
        fail(TOOL, f"unknown command {' '.join(command)!r} for the stand-in")
    options, positional = _parse(command, arguments[2:])
    output = _run(command, options, positional)
    record(TOOL, {"argv": arguments})
    print(output)
