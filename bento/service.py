"""The churn prediction service.

The request model is generated from the feature schema stored with the model, and the decision
threshold comes from the model's metadata, so the service cannot disagree with training.
"""

import json
import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import bentoml
import joblib
import pandas as pd
from prometheus_client import Counter
from pydantic import Field

from mlloop.contract import Prediction, customer_model
from mlloop.inference_log import InferenceLog
from mlloop.request_guard import RequestGuard
from mlloop.schema import FeatureSchema
from mlloop.serving import LOG_DIRECTORY_VARIABLE, METADATA_FILE, MODEL_FILE, MODEL_NAME

MODEL = bentoml.models.BentoModel(f"{MODEL_NAME}:latest")
SCHEMA = FeatureSchema.model_validate(json.loads(Path(MODEL.stored.path_of(METADATA_FILE)).read_text())["schema"])
Customer = customer_model(SCHEMA)
MAX_BATCH = int(MODEL.stored.info.metadata["max_batch_size"])
LOG_DIRECTORY = Path(os.environ.get(LOG_DIRECTORY_VARIABLE, MODEL.stored.info.metadata["inference_log_dir"]))
LOG_FAILURES = Counter(
    "mlloop_inference_log_failures", "Inference log lines dropped (queue full) or not written (disk error)"
)


@bentoml.service(traffic={"timeout": 30})
class ChurnService:
    """One model, loaded once per worker."""

    model = MODEL

    def __init__(self) -> None:
        # On an instance, BentoML has already resolved the class attribute to the stored model.
        self.pipeline = joblib.load(self.model.path_of(MODEL_FILE))
        self.threshold = float(self.model.info.metadata["threshold"])
        self.version = str(self.model.tag)
        self.log = InferenceLog(LOG_DIRECTORY, LOG_FAILURES.inc)

    def _predict(self, rows: list[dict[str, Any]]) -> list[Prediction]:
        features = pd.DataFrame(rows, columns=SCHEMA.feature_names)
        probabilities = [float(p) for p in self.pipeline.predict_proba(features)[:, 1]]
        decisions = [p >= self.threshold for p in probabilities]
        self.log.record(uuid.uuid4().hex, self.version, zip(rows, probabilities, decisions, strict=True))
        return [
            Prediction(churn_probability=p, churn=churn, threshold=self.threshold, model_version=self.version)
            for p, churn in zip(probabilities, decisions, strict=True)
        ]

    @bentoml.api(input_spec=Customer)
    def predict(self, **customer: Any) -> Prediction:
        """Churn probability and decision for one customer."""
        return self._predict([customer])[0]

    @bentoml.api
    def predict_batch(
        self,
        customers: Annotated[list[Customer], Field(min_length=1, max_length=MAX_BATCH)],
    ) -> list[Prediction]:
        """Churn probabilities for up to max_batch_size customers in one call."""
        return self._predict([customer.model_dump() for customer in customers])


ChurnService.add_asgi_middleware(
    RequestGuard,
    paths=frozenset({"/predict", "/predict_batch"}),
    max_body_bytes=int(MODEL.stored.info.metadata["max_request_bytes"]),
)
