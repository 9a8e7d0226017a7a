"""The pull-request loop as pr.yml runs it (`make pull repro report gate`), cold, warm and on a fork.

Setup (not timed): a clone of the committed repository whose `main` is reproduced and pushed to a
directory DVC remote, and a branch `pr` that changes one train hyperparameter. Each case is timed
step by step in a fresh clone of `pr`, always at the same path (a virtual environment is not
relocatable, and actions/cache restores it where it was):

- cold: no `.venv`, an empty uv cache (every package is downloaded and installed) and an empty DVC
  cache, which is a CI run whose caches missed;
- warm: the next push to the pull request (the hyperparameter changed again), with `.venv` and
  `.dvc/cache` as the cold run left them, which is what actions/cache restores on a hit;
- fork: the warm environment, but an empty DVC cache and no reachable remote, so the pipeline
  and the baseline are reproduced.

    python bench/pr_loop.py
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results" / "pr_loop.json"
STEPS = ("install", "pull", "repro", "report", "gate")
"""pr.yml's steps, as `make` targets; the first of them installs the environment, timed apart here."""


def environment(**extra: str) -> dict[str, str]:
    """The caller's environment without this benchmark's own virtual environment on PATH."""
    tools = str(Path(sys.executable).parent)
    path = os.pathsep.join(entry for entry in os.environ["PATH"].split(os.pathsep) if entry != tools)
    return (
        os.environ
        | {
            "PATH": path,
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        }
        | extra
    )


def run(command: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return round(time.perf_counter() - start, 2)


def change_learning_rate(clone: Path, rate: float, env: dict[str, str]) -> None:
    params_file = clone / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["train"]["hyperparameters"]["learning_rate"] = rate
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "commit", "--quiet", "--all", "--message", f"learning rate {rate}"], clone, env)


def fresh_clone(origin: Path, clone: Path, remote: Path, setup: dict[str, str]) -> None:
    """A checkout of `pr` as actions/checkout gives it, pointed at the remote as `make remote` would."""
    run(["git", "clone", "--quiet", "--branch", "pr", str(origin), str(clone)], clone.parent, setup)
    run(["dvc", "remote", "modify", "--local", "local", "url", str(remote)], clone, setup)


def loop(clone: Path, env: dict[str, str]) -> dict[str, float]:
    # A fork's pull fails and pr.yml carries on (continue-on-error); the gate's verdict is not what is timed.
    return {step: run(["make", step], clone, env, check=step not in ("pull", "gate")) for step in STEPS}


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        origin, clone, remote = scratch / "origin", scratch / "clone", scratch / "remote"
        env = environment(UV_CACHE_DIR=str(scratch / "uv-cache"))
        setup = environment() | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(origin)], check=True)
        run(["dvc", "remote", "modify", "--local", "local", "url", str(remote)], origin, setup)
        run(["dvc", "repro"], origin, setup)
        run(["dvc", "push"], origin, setup)
        run(["git", "commit", "--quiet", "--all", "--allow-empty", "--message", "main reproduced"], origin, setup)
        run(["git", "checkout", "--quiet", "-b", "pr"], origin, setup)
        change_learning_rate(origin, 0.05, setup)

        results: dict[str, dict[str, float]] = {}
        fresh_clone(origin, clone, remote, setup)
        results["cold"] = loop(clone, env)

        change_learning_rate(origin, 0.06, setup)
        cached = scratch / "cached"
        clone.rename(cached)
        fresh_clone(origin, clone, remote, setup)
        for kept in (".venv", ".dvc/cache"):
            (cached / kept).rename(clone / kept)
        results["warm"] = loop(clone, env)

        (clone / ".venv").rename(cached / ".venv")
        shutil.rmtree(clone)
        fresh_clone(origin, clone, scratch / "unreachable", setup)
        (cached / ".venv").rename(clone / ".venv")
        results["fork"] = loop(clone, env)
    summary = {case: steps | {"loop": round(sum(steps.values()), 2)} for case, steps in results.items()}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
