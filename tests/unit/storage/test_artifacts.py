"""
artifacts.load_model: a model file that cannot be loaded is a SourceError (exit 4) naming the file
and the stage to re-run, never a traceback from the unpickler.
"""

from pathlib import Path

import pytest

from mlloop.errors import SourceError
from mlloop.storage.artifacts import load_model


def test_a_model_file_that_is_no_pickle_is_a_source_error_naming_it(tmp_path: Path) -> None:
    # joblib's unpickler raises KeyError on these bytes
    model_file = tmp_path / "model.joblib"
    model_file.write_bytes(b"not a pickle")

    with pytest.raises(SourceError) as raised:
        load_model(model_file)

    assert str(model_file) in str(raised.value)
    assert "re-run 'train'" in str(raised.value)
    assert raised.value.exit_code == 4
