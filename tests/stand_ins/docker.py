"""A recording `docker` for what BentoML's buildx backend and the login action run: it builds nothing.

`docker buildx build` is validated against buildx's documented flags and recorded with its tags,
labels and whether it pushes; the version probes BentoML makes first answer as a current Docker.
"""

import sys

from tests.stand_ins.common import fail, record

TOOL = "docker"
# `docker buildx build` flags (docs.docker.com/reference/cli/docker/buildx/build), and whether each takes a value.
BUILD_FLAGS = {
    "add-host": True, "allow": True, "annotation": True, "attest": True, "build-arg": True, "build-context": True,
    "builder": True, "cache-from": True, "cache-to": True, "call": True, "cgroup-parent": True, "check": False,
    "file": True, "iidfile": True, "label": True, "load": False, "metadata-file": True, "network": True,
    "no-cache": False, "no-cache-filter": True, "output": True, "platform": True, "progress": True,
    "provenance": True, "pull": False, "push": False, "quiet": False, "sbom": True, "secret": True,
    "shm-size": True, "ssh": True, "tag": True, "target": True, "ulimit": True,
}  # fmt: skip
SHORT = {"f": "file", "o": "output", "q": "quiet", "t": "tag"}
BUILDX_HELP = """Usage:  docker buildx [OPTIONS] COMMAND

Options:
      --builder string   Override the configured builder instance
"""


def _build(words: list[str]) -> None:
    options: dict[str, list[str]] = {}
    context: list[str] = []
    stream = iter(words)
    for word in stream:
        if not word.startswith("-"):
            context.append(word)
            continue
        name, has_value, value = (word[2:] if word.startswith("--") else SHORT.get(word[1:], word)).partition("=")
        if name not in BUILD_FLAGS:
            fail(TOOL, f"unknown flag: {word}")
        if BUILD_FLAGS[name] and not has_value:
            value = next(stream, "")
        options.setdefault(name, []).append(value)
    if len(context) != 1:
        fail(TOOL, f'"docker buildx build" requires exactly 1 argument, got {context}')
    labels = dict(label.partition("=")[::2] for label in options.get("label", []))
    record(TOOL, {"build": {"tags": options.get("tag", []), "labels": labels, "push": "push" in options}})


def main() -> None:
    """`docker version`, `docker buildx --help|version|build`, `docker login`."""
    arguments = sys.argv[1:]
    if arguments[:1] == ["version"]:
        print('"27.5.1"')
    elif arguments[:2] == ["buildx", "--help"]:
        print(BUILDX_HELP)
    elif arguments[:2] == ["buildx", "version"]:
        print("github.com/docker/buildx v0.21.1 00000000")
    elif arguments[:2] == ["buildx", "build"]:
        _build(arguments[2:])
    elif arguments[:1] == ["login"]:
        record(TOOL, {"login": arguments[1:]})
    else:
        fail(TOOL, f"unsupported command {arguments[:2]}")
