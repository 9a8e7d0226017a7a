"""The churn prediction service.

The request model is generated from the feature schema stored with the model, and the decision
threshold comes from the model's metadata, so the service cannot disagree with training.

Every request, single or batch, goes through one adaptive-batching queue, so concurrent requests
share one model call: the model's cost is mostly per call, not per row. The model runs in a
process of its own, so it never waits for the event loop's GIL, nor the event loop for it
(bench/README.md).

A bento may hold two models (params `ab`, README "Champion and challenger"): the champion, in
production, and the challenger, this commit's. Both run in the one model process, in the same
call: in shadow mode the champion answers and the challenger's probability is logged beside its
answer (params ab.shadow_max_busy: while the model process is that busy, calls leave it out); in
split mode a fixed share of customers, chosen by a hash of their id, is answered by the challenger
(mlloop.serving.routing).

Answers and log lines name each model by its registry version (`churn@v0.2.0`, bento_model.logged_name),
the name `mlloop ab-report` and `mlloop promote` act on.
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
    ab_settings,
    champion_tag,
    logged_name,
    service_settings,
)
from mlloop.serving.contract import Prediction, Predictions, customer_model, customer_record
from mlloop.serving.inference_log import InferenceLog, Variant, prediction_id
from mlloop.serving.model_process import ModelProcess
from mlloop.serving.request_guard import RequestGuard
from mlloop.serving.routing import Router

MODEL = bentoml.models.BentoModel(f"{MODEL_NAME}:latest")
"""This commit's model: the challenger when the bento holds a champion beside it, else the champion."""
SCHEMA = FeatureSchema.model_validate(json.loads(Path(MODEL.stored.path_of(METADATA_FILE)).read_text())["schema"])
SETTINGS = service_settings(MODEL.stored.info.metadata)
"""params.yaml's serve settings, as `mlloop import-model` stored them with the model (params.yaml explains each)."""
AB = ab_settings(MODEL.stored.info.metadata)
"""params.yaml's ab settings, stored with the model likewise."""
CHAMPION_TAG = champion_tag(MODEL.stored.info.metadata)
"""The model in production, which `mlloop import-model` found at the registry's stage prod; None: MODEL is it."""
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

SHADOW_ROWS_SKIPPED = Counter(
    "mlloop_shadow_rows_skipped",
    "Rows the shadow challenger did not score, the model process being busier than ab.shadow_max_busy",
)
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
    if CHAMPION_TAG is not None:  # a class attribute only then: BentoML packs every model the class declares
        champion = bentoml.models.BentoModel(CHAMPION_TAG)

    def __init__(self) -> None:
        # On an instance, BentoML has already resolved the class attributes to the stored models.
        self.models: dict[Variant, Any] = (
            {"champion": self.model} if CHAMPION_TAG is None else {"champion": self.champion, "challenger": self.model}
        )
        self.predictor = ModelProcess(
            {variant: Path(model.path_of(MODEL_FILE)) for variant, model in self.models.items()},
            SCHEMA,
            SETTINGS.model_threads,
        )
        self.thresholds = {variant: float(model.info.metadata["threshold"]) for variant, model in self.models.items()}
        self.versions = {variant: logged_name(model.tag, model.info.labels) for variant, model in self.models.items()}
        self.router = Router(AB, has_challenger=CHAMPION_TAG is not None)
        LOGGER.info(
            "serving %s (ab.mode %s)",
            " and ".join(f"the {variant} {version}" for variant, version in self.versions.items()),
            self.router.mode,
        )
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

        The model reads only the features, so a row's client id is taken out of it here, for the log
        and for routing alone.
        """
        request_ids = [uuid.uuid4().hex for _ in requests]
        row_ids = [
            [prediction_id(request_id, position) for position in range(len(rows))]
            for request_id, rows in zip(request_ids, requests, strict=True)
        ]
        client_ids = [[row.pop(CLIENT_ID, None) for row in rows] for rows in requests]
        rows_of_all = [row for rows in requests for row in rows]
        MODEL_CALL_ROWS.observe(len(rows_of_all))
        keys = (
            [
                client or row
                for ids, clients in zip(row_ids, client_ids, strict=True)
                for row, client in zip(ids, clients, strict=True)
            ]
            if self.router.needs_keys
            else []
        )
        plan = self.router.plan(keys, busy_share=self.predictor.busy_share())
        if plan.shadowed and "challenger" not in plan.scored:
            SHADOW_ROWS_SKIPPED.inc(len(rows_of_all))
        try:
            probabilities = self.predictor.probabilities(rows_of_all, plan.scored)
        except BrokenProcessPool:
            raise ServiceUnavailable("the model's process exited; it has been restarted, retry the request") from None
        answered = plan.answers(probabilities)
        answers = []
        start = 0
        for request_id, rows, ids, clients in zip(request_ids, requests, row_ids, client_ids, strict=True):
            end = start + len(rows)
            variants, mine = answered.variants[start:end], answered.probabilities[start:end]
            shadows = answered.shadow_probabilities[start:end]
            start = end
            thresholds = [self.thresholds[variant] for variant in variants]
            decisions = [p >= threshold for p, threshold in zip(mine, thresholds, strict=True)]
            self.log.record(
                request_id,
                self.versions,
                zip(ids, clients, rows, mine, decisions, variants, shadows, strict=True),
                shadowed=plan.shadowed,
            )
            answers.append(
                [
                    Prediction(
                        churn_probability=p,
                        churn=churn,
                        threshold=threshold,
                        model_version=self.versions[variant],
                        variant=variant,
                        prediction_id=row_id,
                    )
                    for p, churn, threshold, variant, row_id in zip(
                        mine, decisions, thresholds, variants, ids, strict=True
                    )
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
