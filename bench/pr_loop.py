"""The pull-request loop as pr.yml runs it, timed step by step with warm caches.

Setup (not timed): a fresh clone of the committed repository, `main` reproduced and pushed
to a local DVC remote, and a branch that changes one train hyperparameter. Timed: `make`'s
steps `dvc pull`, `dvc repro`, `mlloop report` (with the bootstrap) and `mlloop gate`. Then,
for comparison, the report once more with an empty DVC cache and no remote, which makes it
reproduce the baseline in a temporary worktree (a fork's first run).

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


def environment() -> dict[str, str]:
    return os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }


def run(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=environment(), check=True, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - start, 2)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(clone)], check=True)
        run(["dvc", "remote", "modify", "--local", "local", "url", str(Path(scratch) / "remote")], clone)
        run(["dvc", "repro"], clone)
        run(["dvc", "push"], clone)
        run(["git", "commit", "--quiet", "--all", "--allow-empty", "--message", "main reproduced"], clone)
        run(["git", "checkout", "--quiet", "-b", "pr"], clone)
        params_file = clone / "params.yaml"
        params = yaml.safe_load(params_file.read_text())
        params["train"]["hyperparameters"]["learning_rate"] = 0.05
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))

        steps = {
            "pull": run(["dvc", "pull", "--allow-missing"], clone),
            "repro (train + evaluate)": run(["dvc", "repro"], clone),
            "report (1000-resample bootstrap, baseline cached)": run(["mlloop", "report", "--baseline", "main"], clone),
            "gate": run(["mlloop", "gate", "--baseline", "main"], clone),
        }
        results: dict[str, object] = {"steps_seconds": steps, "loop_seconds": round(sum(steps.values()), 2)}

        shutil.rmtree(clone / ".dvc" / "cache")
        run(["dvc", "remote", "modify", "--local", "local", "url", str(Path(scratch) / "no-remote")], clone)
        results["report_baseline_reproduced_in_worktree_seconds"] = run(
            ["mlloop", "report", "--baseline", "main"], clone
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
