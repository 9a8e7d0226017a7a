"""A scripted `gh` for the unit tests of the modules that call GitHub through it: it records each
call's arguments and answers `gh <command> <subcommand>` as the test says, by default as a repository
with no open drift issue and no open pull request. (The workflows get tests/stand_ins/gh.py, which
acts on the GitHub API stand-in.)
"""

import itertools
import json
import os
import sys
from pathlib import Path

from tests.stand_ins.common import RECORD_DIRECTORY, record, recorded

TOOL = "gh"
ANSWERS = "gh-answers.json"
ISSUE_URL = "https://github.com/owner/repo/issues/7"
PR_URL = "https://github.com/owner/repo/pull/9"


class ScriptedGh:
    """The scripted gh's recorded calls, and how it answers each `gh <command> <subcommand>`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.answers: dict[str, dict[str, object]] = {}
        self.answer("issue list", stdout="[]")
        self.answer("issue create", stdout=f"{ISSUE_URL}\n")
        self.answer("pr list", stdout="[]")
        self.answer("pr create", stdout=f"{PR_URL}\n")

    def answer(self, command: str, stdout: str = "", stderr: str = "", exit: int = 0) -> None:
        """From now on, answer `gh <command>` with this output and exit status.

        `command` is the two words ("issue list"), optionally followed by options the call must carry
        ("issue list --label drift"); the answer with the most matching options wins.
        """
        self.answers[command] = {"stdout": stdout, "stderr": stderr, "exit": exit}
        (self.directory / ANSWERS).write_text(json.dumps(self.answers))

    @property
    def calls(self) -> list[list[str]]:
        """The arguments of every call, in order."""
        return [call["argv"] for call in recorded(self.directory, TOOL)]

    def commands(self) -> list[str]:
        """Each call's `<command> <subcommand>`, in order."""
        return [" ".join(call[:2]) for call in self.calls]


def _matches(command: str, arguments: list[str]) -> bool:
    """The call is `<command> <subcommand>` and carries every `--option value` pair the scripted command names."""
    words = command.split()
    options = list(zip(words[2::2], words[3::2], strict=True))
    pairs = set(itertools.pairwise(arguments))
    return arguments[:2] == words[:2] and all(pair in pairs for pair in options)


def main() -> None:
    """Record the call, then answer it as scripted."""
    arguments = sys.argv[1:]
    record(TOOL, {"argv": arguments})
    answers = json.loads((Path(os.environ[RECORD_DIRECTORY]) / ANSWERS).read_text())
    matching = [command for command in answers if _matches(command, arguments)]
    answer = answers[max(matching, key=len)] if matching else {}
    sys.stdout.write(answer.get("stdout", ""))
    sys.stderr.write(answer.get("stderr", ""))
    sys.exit(answer.get("exit", 0))
