"""The single command line entry point: one subcommand per pipeline stage, plus review, serving and release commands.

User errors (MlloopError) become a message on stderr, one line per problem, and the exit
code documented in mlloop.errors; anything else is a bug and keeps its traceback.

Each command imports its own modules when it runs: every DVC stage is a fresh process, and
importing scikit-learn, DVC and BentoML for a command that needs none of them costs seconds.
"""

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from mlloop.config import DEFAULT_PARAMS_FILE, Params, Scenario, load_params
from mlloop.errors import MlloopError

if TYPE_CHECKING:
    from mlloop.monitoring.simulator import SimulationSummary

STAGES = {
    "ingest": "read the source named in params.yaml into the raw table",
    "validate": "check the raw table against the feature schema (exit 3 on violations)",
    "split": "stratified, seeded train/test split of the validated table",
    "train": "fit the model pipeline chosen in params.yaml",
    "evaluate": "metrics, latency, plot data and PNG plots on the test split",
}


REVIEW_HELP = {
    "report": "compare this workspace with a baseline ref and write the pull-request report",
    "gate": "check the quality gate against a baseline ref (exit 5 when a rule fails)",
}


REMOTE_HELP = {
    "push": "dvc push to the default remote; a failure names the remote, the cause and what to check (exit 7)",
    "pull": "dvc pull what the default remote has; a failure names the remote, the cause and what to check (exit 7)",
    "check-remote": "check that the remote holds every object the checked-out commit references (exit 8 naming each)",
}


def _positive_int(text: str) -> int:
    """An argparse type: a count of at least 1, refused as a usage error otherwise."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _url(text: str) -> str:
    """An argparse type: a non-empty URL, so an unset variable is a usage error, not a write to `/<day>/`."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a URL such as s3://bucket/drift, got nothing")
    return text


