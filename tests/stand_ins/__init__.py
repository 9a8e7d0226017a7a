"""Recording stand-ins for the programs the project drives (gh, cml, docker, kubectl) and for the
pinned actions of its workflows. Each is a module with a `main()`, run through an executable that
`install` writes: on PATH, as the Makefile's KUBECTL, or as act's action runner.
"""

import stat
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def install(path: Path, module: str) -> Path:
    """An executable at `path` that runs the stand-in `module` with this test session's interpreter."""
    path.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(PROJECT)!r})\n"
        f"from tests.stand_ins.{module} import main\nmain()\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
