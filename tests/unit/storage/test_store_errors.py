"""An object store's failure is named by its cause: the URL, what went wrong and the variable to check.

The error texts are what DVC 3.67 with dvc-s3, and s3fs, print for each failure against an S3 server.
"""

import pytest

from mlloop.storage.store_errors import diagnose

REMOTE = "s3://mlloop/dvc"

DVC_MESSAGES = {
    "wrong key, push": "ERROR: unexpected error - Forbidden: An error occurred (403) when calling the HeadObject "
    "operation: Forbidden",
    "wrong key, pull": "ERROR: failed to connect to s3 (mlloop/dvc/files/md5) - Forbidden: An error occurred (403) "
    "when calling the HeadObject operation: Forbidden\n"
    "ERROR: failed to pull data from the cloud - 7 files failed to download",
    "read-only key, push": "ERROR: failed to transfer '308b0ed4599f5bc0ae2e0057189321bb' - Access Denied: An error "
    "occurred (AccessDenied) when calling the PutObject operation: Access Denied",
    "read-only key, s3fs": "Access Denied",
    "wrong secret, s3fs": "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method.",
}


@pytest.mark.parametrize("message", DVC_MESSAGES.values(), ids=list(DVC_MESSAGES))
def test_a_refused_key_is_named_as_refused_access_with_the_variables_to_check(message: str) -> None:
    assert diagnose(REMOTE, message) == (
        f"{REMOTE}: access refused: the credentials are wrong or lack the permission; "
        "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )


def test_no_credentials_at_all_says_which_variables_to_set() -> None:
    message = "ERROR: unexpected error - Unable to locate credentials"

    assert diagnose(REMOTE, message) == (
        f"{REMOTE}: no credentials were found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )


@pytest.mark.parametrize(
    "message",
    [
        'ERROR: unexpected error - Could not connect to the endpoint URL: "http://127.0.0.1:5999/mlloop"',
        "ERROR: failed to connect to s3 (mlloop/dvc/files/md5) - Could not connect to the endpoint URL: "
        '"http://127.0.0.1:5999/mlloop"',
    ],
    ids=["push", "pull"],
)
def test_an_unreachable_endpoint_points_at_aws_endpoint_url(message: str) -> None:
    diagnosis = diagnose(REMOTE, message)

    assert diagnosis is not None, diagnosis
    assert diagnosis.startswith(f"{REMOTE}: the endpoint cannot be reached; "), diagnosis
    assert "AWS_ENDPOINT_URL" in diagnosis, diagnosis


def test_a_missing_bucket_is_named_with_the_remote_that_holds_it() -> None:
    message = (
        "ERROR: unexpected error - The specified bucket does not exist: An error occurred (NoSuchBucket) when "
        "calling the ListObjectsV2 operation: The specified bucket does not exist"
    )

    assert diagnose("s3://no-such-bucket/dvc", message) == (
        "s3://no-such-bucket/dvc: the bucket does not exist; create it, or correct the bucket in the URL"
    )


def test_an_unknown_failure_has_no_diagnosis_so_dvcs_own_message_stands() -> None:
    assert diagnose(REMOTE, "ERROR: failed to push data to the cloud - 1 files failed to upload") is None
