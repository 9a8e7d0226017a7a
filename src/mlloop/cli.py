"""The single command line entry point: one subcommand per pipeline stage, plus review, serving,
delivery and monitoring commands.

Each subcommand is declared once, in COMMANDS: its name, help, arguments and handler; the parser
and the dispatch are both built from that table. User errors (MlloopError) become a message on
stderr, one line per problem, and the exit code their class declares; anything else is a bug and
keeps its traceback.

Each handler imports its own modules when it runs: every DVC stage is a fresh process, and
importing scikit-learn, DVC and BentoML for a command that needs none of them costs seconds.
"""

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from mlloop.config import DEFAULT_PARAMS_FILE, HeldOutPool, Params, load_params
from mlloop.errors import MlloopError, exit_codes

if TYPE_CHECKING:
    from mlloop.monitoring.ab_result import AbReportFiles
    from mlloop.monitoring.drift_result import DriftReportFiles

Handler = Callable[[Params, argparse.Namespace], None]
Arguments = Callable[[argparse.ArgumentParser], None]


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


def _today() -> date:
    return datetime.now(UTC).date()


def _no_arguments(command: argparse.ArgumentParser) -> None:
    """Most commands read everything they need from params.yaml."""


@dataclass(frozen=True)
class Command:
    """One subcommand: the parser and the dispatch are both built from these."""

    name: str
    help: str
    run: Handler
    arguments: Arguments = _no_arguments


def _stage(name: str) -> Handler:
    def run(params: Params, _arguments: argparse.Namespace) -> None:
        stage: Callable[[Params], None] = importlib.import_module(f"mlloop.pipeline.stages.{name}").run
        stage(params)

    return run


def _baseline_argument(command: argparse._ActionsContainer) -> None:
    command.add_argument(
        "--baseline",
        metavar="REF",
        help="git ref to compare with (default: params report.baseline); a branch name with no local branch "
        "falls back to origin/REF",
    )


def _report_arguments(command: argparse.ArgumentParser) -> None:
    _baseline_argument(command)
    command.add_argument("--out", type=Path, help="report directory (default: params report.directory)")


