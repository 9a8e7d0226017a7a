"""The single command line entry point: one subcommand per pipeline stage, plus review, serving and release commands.

User errors (MlloopError) become a message on stderr, one line per problem, and the exit
code documented in mlloop.errors; anything else is a bug and keeps its traceback.
"""

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mlloop import model_version, review, serving, smoke
from mlloop.config import DEFAULT_PARAMS_FILE, Params, load_params
from mlloop.errors import MlloopError
from mlloop.schema import load_schema
from mlloop.stages import evaluate, ingest, split, train, validate

STAGES: dict[str, tuple[Callable[[Params], None], str]] = {
    "ingest": (ingest.run, "read the source named in params.yaml into the raw table"),
    "validate": (validate.run, "check the raw table against the feature schema (exit 3 on violations)"),
    "split": (split.run, "stratified, seeded train/test split of the validated table"),
    "train": (train.run, "fit the model pipeline chosen in params.yaml"),
    "evaluate": (evaluate.run, "metrics, latency, plot data and PNG plots on the test split"),
}


REVIEW_HELP = {
    "report": "compare this workspace with a baseline ref and write the pull-request report",
    "gate": "check the quality gate against a baseline ref (exit 5 when a rule fails)",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: a subcommand per stage, plus the pull-request commands."""
    parser = argparse.ArgumentParser(
        prog="mlloop",
        description="Run the stages of the ML pipeline (dvc.yaml calls them) and review a pull request.",
        epilog="exit codes: 0 ok, 1 internal error, 2 bad configuration, 3 data broke the schema, "
        "4 unreadable input or pipeline not reproduced, 5 quality gate failed, 6 smoke test failed",
    )
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS_FILE, help="params file (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in STAGES.items():
        commands.add_parser(name, help=help_text, description=help_text)
    help_text = "copy the trained model into the BentoML model store, labelled with commit and metrics"
    commands.add_parser("import-model", help=help_text, description=help_text)
    help_text = "smoke-test a running service: readiness, one prediction, a batch, a refused bad request (exit 6)"
    smoke_command = commands.add_parser("smoke", help=help_text, description=help_text)
    smoke_command.add_argument("--url", required=True, help="the service's base URL, e.g. http://127.0.0.1:3000")
    help_text = "tag HEAD with the model's next version (GTO: churn@vX.Y.Z) when the model changed since the last one"
    register_command = commands.add_parser("register", help=help_text, description=help_text)
    register_command.add_argument("--push", action="store_true", help="push the new tag to origin")
    help_text = "print the service image's OCI labels (commit, model version, metrics), one key=value a line"
    commands.add_parser("image-labels", help=help_text, description=help_text)
    for name, help_text in REVIEW_HELP.items():
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument(
            "--baseline",
            metavar="REF",
            help="git ref to compare with (default: params report.baseline; origin/REF is preferred when it exists)",
        )
        if name == "report":
            command.add_argument("--out", type=Path, help="report directory (default: params report.directory)")
    return parser


def _run(arguments: argparse.Namespace) -> None:
    params = load_params(arguments.params)
    if arguments.command == "import-model":
        print(serving.import_model(params))
    elif arguments.command == "smoke":
        for check in smoke.run_smoke(arguments.url, load_schema(params.data.schema_file)):
            print(f"ok  {check}")
    elif arguments.command == "register":
        print(model_version.register(params, arguments.push))
    elif arguments.command == "image-labels":
        for key, value in model_version.image_labels(params).items():
            print(f"{key}={value}")
    elif arguments.command == "report":
        review.run_report(params, arguments.baseline, arguments.out)
    elif arguments.command == "gate":
        review.run_gate(params, arguments.baseline)
    else:
        run, _ = STAGES[arguments.command]
        run(params)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code."""
    arguments = build_parser().parse_args(argv)
    try:
        _run(arguments)
    except MlloopError as error:
        print(f"mlloop {arguments.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
