"""The single command line entry point: one subcommand per pipeline stage.

User errors (MlloopError) become a message on stderr, one line per problem, and the exit
code documented in mlloop.errors; anything else is a bug and keeps its traceback.
"""

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mlloop.config import DEFAULT_PARAMS_FILE, Params, load_params
from mlloop.errors import MlloopError
from mlloop.stages import evaluate, ingest, split, train, validate

STAGES: dict[str, tuple[Callable[[Params], None], str]] = {
    "ingest": (ingest.run, "read the source named in params.yaml into the raw table"),
    "validate": (validate.run, "check the raw table against the feature schema (exit 3 on violations)"),
    "split": (split.run, "stratified, seeded train/test split of the validated table"),
    "train": (train.run, "fit the model pipeline chosen in params.yaml"),
    "evaluate": (evaluate.run, "metrics, latency, plot data and PNG plots on the test split"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with a subcommand per stage."""
    parser = argparse.ArgumentParser(
        prog="mlloop",
        description="Run the stages of the ML pipeline; dvc.yaml calls these subcommands.",
        epilog="exit codes: 0 ok, 1 internal error, 2 bad configuration, 3 data broke the schema, 4 unreadable input",
    )
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS_FILE, help="params file (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in STAGES.items():
        commands.add_parser(name, help=help_text, description=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code."""
    arguments = build_parser().parse_args(argv)
    run, _ = STAGES[arguments.command]
    try:
        run(load_params(arguments.params))
    except MlloopError as error:
        print(f"mlloop {arguments.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
