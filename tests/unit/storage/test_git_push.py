"""A failed tag push is named by its cause: the remote, its URL (never a credential written into it),
the tag, what went wrong and what to check. The texts are git 2.39's over HTTP."""

import subprocess
from pathlib import Path

import pytest

from mlloop.errors import RemoteError
from mlloop.storage.git_push import diagnose, push_tag

GIT_MESSAGES = {
    "no credential": "fatal: could not read Username for 'https://github.com': terminal prompts disabled",
    "bad token": "remote: Invalid username or token.\nfatal: Authentication failed for 'https://github.com/o/r.git/'",
    "no contents: write": "remote: Permission to o/r.git denied to github-actions[bot].\n"
    "fatal: unable to access 'https://github.com/o/r.git/': The requested URL returned error: 403",
}


@pytest.mark.parametrize("message", GIT_MESSAGES.values(), ids=list(GIT_MESSAGES))
def test_a_refused_push_says_so_and_names_the_checkout_setting_and_the_permission(message: str) -> None:
    diagnosis = diagnose(message)

    assert diagnosis is not None
    assert diagnosis.startswith("the remote refused the push")
    assert "persist-credentials: true" in diagnosis
    assert "contents: write" in diagnosis


def test_a_tag_the_remote_already_holds_elsewhere_says_to_fetch_the_tags() -> None:
    message = " ! [rejected]        churn@v0.2.0 -> churn@v0.2.0 (already exists)"

    assert diagnose(message) == (
        "the remote already holds a different ref of that name; fetch the remote's tags (`git fetch --tags`) "
        "and register again"
    )


def test_an_unknown_failure_is_not_given_a_made_up_cause() -> None:
    assert diagnose("error: something new went wrong") is None


def test_an_unreachable_remote_is_named_by_its_url_without_the_credential_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a repository whose origin URL carries a token, on a port where nothing listens
    monkeypatch.chdir(tmp_path)
    for command in (
        ["git", "init", "--quiet"],
        ["git", "remote", "add", "origin", "http://x-access-token:s3cret@127.0.0.1:9/o/r.git"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "--quiet", "--allow-empty", "-m", "a"],
        ["git", "tag", "churn@v0.1.0"],
    ):
        subprocess.run(command, check=True, capture_output=True)

    with pytest.raises(RemoteError) as raised:
        push_tag("origin", "churn@v0.1.0")

    message = str(raised.value)
    assert message.startswith("cannot push tag churn@v0.1.0 to origin (http://127.0.0.1:9/o/r.git): ")
    assert "the remote cannot be reached" in message
    assert "s3cret" not in message
