"""Reading the pipeline's intermediate artifacts, with a clear SourceError (exit 4) naming
the file and the stage that makes it when one is missing or unreadable.
"""

import pickle
from pathlib import Path

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from mlloop.errors import SourceError
from mlloop.storage.files import require

UNREADABLE = (OSError, ValueError, EOFError, pickle.UnpicklingError)
MODEL_UNREADABLE = (*UNREADABLE, KeyError, AttributeError, ImportError)
"""Unpickling also fails with KeyError on bytes that are no pickle, and with AttributeError or
ImportError on a model pickled by code that has since changed."""


def read_table(path: Path, produced_by: str) -> pd.DataFrame:
    """Read a Parquet table written by an earlier stage."""
    try:
        return pd.read_parquet(require(path, produced_by))
    except UNREADABLE as error:
        raise SourceError(f"{path}: cannot be read ({error}); re-run '{produced_by}'") from error


def write_table(table: pd.DataFrame, path: Path) -> None:
    """Write a table as Parquet, without the pandas index."""
    table.to_parquet(path, index=False)


def load_model(path: Path) -> Pipeline:
    """Load the fitted model pipeline written by the train stage."""
    try:
        model = joblib.load(require(path, "train"))
    except MODEL_UNREADABLE as error:
        raise SourceError(f"{path}: cannot be read ({error}); re-run 'train'") from error
    if not isinstance(model, Pipeline):
        raise SourceError(f"{path}: holds a {type(model).__name__}, not a scikit-learn Pipeline; re-run 'train'")
    return model
