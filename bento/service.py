"""The churn prediction service.

The request model is generated from the feature schema stored with the model, and the decision
threshold comes from the model's metadata, so the service cannot disagree with training.

Every request, single or batch, goes through one adaptive-batching queue, so concurrent requests
share one model call: the model's cost is mostly per call, not per row. The model runs in a
process of its own, so it never waits for the event loop's GIL, nor the event loop for it
(bench/README.md).
"""

import gc
import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Annotated, Any

import bentoml
from bentoml._internal.marshal.dispatcher import CorkDispatcher, NonBlockSema
from bentoml.exceptions import ServiceUnavailable
from prometheus_client import Counter, Histogram
from pydantic import Field

from mlloop.core.schema import FeatureSchema
from mlloop.serving.bento_model import (
    LOG_DIRECTORY_VARIABLE,
    METADATA_FILE,
    MODEL_FILE,
    MODEL_NAME,
    service_settings,
)
from mlloop.serving.contract import Prediction, Predictions, customer_model, customer_record
from mlloop.serving.inference_log import InferenceLog, prediction_id
from mlloop.serving.model_process import ModelProcess
from mlloop.serving.request_guard import RequestGuard

MODEL = bentoml.models.BentoModel(f"{MODEL_NAME}:latest")
SCHEMA = FeatureSchema.model_validate(json.loads(Path(MODEL.stored.path_of(METADATA_FILE)).read_text())["schema"])
SETTINGS = service_settings(MODEL.stored.info.metadata)
"""params.yaml's serve settings, as `mlloop import-model` stored them with the model (params.yaml explains each)."""
Customer = customer_model(SCHEMA, SETTINGS.max_client_id_chars)
CustomerRecord = customer_record(SCHEMA, SETTINGS.max_client_id_chars)
CLIENT_ID = SCHEMA.id_column
"""The request field holding the caller's id for a customer: logged, never given to the model."""
LOG_DIRECTORY = Path(os.environ.get(LOG_DIRECTORY_VARIABLE, SETTINGS.inference_log_dir))
LOG_FAILURES = Counter(
    "mlloop_inference_log_failures", "Inference log lines dropped (queue full) or not written (disk error)"
)
LOG_UNWRITTEN_AT_SHUTDOWN = Counter(
    "mlloop_inference_log_unwritten_at_shutdown",
    "Inference log lines still queued when the shutdown's drain (serve.log_drain_seconds) ended",
)

LOGGER = logging.getLogger("bentoml")
"""BentoML's own logger, which its server prints and a container's log keeps."""

MODEL_CALL_ROWS = Histogram(
    "mlloop_model_call_rows",
    "Rows per model call: above 1 when concurrent requests were batched together",
    buckets=[2**power for power in range(11)],
)


def _overloaded() -> Any:
    raise ServiceUnavailable("the prediction queue is longer than the request timeout")


@bentoml.service(traffic={"timeout": SETTINGS.request_timeout_seconds}, logging={"access": {"enabled": False}})
class ChurnService:
    """One model process and one batching queue per worker.

    Access logs are off: they cost a fifth of single-row throughput, every prediction is in the
    inference log, and request counts and latencies are on /metrics.
    """

    model = MODEL

    def __init__(self) -> None:
        # On an instance, BentoML has already resolved the class attribute to the stored model.
        self.predictor = ModelProcess(Path(self.model.path_of(MODEL_FILE)), SCHEMA, SETTINGS.model_threads)
        self.threshold = float(self.model.info.metadata["threshold"])
        self.version = str(self.model.tag)
        self.log = InferenceLog(LOG_DIRECTORY, SETTINGS.inference_log_queue_lines, LOG_FAILURES.inc)
        # BentoML's adaptive-batching dispatcher, which it applies only to APIs that take a batch;
        # used directly so /predict keeps its one-customer contract. It sheds (503) only requests
        # that would time out anyway.
        # A plain function is run in BentoML's thread pool, as for a sync API.
        self.queue: Callable[[list[dict[str, Any]]], Awaitable[list[Prediction]]] = CorkDispatcher(
            max_latency_in_ms=round(SETTINGS.request_timeout_seconds * 1000),
            max_batch_size=SETTINGS.max_batch_size,
            fallback=_overloaded,
            get_batch_size=len,
            shared_sema=NonBlockSema(SETTINGS.model_calls_in_flight),
        )(self._predict_requests)  # type: ignore[arg-type,assignment]
        # The imported libraries are long-lived, so keep them out of the garbage collector's passes,
        # and collect less often, since each pass over the objects of requests in flight stalls
        # every request by tens of milliseconds (bench/README.md).
        gc.freeze()
        thresholds = SETTINGS.gc_thresholds
        gc.set_threshold(thresholds.allocations, thresholds.young_collections, thresholds.middle_collections)

    @bentoml.on_shutdown
    def _drain_inference_log(self) -> None:
        """Write the queued lines before the process exits: every answered prediction belongs in the log.

        BentoML runs this on SIGTERM once the requests in flight are answered; what the deadline
        leaves is counted, and logged, since a stopped pod's /metrics can no longer be scraped.
        """
        unwritten = self.log.close(SETTINGS.log_drain_seconds)
        if unwritten:
            LOG_UNWRITTEN_AT_SHUTDOWN.inc(unwritten)
            LOGGER.error(
                "%d inference log lines were still queued after %g s of draining (serve.log_drain_seconds)",
                unwritten,
                SETTINGS.log_drain_seconds,
            )

    @bentoml.on_shutdown
    def _stop_model_process(self) -> None:
        self.predictor.close()

    def _predict_requests(self, requests: Sequence[list[dict[str, Any]]]) -> list[list[Prediction]]:
        """One model call for the rows of all queued requests; one log record per request.

        The model reads only the features, so a row's client id is taken out of it here, for the log alone.
        """
        rows_of_all = [row for rows in requests for row in rows]
        MODEL_CALL_ROWS.observe(len(rows_of_all))
        try:
            probabilities = self.predictor.probabilities(rows_of_all)
        except BrokenProcessPool:
            raise ServiceUnavailable("the model's process exited; it has been restarted, retry the request") from None
        answers = []
        start = 0
        for rows in requests:
            mine = probabilities[start : start + len(rows)]
            start += len(rows)
            decisions = [p >= self.threshold for p in mine]
            request_id = uuid.uuid4().hex
            row_ids = [prediction_id(request_id, position) for position in range(len(rows))]
            client_ids = [row.pop(CLIENT_ID, None) for row in rows]
            self.log.record(request_id, self.version, zip(row_ids, client_ids, rows, mine, decisions, strict=True))
            answers.append(
                [
                    Prediction(
                        churn_probability=p,
                        churn=churn,
                        threshold=self.threshold,
                        model_version=self.version,
                        prediction_id=row_id,
                    )
                    for p, churn, row_id in zip(mine, decisions, row_ids, strict=True)
                ]
            )
        return answers

    @bentoml.api(input_spec=Customer)
    async def predict(self, **customer: Any) -> Prediction:
        """Churn probability and decision for one customer."""
        (answer,) = await self.queue([customer])
        return answer

    @bentoml.api
    async def predict_batch(
        self,
        customers: Annotated[list[CustomerRecord], Field(min_length=1, max_length=SETTINGS.max_batch_size)],
    ) -> Predictions:
        """Churn probabilities for up to max_batch_size customers in one call."""
        return Predictions(predictions=await self.queue(customers))


ChurnService.add_asgi_middleware(
    RequestGuard,
    paths=frozenset({"/predict", "/predict_batch"}),
    max_body_bytes=SETTINGS.max_request_bytes,
)
