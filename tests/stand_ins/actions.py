"""The pinned actions' stand-ins: each action.yml under tests/workflows/actions/ runs one of these.

Each keeps the real action's contract as far as the workflows rely on it; inputs arrive as
INPUT_<NAME> variables, the way the runner hands them to a JavaScript action.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.git_origin import forget_credentials, persist_credentials
from tests.stand_ins.common import record

CACHE_DIRECTORY = "HARNESS_CACHE"
"""The cache service: one directory per saved key, holding each cached path under its workspace-relative name."""
ARTIFACT_DIRECTORY = "HARNESS_ARTIFACTS"
"""The artifact service of the run: one directory per artifact name."""


def _input(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name.upper()}", "").strip() or default


def _lines(name: str) -> list[str]:
    return [line.strip() for line in _input(name).splitlines() if line.strip()]


def _workspace() -> Path:
    return Path(os.environ["GITHUB_WORKSPACE"])


def _output(name: str, value: str) -> None:
    with Path(os.environ["GITHUB_OUTPUT"]).open("a") as outputs:
        outputs.write(f"{name}={value}\n")


def _git(*arguments: str) -> str:
    result = subprocess.run(["git", *arguments], cwd=_workspace(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"git {' '.join(arguments)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def checkout() -> None:
    """actions/checkout v7: fetch the event's commit (all history and tags with fetch-depth 0), credentials in a file.

    As v6 and later do, a persisted token is not written into .git/config itself but into a file under
    RUNNER_TEMP that .git/config includes (tests/git_origin.py), so only git, not a library reading the
    global config, sees it.
    """
    workspace = _workspace()
    for entry in workspace.iterdir() if workspace.exists() else []:
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    workspace.mkdir(parents=True, exist_ok=True)
    repository = _input("repository", os.environ["GITHUB_REPOSITORY"])
    url = f"{os.environ['GITHUB_SERVER_URL']}/{repository}"
    ref, sha = _input("ref", os.environ["GITHUB_REF"]), os.environ["GITHUB_SHA"]
    depth = int(_input("fetch-depth", "1"))
    token = _input("token")
    _git("init", "--quiet")
    _git("remote", "add", "origin", url)
    credentials = persist_credentials(workspace, url, token, Path(os.environ["RUNNER_TEMP"]))
    if ref.startswith("refs/heads/"):
        local = ref.removeprefix("refs/heads/")
        target = f"refs/remotes/origin/{local}"
    else:
        local, target = "", f"refs/remotes/{ref.removeprefix('refs/')}" if ref.startswith("refs/pull/") else ref
    if depth == 0:
        _git("fetch", "--quiet", "--prune", "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
        _git("fetch", "--quiet", "origin", f"+{sha}:{target}")
    else:
        _git("fetch", "--quiet", "--no-tags", f"--depth={depth}", "origin", f"+{sha}:{target}")
    if local:
        _git("checkout", "--quiet", "--force", "-B", local, target)
    else:
        _git("checkout", "--quiet", "--force", sha)
    persist = _input("persist-credentials", "true") == "true"
    if not persist:
        forget_credentials(workspace, credentials)
    record("actions", {"checkout": {"ref": ref, "sha": sha, "depth": depth, "persist": persist}})


def _copy_tree(source: Path, destination: Path) -> None:
    """A hard-link copy, as fast as a symlink, that the job may change without touching the source's names."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.exists() or destination.is_symlink():
        shutil.rmtree(destination) if destination.is_dir() else destination.unlink()
    subprocess.run(["cp", "-al", str(source), str(destination)], check=True)


def cache() -> None:
    """actions/cache restore: the entry saved under the exact key, else the newest under a restore-keys prefix.

    Saving happens in the real action's post step, which a composite stand-in cannot have; the
    harness seeds the cache before a run instead.
    """
    store = Path(os.environ[CACHE_DIRECTORY])
    key = _input("key")
    entries = sorted(store.iterdir(), key=lambda entry: entry.stat().st_mtime, reverse=True) if store.exists() else []
    hit = store / key if (store / key).is_dir() else None
    found = hit or next(
        (entry for prefix in _lines("restore-keys") for entry in entries if entry.name.startswith(prefix)), None
    )
    if found is not None:
        for path in _lines("path"):
            if (found / path).exists():
                _copy_tree(found / path, _workspace() / path)
    _output("cache-hit", "true" if hit else "false")
    _output("cache-matched-key", found.name if found else "")
    record("actions", {"cache": {"key": key, "restored": found.name if found else None}})


def upload_artifact() -> None:
    """actions/upload-artifact: the paths, relative to their least common ancestor, under the artifact's name."""
    paths = [_workspace() / path for path in _lines("path")]
    existing = [path for path in paths if path.exists()]
    if not existing:
        if _input("if-no-files-found", "warn") == "error":
            sys.exit(f"No files were found with the provided path: {_input('path')}")
        return
    root = Path(os.path.commonpath([path if path.is_dir() else path.parent for path in existing]))
    artifact = Path(os.environ[ARTIFACT_DIRECTORY]) / _input("name", "artifact")
    shutil.rmtree(artifact, ignore_errors=True)
    for path in existing:
        target = artifact / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(path, target, dirs_exist_ok=True) if path.is_dir() else shutil.copy2(path, target)
    record("actions", {"upload-artifact": _input("name", "artifact")})


def download_artifact() -> None:
    """actions/download-artifact: the named artifact's files into `path`."""
    artifact = Path(os.environ[ARTIFACT_DIRECTORY]) / _input("name")
    if not artifact.is_dir():
        sys.exit(f"Unable to download artifact(s): Artifact not found for name: {_input('name')}")
    shutil.copytree(artifact, _workspace() / _input("path", "."), dirs_exist_ok=True)
    record("actions", {"download-artifact": _input("name")})


def setup_python() -> None:
    """actions/setup-python: the runner's python3 stands for the requested version, which must match it."""
    wanted = _input("python-version")
    found = f"{sys.version_info.major}.{sys.version_info.minor}"
    if wanted and not found.startswith(wanted):
        print(f"::warning::setup-python stand-in: python-version {wanted} requested, the runner has {found}")
    _output("python-version", found)
    _output("python-path", shutil.which("python3") or "")


def setup_buildx() -> None:
    """docker/setup-buildx-action: the builder the docker stand-in pretends to have."""
    _output("name", "builder-harness")
    _output("driver", "docker-container")
    record("actions", {"setup-buildx": {}})


def login() -> None:
    """docker/login-action: recorded, with whether a password was given (never its value)."""
    record(
        "actions",
        {
            "login": {
                "registry": _input("registry"),
                "username": _input("username"),
                "password": bool(_input("password")),
            }
        },
    )


def main() -> None:
    """Run the stand-in named by the first argument."""
    {
        "checkout": checkout,
        "cache": cache,
        "upload-artifact": upload_artifact,
        "download-artifact": download_artifact,
        "setup-python": setup_python,
        "setup-buildx": setup_buildx,
        "login": login,
    }[sys.argv[1]]()
