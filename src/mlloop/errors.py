"""One exception hierarchy, so the command line can turn every user error into a
one-line message and a documented exit code instead of a traceback.

Each error class declares its exit code, and its docstring is what that code means:
`exit_codes()` builds the table that `mlloop --help` prints from them.
"""


class MlloopError(Exception):
    """Base of every error a user can fix; carries its exit code."""

    exit_code = 1


class ConfigError(MlloopError):
    """Bad configuration: params.yaml or the schema file is missing, malformed or inconsistent."""

    exit_code = 2


class DataValidationError(MlloopError):
    """The data broke at least one rule of the feature schema."""

    exit_code = 3


class SourceError(MlloopError):
    """A data source or input file cannot be read, or the pipeline was not reproduced."""

    exit_code = 4


class GateFailedError(MlloopError):
    """The quality gate failed (a verdict, not a crash: every violated rule is printed)."""

    exit_code = 5


class SmokeFailedError(MlloopError):
    """The smoke test of a running service failed."""

    exit_code = 6


class RemoteError(MlloopError):
    """A remote cannot be used (the DVC remote, the object store, the git origin): unreachable, refused, or missing."""

    exit_code = 7


class RemoteIncompleteError(MlloopError):
    """The DVC remote lacks objects that the checked-out dvc.lock (or a .dvc file) references."""

    exit_code = 8


class GitHubError(MlloopError):
    """GitHub refused a request (through gh), or its state forbids it: a setting, a token, an open pull request."""

    exit_code = 9


def exit_codes() -> dict[int, str]:
    """Every exit code and what it means, read from the hierarchy so the two cannot disagree."""
    codes = {0: "Success", 1: "Unexpected internal error (a bug: the traceback is shown)"}
    return codes | {error.exit_code: str(error.__doc__).rstrip(".") for error in MlloopError.__subclasses__()}
