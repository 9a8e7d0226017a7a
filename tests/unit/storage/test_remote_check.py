"""The remote integrity check reads `dvc status --cloud --json`: `new` and `missing` are absent from the remote."""

from mlloop.storage.remote_check import absent_from_remote


def test_new_and_missing_objects_are_absent_from_the_remote_and_listed_sorted() -> None:
    status = {
        "reports/plots": "new",
        "models/model.joblib": "missing",
        "data/raw/table.parquet": "deleted",
    }

    assert absent_from_remote(status) == ["models/model.joblib", "reports/plots"]


def test_objects_only_the_remote_has_are_not_a_problem() -> None:
    assert absent_from_remote({"data/raw/table.parquet": "deleted", "models/model.json": "deleted"}) == []


def test_an_empty_status_means_the_remote_lacks_nothing() -> None:
    assert absent_from_remote({}) == []
