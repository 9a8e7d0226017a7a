"""One exception hierarchy, so the command line can turn every user error into a
one-line message and a documented exit code instead of a traceback.

Exit codes:
    0  success
    1  unexpected internal error (a bug: the traceback is shown)
    2  bad configuration: params.yaml or the schema file
    3  the data broke a schema rule
    4  the data source or an input file cannot be read, or the pipeline was not reproduced
    5  the quality gate failed (a verdict, not a crash: every violated rule is printed)
    6  the smoke test of a running service failed
    7  the DVC remote or object store cannot be used: unreachable, refused the credentials, or no such bucket
    8  the DVC remote lacks objects that the checked-out dvc.lock references
"""


class MlloopError(Exception):
    """Base of every error a user can fix; carries its exit code."""

    exit_code = 1


class ConfigError(MlloopError):
    """params.yaml or the schema file is missing, malformed or inconsistent."""

    exit_code = 2


class DataValidationError(MlloopError):
    """The raw table broke at least one rule of the feature schema."""

    exit_code = 3


class SourceError(MlloopError):
    """A data source or stage input cannot be found or read."""

    exit_code = 4


class GateFailedError(MlloopError):
    """The model broke at least one quality-gate rule."""

    exit_code = 5


class SmokeFailedError(MlloopError):
    """A running service failed a smoke check."""

    exit_code = 6


class RemoteError(MlloopError):
    """The DVC remote or object store cannot be reached, refused the credentials, or has no such bucket."""

    exit_code = 7


class RemoteIncompleteError(MlloopError):
    """The DVC remote lacks objects that the checked-out dvc.lock (or a .dvc file) references."""

    exit_code = 8
