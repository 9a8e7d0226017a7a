"""
baseline.model_at: the baseline commit's model, a DVC output, loaded to be timed beside this
workspace's; a file that is not a loadable Pipeline is a SourceError naming the file and the commit.
"""

import io
from pathlib import Path

import joblib
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mlloop.config import Params
from mlloop.errors import SourceError
from mlloop.review import baseline
from mlloop.storage import revisions

SHA = "0f1e2d3c4b5a69788796a5b4c3d2e1f0aabbccdd"


def _dumped(model: object) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def _serve(monkeypatch: pytest.MonkeyPatch, content: bytes) -> list[tuple[str, Path]]:
    """Make the DVC output read return `content`, recording what was asked for."""
    asked: list[tuple[str, Path]] = []

    def output(sha: str, path: Path) -> bytes:
        asked.append((sha, path))
        return content

    monkeypatch.setattr(revisions, "dvc_output_at", output)
    return asked


def test_the_baseline_model_is_the_commits_dvc_output_at_the_model_path(
    params: Params, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _serve(monkeypatch, _dumped(Pipeline([("estimator", LogisticRegression())])))

    model = baseline.model_at(SHA, params)

    assert isinstance(model, Pipeline)
    assert asked == [(SHA, params.paths.model)]


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"not a pickle", "cannot be loaded"), (_dumped({"a": "dict"}), "holds a dict, not a Pipeline")],
    ids=["unreadable", "not a pipeline"],
)
def test_a_baseline_model_that_is_not_a_loadable_pipeline_is_a_source_error_naming_file_and_commit(
    params: Params, monkeypatch: pytest.MonkeyPatch, content: bytes, problem: str
) -> None:
    _serve(monkeypatch, content)

    with pytest.raises(SourceError) as raised:
        baseline.model_at(SHA, params)

    message = str(raised.value)
    assert f"{params.paths.model} at {SHA[:12]}" in message, message
    assert problem in message, message
