"""Which models a bento serves: the workspace's alone, or the model in production (the champion,
at the registry's stage `prod`) beside it, the workspace's then being the challenger.

The champion is read at its version's commit: its model and model.json from DVC (the cache, the
remote, or that commit reproduced), its metrics from git. It must read the same features by the
same rules as the workspace's model, since both answer the one request contract the service
declares.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlloop.config import Params
from mlloop.core.schema import FeatureSchema
from mlloop.errors import SourceError
from mlloop.serving.registry import PRODUCTION_STAGE, StagedVersion, version_in_stage
from mlloop.storage import revisions


@dataclass(frozen=True)
class Champion:
    """The model in production, as its version's commit holds it."""

    staged: StagedVersion
    model_md5: str
    model_file: bytes
    metadata: dict[str, Any]
    """Its model.json: threshold, estimator, schema, training data."""
    metrics: dict[str, float]
    """Its metrics.json: the held-out split's metrics when it was trained."""


@dataclass(frozen=True)
class Lineup:
    """The champion a bento holds beside the workspace's model (None: the workspace's is the champion), and why."""

    champion: Champion | None
    reason: str


def _rules(schema: FeatureSchema) -> list[tuple[str, dict[str, Any]]]:
    """What a model reads, in its order: each feature's name and rules (a description is no rule)."""
    return [(name, feature.model_dump(exclude={"description"})) for name, feature in schema.features.items()]


def _differing_features(champion: FeatureSchema, workspace: FeatureSchema) -> list[str]:
    mine, theirs = dict(_rules(champion)), dict(_rules(workspace))
    return sorted(name for name in mine.keys() | theirs.keys() if mine.get(name) != theirs.get(name))


def _read_champion(params: Params, staged: StagedVersion, model_md5: str, schema: FeatureSchema) -> Champion:
    metadata: dict[str, Any] = json.loads(revisions.dvc_output_at(staged.commit, params.paths.model_metadata))
    champion_schema = FeatureSchema.model_validate(metadata["schema"])
    if _rules(champion_schema) != _rules(schema):
        differing = _differing_features(champion_schema, schema) or ["the order of the features"]
        raise SourceError(
            f"the champion {staged.tag} (stage {staged.stage}) and the workspace's model read different features "
            f'({", ".join(differing)}), so they cannot answer the same requests: deploy with ab.mode "off" to '
            "replace the champion"
        )
    metrics_text = revisions.read_at(staged.commit, params.paths.metrics)
    if metrics_text is None:
        raise SourceError(f"the champion {staged.tag} (commit {staged.commit[:12]}) has no {params.paths.metrics}")
    return Champion(
        staged=staged,
        model_md5=model_md5,
        model_file=revisions.dvc_output_at(staged.commit, params.paths.model),
        metadata=metadata,
        metrics=json.loads(metrics_text),
    )


def lineup(params: Params, name: str, model_md5: str | None, model_metadata: Mapping[str, Any]) -> Lineup:
    """The models a bento of the workspace's model (`model_md5`, `model_metadata`) serves, by params `ab`.

    One model, the workspace's, as the champion: with ab.mode "off", with no version at stage prod
    (a repository's first release), or when that version holds this very model. Otherwise two.
    """
    mode = params.ab.mode
    if mode == "off":
        return Lineup(None, 'ab.mode is "off": the bento serves this model alone, as the champion')
    staged = version_in_stage(name, PRODUCTION_STAGE)
    if staged is None:
        return Lineup(
            None,
            f'ab.mode is "{mode}", but no version of {name} is at stage {PRODUCTION_STAGE} (a first release): '
            "the bento serves this model alone, as the champion",
        )
    lock = revisions.read_at(staged.commit, revisions.DVC_LOCK)
    champion_md5 = revisions.locked_md5(lock, params.paths.model) if lock is not None else None
    if champion_md5 is None:
        raise SourceError(
            f"the champion {staged.tag} (stage {staged.stage}, commit {staged.commit[:12]}) records no "
            f"{params.paths.model} in its {revisions.DVC_LOCK}"
        )
    if champion_md5 == model_md5:
        return Lineup(
            None,
            f"this model is {staged.tag}, the version at stage {staged.stage}: "
            "the bento serves it alone, as the champion",
        )
    champion = _read_champion(params, staged, champion_md5, FeatureSchema.model_validate(model_metadata["schema"]))
    return Lineup(
        champion,
        f'ab.mode is "{mode}": the bento serves {staged.tag} (stage {staged.stage}) as the champion and this model '
        "as the challenger",
    )
