"""A smoke test of a running service: the same checks locally, against staging and production.

It checks readiness, one prediction, one batch, and that a bad request is refused with 400.
"""

from typing import Any

from mlloop.core.schema import FeatureSchema
from mlloop.errors import SmokeFailedError
from mlloop.serving import client


def example_customer(schema: FeatureSchema) -> dict[str, Any]:
    """A customer every schema allows: each number at its minimum (or 0), each category its first label."""
    customer: dict[str, Any] = {}
    for name, numeric in schema.numeric_features.items():
        low = numeric.min if numeric.min is not None else 0
        customer[name] = int(low) if numeric.type == "integer" else float(low)
    for name, categorical in schema.categorical_features.items():
        customer[name] = categorical.categories[0]
    return {name: customer[name] for name in schema.feature_names}


def _call(url: str, timeout_seconds: float, body: Any | None = None) -> tuple[int, Any]:
    try:
        return client.call(url, body, timeout_seconds)
    except OSError as error:
        raise SmokeFailedError(f"{url}: cannot connect ({error})") from error


def _expect(condition: bool, what: str, answer: Any) -> None:
    if not condition:
        raise SmokeFailedError(f"{what}; got {str(answer)[:500]}")


def _check_prediction(answer: Any) -> None:
    _expect(isinstance(answer, dict) and 0 <= answer.get("churn_probability", -1) <= 1, "probability in [0, 1]", answer)
    expected = answer["churn_probability"] >= answer.get("threshold", 2)
    _expect(answer.get("churn") == expected, "churn == (churn_probability >= threshold)", answer)
    _expect(bool(answer.get("model_version")), "a model_version", answer)


def run_smoke(url: str, schema: FeatureSchema, timeout_seconds: float) -> list[str]:
    """Run every check against `url`, waiting up to `timeout_seconds` for each answer; return what
    passed, or raise SmokeFailedError at the first failure.
    """
    base = url.rstrip("/")
    customer = example_customer(schema)
    passed = []
    status, answer = _call(f"{base}/readyz", timeout_seconds)
    _expect(status == 200, f"GET {base}/readyz answers 200", (status, answer))
    passed.append("ready")
    status, answer = _call(f"{base}/predict", timeout_seconds, customer)
    _expect(status == 200, f"POST {base}/predict answers 200", (status, answer))
    _check_prediction(answer)
    passed.append(f"predict: churn_probability {answer['churn_probability']:.4f} ({answer['model_version']})")
    status, answers = _call(f"{base}/predict_batch", timeout_seconds, {"customers": [customer, customer]})
    batch = answers.get("predictions") if isinstance(answers, dict) else None
    _expect(status == 200 and isinstance(batch, list) and len(batch) == 2, "predict_batch answers 2 rows", answers)
    for batch_answer in batch:  # type: ignore[union-attr]
        _check_prediction(batch_answer)
    passed.append("predict_batch: 2 rows")
    status, answer = _call(f"{base}/predict", timeout_seconds, customer | {schema.feature_names[0]: "not a value"})
    _expect(status == 400, "a bad request is refused with 400", (status, answer))
    passed.append("bad request refused with 400")
    return passed
