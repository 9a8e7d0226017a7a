"""The GitHub CLI `gh`, which GitHub Actions provides with the job's token. A failure becomes a
GitHubError naming the command and GitHub's answer; a refusal with a known cause also names the fix.
"""

import subprocess

from mlloop.errors import GitHubError

ACTIONS_MAY_NOT_OPEN_PULL_REQUESTS = "not permitted to create or approve pull requests"
PULL_REQUEST_SETTING = (
    "GitHub refuses a pull request opened with GITHUB_TOKEN until Settings → Actions → General → "
    "Workflow permissions → 'Allow GitHub Actions to create and approve pull requests' is ticked "
    "(an organization's setting can forbid it too): tick it, or set the secret RETRAIN_TOKEN "
    "(a PAT or GitHub App token with contents and pull-requests write) to open it with that instead"
)


def _diagnose(arguments: tuple[str, ...], answer: str) -> str:
    failure = f"gh {' '.join(arguments[:2])} failed: {answer}"
    if ACTIONS_MAY_NOT_OPEN_PULL_REQUESTS in answer:
        return f"{failure}. {PULL_REQUEST_SETTING}"
    return failure


def gh(*arguments: str) -> str:
    """Run `gh` with these arguments and return what it printed."""
    try:
        result = subprocess.run(["gh", *arguments], capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise GitHubError("the GitHub CLI `gh` is not installed") from error
    if result.returncode != 0:
        raise GitHubError(_diagnose(arguments, " ".join(result.stderr.split())))  # one line, as every error is
    return result.stdout