def _add_simulate_arguments(command: argparse.ArgumentParser) -> None:
    defaults = "(default: params simulate.%s)"
    command.add_argument("--scenario", choices=get_args(Scenario), help=defaults % "scenario")
    command.add_argument("--days", type=_positive_int, metavar="N", help=defaults % "days")
    command.add_argument("--rows-per-day", type=_positive_int, metavar="N", help=defaults % "rows_per_day")
    command.add_argument("--seed", type=int, metavar="N", help=defaults % "seed")
    command.add_argument(
        "--start", type=date.fromisoformat, metavar="YYYY-MM-DD", help="first day (default: the last day is today, UTC)"
    )
    destination = command.add_mutually_exclusive_group()
    destination.add_argument("--url", help="send the traffic to this running service instead; it logs what it answers")
    destination.add_argument(
        "--out", type=Path, metavar="DIR", help="log directory (default: params serve.inference_log_dir)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: a subcommand per stage, plus the pull-request commands."""
    parser = argparse.ArgumentParser(
        prog="mlloop",
        description="Run the stages of the ML pipeline (dvc.yaml calls them) and review a pull request.",
        epilog="exit codes: 0 ok, 1 internal error, 2 bad configuration, 3 data broke the schema, "
        "4 unreadable input or pipeline not reproduced, 5 quality gate failed, 6 smoke test failed, "
        "7 remote or object store unusable, 8 remote lacks objects the commit references",
    )
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS_FILE, help="params file (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in STAGES.items():
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
    help_text = "compare the inference log's latest window with the training split; exit 0 whatever the verdict"
    drift_command = commands.add_parser("drift", help=help_text, description=help_text)
    drift_command.add_argument("--reference", type=Path, help="reference table (default: params paths.train)")
    drift_command.add_argument(
        "--current",
        metavar="PATH_OR_URL",
        help="inference-log directory or fsspec URL (default: params serve.inference_log_dir)",
    )
    drift_command.add_argument("--out", type=Path, help="report directory (default: params drift.directory)")
    drift_command.add_argument(
        "--window-days",
        type=_positive_int,
        metavar="N",
        help="days of the log to read (default: params drift.window_days)",
    )
    help_text = "fold the labelled production rows of the log's window into a new training-source file; print its path"
    fold_command = commands.add_parser("fold-in", help=help_text, description=help_text)
    fold_command.add_argument("--current", metavar="PATH_OR_URL", help="inference-log directory or fsspec URL")
    help_text = "open, update or close the GitHub issue labelled drift to match the last drift check (uses gh)"
    commands.add_parser("drift-issue", help=help_text, description=help_text)
    help_text = "copy the drift report under URL/<today>/ in the object store (exit 7 when it cannot be written)"
    publish_command = commands.add_parser("publish-drift", help=help_text, description=help_text)
    publish_command.add_argument(
        "--to", required=True, type=_url, metavar="URL", help="the drift reports' prefix, e.g. s3://bucket/drift"
    )
    for name, help_text in REMOTE_HELP.items():
        commands.add_parser(name, help=help_text, description=help_text)
    help_text = "write simulated production traffic from held-out customers into the inference log, day by day"
    _add_simulate_arguments(commands.add_parser("simulate", help=help_text, description=help_text))
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
    command = arguments.command
    if command in STAGES:
        run: Callable[[Params], None] = importlib.import_module(f"mlloop.pipeline.stages.{command}").run
        run(params)
    elif command == "import-model":
        from mlloop.serving import bento_model

        print(bento_model.import_model(params))
    elif command == "smoke":
        from mlloop.core.schema import load_schema
        from mlloop.serving import smoke

        for check in smoke.run_smoke(arguments.url, load_schema(params.data.schema_file)):
            print(f"ok  {check}")
    elif command in ("register", "image-labels"):
        from mlloop.serving import model_version

        if command == "register":
            print(model_version.register(params, arguments.push))
        else:
            for key, value in model_version.image_labels(params).items():
                print(f"{key}={value}")
    elif command == "drift":
        from mlloop.monitoring import drift

        if arguments.window_days is not None:
            params = params.model_copy(
                update={"drift": params.drift.model_copy(update={"window_days": arguments.window_days})}
            )
        result = drift.run_drift(params, arguments.reference, arguments.current, arguments.out)
        print(f"{result.status}: {'; '.join(result.reasons)}")
    elif command == "fold-in":
        from mlloop.monitoring import fold_in

        print(fold_in.fold_in(params, arguments.params, arguments.current, datetime.now(UTC).date()))
    elif command == "drift-issue":
        from mlloop.monitoring import issue

        print(issue.sync_issue(params.drift.directory))
    elif command in REMOTE_HELP:
        _remote(command)
    elif command == "publish-drift":
        from mlloop.monitoring import publish

        print(publish.publish_report(params.drift.directory, arguments.to, datetime.now(UTC).date()))
    elif command == "simulate":
        for line in _simulate(params, arguments).lines():
            print(line)
    else:
        from mlloop.review import report

        if command == "report":
            report.run_report(params, arguments.baseline, arguments.out)
        else:
            report.run_gate(params, arguments.baseline)


def _remote(command: str) -> None:
    if command == "check-remote":
        from mlloop.storage import remote_check

        print(remote_check.check_remote())
    else:
        from mlloop.storage import remote

        print(remote.transfer("push" if command == "push" else "pull"))


def _simulate(params: Params, arguments: argparse.Namespace) -> "SimulationSummary":
    from mlloop.monitoring import simulator

    overrides = {
        "scenario": arguments.scenario,
        "days": arguments.days,
        "rows_per_day": arguments.rows_per_day,
        "seed": arguments.seed,
    }
    settings = params.simulate.model_copy(update={key: value for key, value in overrides.items() if value is not None})
    start = arguments.start or datetime.now(UTC).date() - timedelta(days=settings.days - 1)
    out = arguments.out or params.serve.inference_log_dir
    return simulator.simulate(params, settings, start, out, arguments.url)


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