def _report(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.review import report

    report.run_report(params, arguments.baseline, arguments.out)


def _gate_arguments(command: argparse.ArgumentParser) -> None:
    against = command.add_mutually_exclusive_group()
    _baseline_argument(against)
    against.add_argument(
        "--previous-release",
        action="store_true",
        help="compare with the latest model version tag before HEAD, else HEAD~1 (the gate on main)",
    )


def _gate(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.review import report

    baseline = arguments.baseline
    if arguments.previous_release:
        from mlloop.serving import model_version

        baseline = model_version.previous_release()
        print(f"baseline: {baseline}, the previous release")
    report.run_gate(params, baseline)


def _pr_scope(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.review import scope

    verdict = scope.pr_scope(params, arguments.baseline)
    print(verdict.reason, file=sys.stderr)
    print(verdict.verdict)


def _import_model(params: Params, _arguments: argparse.Namespace) -> None:
    from mlloop.serving import bento_model, model_version

    print(bento_model.import_model(params, model_version.release_version(params)))


def _namespaced(text: str) -> str:
    """An argparse type: a Kubernetes object as `namespace/name`."""
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?", text):
        raise argparse.ArgumentTypeError(f"must be NAMESPACE/NAME, e.g. mlloop-staging/churn-service, got {text!r}")
    return text


def _smoke_arguments(command: argparse.ArgumentParser) -> None:
    target = command.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="the service's base URL, e.g. http://127.0.0.1:3000")
    target.add_argument(
        "--service",
        type=_namespaced,
        metavar="NAMESPACE/NAME",
        help="a Kubernetes Service, reached from here through `kubectl port-forward`",
    )
    command.add_argument("--kubectl", default="kubectl", help="the kubectl to forward with (default: %(default)s)")


def _smoke(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.core.schema import load_schema
    from mlloop.serving import port_forward, smoke

    schema = load_schema(params.data.schema_file)
    timeout = params.serve.request_timeout_seconds
    with ExitStack() as stack:
        url = arguments.url
        if arguments.service:  # a ClusterIP Service: reached through the API server
            url = stack.enter_context(port_forward.forwarded(arguments.service, arguments.kubectl, timeout))
        for check in smoke.run_smoke(url, schema, timeout):
            print(f"ok  {check}")


def _register_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--push", action="store_true", help="push the new tag to origin")


def _register(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.serving import model_version

    print(model_version.register(params, arguments.push))


def _image_labels(params: Params, _arguments: argparse.Namespace) -> None:
    from mlloop.serving import model_version

    for key, value in model_version.image_labels(params).items():
        print(f"{key}={value}")


def _current_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--current",
        metavar="PATH_OR_URL",
        help="inference-log directory or fsspec URL (default: params serve.inference_log_dir)",
    )


def _drift_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--reference", type=Path, help="reference table (default: params paths.train)")
    _current_argument(command)
    command.add_argument("--out", type=Path, help="report directory (default: params drift.directory)")
    command.add_argument(
        "--window-days",
        type=_positive_int,
        metavar="N",
        help="days of the log to read (default: params drift.window_days)",
    )
    command.add_argument(
        "--exact",
        action="store_true",
        help="read every line of the window instead of the log files' summaries (small windows, tests)",
    )


def _drift(params: Params, arguments: argparse.Namespace) -> None:
    if arguments.window_days is not None:
        params = params.model_copy(
            update={"drift": params.drift.model_copy(update={"window_days": arguments.window_days})}
        )
    if arguments.exact:
        from mlloop.monitoring.drift import run_drift
    else:
        from mlloop.monitoring.summary_check import run_drift
    result = run_drift(params, arguments.reference, arguments.current, arguments.out, datetime.now(UTC))
    print(f"{result.status}: {'; '.join(result.reasons)}")


def _ab_report_arguments(command: argparse.ArgumentParser) -> None:
    _current_argument(command)
    command.add_argument("--out", type=Path, help="report directory (default: params ab.decision.directory)")
    command.add_argument(
        "--window-days",
        type=_positive_int,
        metavar="N",
        help="days of the log to read: the evidence window (default: params ab.decision.evidence_days)",
    )


def _ab_report(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import ab_report

    if arguments.window_days is not None:
        decision = params.ab.decision.model_copy(update={"evidence_days": arguments.window_days})
        params = params.model_copy(update={"ab": params.ab.model_copy(update={"decision": decision})})
    result = ab_report.run_ab_report(params, arguments.current, arguments.out, datetime.now(UTC))
    print(f"{result.decision}: {'; '.join(result.reasons)}")


def _promote_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--version",
        metavar="VERSION",
        help="the registered version to put at stage prod, e.g. v0.2.0 (default: the challenger of the last A/B "
        "report, when it decided promote); an older version rolls production back",
    )
    command.add_argument("--push", action="store_true", help="push the stage tags to origin")


def _promote(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import promotion

    print(promotion.promote_version(params.ab.decision.directory, arguments.version, arguments.push))


def _ab_action(params: Params, _arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import promotion
    from mlloop.monitoring.ab_result import read_result

    print(promotion.action(read_result(params.ab.decision.directory)))


def _redeploy(params: Params, _arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import promotion

    print(promotion.redeploy(params.ab.decision.directory))


def _ab_issue(params: Params, _arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import promotion

    print(promotion.post_report(params.ab.decision.directory))


def _summarize(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import summaries

    print(summaries.summarize(params, arguments.current, _today(), arguments.prefix))


def _summarize_arguments(command: argparse.ArgumentParser) -> None:
    _current_argument(command)
    command.add_argument(
        "--prefix",
        metavar="FOLDER",
        help="only the log files under this folder of the log (one map task of many); no labels joined",
    )


def _fold_in(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import fold_in

    folded = fold_in.fold_in(params, arguments.params, arguments.current, _today())
    for line in folded.lines():
        print(line, file=sys.stderr)
    print(folded.path)


def _drift_issue(params: Params, _arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import issue

    for message in issue.sync_issues(params.drift.directory):
        print(message)


def _history_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--from",
        dest="reports_url",
        type=_url,
        metavar="URL",
        help="the published drift reports' prefix, whose history.jsonl holds the earlier days (default: none)",
    )


def _drift_history(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import history

    print(history.record_check(params.drift.directory, arguments.reports_url, params.drift.history_days))


def _dispatch_retrain(params: Params, _arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import retrain

    print(retrain.dispatch_retraining(params.drift.directory))


def _retrain_pr(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import retrain

    print(retrain.open_pull_request(params, arguments.params, _today()))


def _dispatch_pr(_params: Params, _arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import retrain

    print(retrain.dispatch_checks())


def _publish_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--to", required=True, type=_url, metavar="URL", help="the drift reports' prefix, e.g. s3://bucket/drift"
    )


def _publish_drift(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import publish

    print(publish.publish_report(params.drift.directory, arguments.to, _today()))


def _transfer(direction: Literal["push", "pull"]) -> Handler:
    def run(_params: Params, _arguments: argparse.Namespace) -> None:
        from mlloop.storage import remote

        print(remote.transfer(direction))

    return run


def _check_remote(_params: Params, _arguments: argparse.Namespace) -> None:
    from mlloop.storage import remote_check

    print(remote_check.check_remote())


def _simulate_arguments(command: argparse.ArgumentParser) -> None:
    defaults = "(default: params simulate.%s)"
    command.add_argument(
        "--scenario", metavar="NAME", help="one of params simulate.scenarios (default: params simulate.scenario)"
    )
    command.add_argument(
        "--pool",
        choices=get_args(HeldOutPool),
        help="the split's pool the customers come from: evaluation for traffic that judges a model, which "
        "fold-in refuses (default: params simulate.pool)",
    )
    command.add_argument("--days", type=_positive_int, metavar="N", help=defaults % "days")
    command.add_argument("--rows-per-day", type=_positive_int, metavar="N", help=defaults % "rows_per_day")
    command.add_argument("--seed", type=int, metavar="N", help=defaults % "seed")
    command.add_argument(
        "--start", type=date.fromisoformat, metavar="YYYY-MM-DD", help="first day (default: the last day is today, UTC)"
    )
    command.add_argument(
        "--challenger",
        type=Path,
        metavar="MODEL_FILE",
        help="a second trained model (its metadata beside it, as train writes it), served with the champion as "
        "params ab.mode says (shadow or split); each model is logged by the version tag (churn@vX.Y.Z) whose "
        "dvc.lock records it, which `mlloop promote` takes, else as simulated:<hash>",
    )
    destination = command.add_mutually_exclusive_group()
    destination.add_argument("--url", help="send the traffic to this running service instead; it logs what it answers")
    destination.add_argument(
        "--out", type=Path, metavar="DIR", help="log directory (default: params serve.inference_log_dir)"
    )


def _simulate(params: Params, arguments: argparse.Namespace) -> None:
    from mlloop.monitoring import simulator

    overrides = {
        "scenario": arguments.scenario,
        "pool": arguments.pool,
        "days": arguments.days,
        "rows_per_day": arguments.rows_per_day,
        "seed": arguments.seed,
    }
    settings = params.simulate.model_copy(update={key: value for key, value in overrides.items() if value is not None})
    start = arguments.start or _today() - timedelta(days=settings.days - 1)
    out = arguments.out or params.serve.inference_log_dir
    for line in simulator.simulate(params, settings, start, out, arguments.url, arguments.challenger).lines():
        print(line)


def _drift_report(params: Params) -> "DriftReportFiles":
    from mlloop.monitoring.drift_result import DriftReportFiles

    return DriftReportFiles(params.drift.directory)


def _ab_report_files(params: Params) -> "AbReportFiles":
    from mlloop.monitoring.ab_result import AbReportFiles

    return AbReportFiles(params.ab.decision.directory)


OUTPUTS: dict[str, Callable[[Params], Path]] = {
    "report": lambda params: params.report.report_file,
    "drift-report": lambda params: _drift_report(params).markdown,
    "drift-result": lambda params: _drift_report(params).result,
    "drift-history": lambda params: _drift_report(params).history_markdown,
    "ab-report": lambda params: _ab_report_files(params).markdown,
    "ab-result": lambda params: _ab_report_files(params).result,
    "inference-log": lambda params: params.serve.inference_log_dir,
    "sources": lambda params: params.data.sources_dir,
    "model-card": lambda params: params.serve.model_card,
}
"""The outputs the Makefile and the workflows name; each path is declared once, where it is written."""


def _path_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("name", choices=OUTPUTS, help="the output: %(choices)s")


def _path(params: Params, arguments: argparse.Namespace) -> None:
    print(OUTPUTS[arguments.name](params))


def _drift_status(params: Params, _arguments: argparse.Namespace) -> None:
    from mlloop.monitoring.drift_result import read_result

    print(read_result(params.drift.directory).status)


STAGES = {
    "ingest": "read the source named in params.yaml into the raw table",
    "validate": "check the raw table against the feature schema (exit 3 on violations)",
    "split": "the validated table into train, traffic and evaluation (test) pools, by a seeded hash of each row",
    "train": "fit the model pipeline chosen in params.yaml",
    "evaluate": "metrics, latency, plot data and PNG plots on the test split",
}

COMMANDS = (
    *(Command(name, help_text, _stage(name)) for name, help_text in STAGES.items()),
    Command(
        "report",
        "compare this workspace with a baseline ref and write the pull-request report",
        _report,
        _report_arguments,
    ),
    Command(
        "gate",
        "check the quality gate against a baseline ref (exit 5 when a rule fails)",
        _gate,
        _gate_arguments,
    ),
    Command(
        "pr-scope",
        "print `run` if HEAD changed a pipeline input since the baseline ref, else `skip` (the reason on stderr)",
        _pr_scope,
        _baseline_argument,
    ),
    Command(
        "import-model",
        "copy the trained model into the BentoML model store, labelled with commit, registry version and metrics, and "
        "with params ab the champion (the registry's version at stage prod) beside it",
        _import_model,
    ),
    Command(
        "smoke",
        "smoke-test a running service: readiness, one prediction, a batch, a refused bad request (exit 6)",
        _smoke,
        _smoke_arguments,
    ),
    Command(
        "register",
        "tag HEAD with the model's next version (GTO: churn@vX.Y.Z) when the model changed since the last one",
        _register,
        _register_arguments,
    ),
    Command(
        "image-labels",
        "print the service image's OCI labels (commit, model version, metrics), one key=value a line",
        _image_labels,
    ),
    Command(
        "drift",
        "judge the inference log's window ending today (silence, data contract, outcomes, drift against the "
        "training split); exit 0 whatever the status",
        _drift,
        _drift_arguments,
    ),
    Command(
        "ab-report",
        "compare the champion and the challenger on the log's evidence window and its delayed labels, and decide: "
        "promote, keep_champion or insufficient_data (reports/ab/ab.json, ab.md); exit 0 whatever the decision",
        _ab_report,
        _ab_report_arguments,
    ),
    Command(
        "promote",
        "move the registry's stage prod (GTO) to a version: the A/B report's challenger, or one named by hand "
        "(exit 4 when it is not registered)",
        _promote,
        _promote_arguments,
    ),
    Command(
        "ab-action",
        "print what the last A/B report asks of production: promote, retire (keep_champion once the evidence "
        "window closed) or none",
        _ab_action,
    ),
    Command(
        "redeploy",
        "start deploy.yml for the last A/B report's action: the default branch after a promotion, the champion's "
        "commit to retire the challenger (uses gh)",
        _redeploy,
    ),
    Command(
        "ab-issue",
        "post the last A/B report on its one tracking issue (label ab-test): open it, or update it and comment "
        "(uses gh)",
        _ab_issue,
    ),
    Command(
        "summarize",
        "summarise the log files the check ending today needs (and their delayed labels) beside the log, a "
        "process per file; for a cron or a CronJob",
        _summarize,
        _summarize_arguments,
    ),
    Command(
        "fold-in",
        "fold the labelled production rows of the log's window into a new training-source file; print its path",
        _fold_in,
        _current_argument,
    ),
    Command(
        "drift-status",
        "print the last drift check's status: stale, contract_breach, degraded, drift, insufficient_data or "
        "no_drift (exit 4 when there is none)",
        _drift_status,
    ),
    Command(
        "drift-history",
        "add the last drift check's status to the history read from URL/history.jsonl, and write it beside the "
        "report (history.jsonl, history.md)",
        _drift_history,
        _history_arguments,
    ),
    Command(
        "drift-issue",
        "open, update or close one GitHub issue per alert status (stale, contract_breach, degraded, drift) to "
        "match the last drift check (uses gh)",
        _drift_issue,
    ),
    Command(
        "dispatch-retrain",
        "start retrain.yml when the last drift check found drift or degraded outcomes, unless a retraining pull "
        "request is open (uses gh)",
        _dispatch_retrain,
    ),
    Command(
        "retrain-pr",
        "commit the retraining on the branch retrain/production-data, push it and open its pull request (uses gh)",
        _retrain_pr,
    ),
    Command(
        "dispatch-pr",
        "start the pull-request checks (pr.yml, ci.yml) on the current branch (uses gh)",
        _dispatch_pr,
    ),
    Command(
        "publish-drift",
        "copy the drift report under URL/<today>/ in the object store (exit 7 when it cannot be written)",
        _publish_drift,
        _publish_arguments,
    ),
    Command(
        "push",
        "dvc push to the default remote; a failure names the remote, the cause and what to check (exit 7)",
        _transfer("push"),
    ),
    Command(
        "pull",
        "dvc pull what the default remote has; a failure names the remote, the cause and what to check (exit 7)",
        _transfer("pull"),
    ),
    Command(
        "check-remote",
        "check that the remote holds every object the checked-out commit references (exit 8 naming each)",
        _check_remote,
    ),
    Command(
        "path",
        "print where an output is written, as params.yaml places it (for the Makefile and the workflows)",
        _path,
        _path_arguments,
    ),
    Command(
        "simulate",
        "write simulated production traffic from held-out customers into the inference log, day by day",
        _simulate,
        _simulate_arguments,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, built from COMMANDS."""
    parser = argparse.ArgumentParser(
        prog="mlloop",
        description="Run the stages of the ML pipeline (dvc.yaml calls them), review a pull request, "
        "serve and release the model, and monitor it in production.",
        epilog="exit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in exit_codes().items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS_FILE, help="params file (default: %(default)s)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.arguments(subparsers.add_parser(command.name, help=command.help, description=command.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code."""
    arguments = build_parser().parse_args(argv)
    handlers = {command.name: command.run for command in COMMANDS}
    try:
        handlers[arguments.command](load_params(arguments.params), arguments)
    except MlloopError as error:
        print(f"mlloop {arguments.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
