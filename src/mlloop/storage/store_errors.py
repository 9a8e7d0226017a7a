"""Name what went wrong with an object store, and what to check, from the error's text.

DVC, s3fs and botocore each word a refused key, an unreachable endpoint or a missing bucket their
own way, and DVC calls most of them an "unexpected error"; the user needs the cause and the setting
to fix. The texts are the messages those libraries print, since a finished `dvc` process leaves
nothing else to inspect.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Cause:
    """A failure, the words DVC or botocore report it in, and what the user should check."""

    signs: tuple[str, ...]
    problem: str
    fix: str


CAUSES = (
    Cause(
        ("Unable to locate credentials",),
        "no credentials were found",
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    ),
    Cause(
        # S3's error codes as DVC shows them, then the messages s3fs raises in their place
        (
            "Forbidden",
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "Access Denied",
            "Access Key Id you provided does not exist",
            "signature we calculated does not match",
        ),
        "access refused: the credentials are wrong or lack the permission",
        "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    ),
    Cause(
        ("Could not connect to the endpoint URL", "Connect timeout on endpoint URL", "Cannot connect to host"),
        "the endpoint cannot be reached",
        "check AWS_ENDPOINT_URL (unset means AWS itself) and that the store is up",
    ),
    Cause(
        ("NoSuchBucket", "The specified bucket does not exist"),
        "the bucket does not exist",
        "create it, or correct the bucket in the URL",
    ),
)


def diagnose(url: str, errors: str) -> str | None:
    """One line, `<url>: <what went wrong>; <what to check>`, when the error text shows a known cause."""
    for cause in CAUSES:
        if any(sign in errors for sign in cause.signs):
            return f"{url}: {cause.problem}; {cause.fix}"
    return None
