"""A recording `cml` (CML 0.20.6) that validates its documented options and posts through the API stand-in.

Only `cml comment create|update` is used by the workflows. Like CML, `update` edits the last
comment carrying the same watermark, `--target=pr` finds the pull request of the event (or of
the checked-out commit, for a dispatched run), and the token comes from REPO_TOKEN.
"""

import hashlib
import json
import os
import re
import sys
from pathlib import Path

from tests.stand_ins.common import fail, record
from tests.stand_ins.github_client import call_api

TOOL = "cml"
COMMENT_OPTIONS = {
    "target",
    "watch",
    "publish",
    "no-publish",
    "publish-url",
    "publish-native",
    "native",
    "watermark-title",
}
GLOBAL_OPTIONS = {"log", "driver", "repo", "token", "help"}
TOKEN_VARIABLES = ("REPO_TOKEN", "repo_token", "GITHUB_TOKEN")


def _parse(arguments: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    positional: list[str] = []
    words = iter(arguments)
    for word in words:
        if not word.startswith("--"):
            positional.append(word)
            continue
        name, has_value, value = word[2:].partition("=")
        if name not in COMMENT_OPTIONS | GLOBAL_OPTIONS:
            fail(TOOL, f"Unknown argument: {name}")
        if not has_value and name not in {"watch", "publish", "no-publish", "publish-native", "native", "help"}:
            value = next(words, "")
        options[name] = value
    return options, positional


def watermark(title: str) -> str:
    """The hidden marker CML appends, by which `update` finds its earlier comment."""
    digest = hashlib.sha1(title.encode()).hexdigest()
    return f'![](https://cml.dev/watermark.png#{digest} "CML watermark {title}")'


def _pull_request_number(repository: str, target: str, token: str) -> int:
    if target.startswith("pr/"):
        return int(target.removeprefix("pr/"))
    event = json.loads(Path(os.environ["GITHUB_EVENT_PATH"]).read_text())
    if "pull_request" in event:
        return int(event["pull_request"]["number"])
    sha = os.environ["GITHUB_SHA"]
    pulls = call_api(TOOL, "GET", f"/repos/{repository}/commits/{sha}/pulls", token)
    if not pulls:
        fail(TOOL, f"no pull request found for commit {sha}")
    return int(pulls[0]["number"])


def main() -> None:
    """`cml comment create|update [options] <markdown file>`."""
    arguments = sys.argv[1:]
    if arguments[:1] != ["comment"] or arguments[1:2] not in (["create"], ["update"]):
        fail(TOOL, f"unsupported command {' '.join(arguments[:2])!r}")
    options, positional = _parse(arguments[2:])
    if len(positional) != 1:
        fail(TOOL, "Not enough non-option arguments: got 0, need at least 1")
    token = options.get("token") or next((os.environ[name] for name in TOKEN_VARIABLES if os.environ.get(name)), "")
    if not token:
        fail(TOOL, "repo_token not found: set REPO_TOKEN")
    target = options.get("target", "auto")
    if not re.fullmatch(r"auto|pr(/\d+)?|commit(/[0-9a-f]+)?|issue/\d+", target):
        fail(TOOL, f"invalid --target {target!r}")
    repository = os.environ["GITHUB_REPOSITORY"]
    number = _pull_request_number(repository, target, token)
    mark = watermark(options.get("watermark-title", ""))
    body = Path(positional[0]).read_text() + "\n\n" + mark
    earlier = [
        comment
        for comment in call_api(TOOL, "GET", f"/repos/{repository}/issues/{number}/comments", token)
        if mark in comment["body"]
    ]
    if arguments[1] == "update" and earlier:
        call_api(TOOL, "PATCH", f"/repos/{repository}/issues/comments/{earlier[-1]['id']}", token, {"body": body})
    else:
        call_api(TOOL, "POST", f"/repos/{repository}/issues/{number}/comments", token, {"body": body})
    record(TOOL, {"argv": arguments, "pull_request": number})
