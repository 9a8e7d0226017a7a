"""The feature schema as pandera sees it: the rules the validate stage enforces on the raw table.

Apart from core.schema, so that reading the schema (the drift check, every command that loads it) does
not import pandera and pandas, a second of each start.
"""

import pandera.pandas as pa

from mlloop.core.schema import (
    BOTH_CLASSES_RULE,
    NULL_FRACTION_RULE,
    WHOLE_NUMBER_RULE,
    CategoricalFeature,
    FeatureSchema,
    NumericFeature,
)


def _null_fraction_check(limit: float) -> pa.Check:
    return pa.Check(
        lambda column: bool(column.isna().mean() <= limit),
        ignore_na=False,
        name=NULL_FRACTION_RULE,
        error=f"{NULL_FRACTION_RULE}({limit})",
    )


def _feature_column(feature: NumericFeature | CategoricalFeature) -> pa.Column:
    checks = []
    if feature.max_null_fraction > 0:
        checks.append(_null_fraction_check(feature.max_null_fraction))
    if isinstance(feature, CategoricalFeature):
        checks.append(pa.Check.isin(feature.categories))
        return pa.Column(str, checks, nullable=feature.max_null_fraction > 0)
    if feature.type == "integer":
        # Checked as a rule rather than cast to an integer dtype, so each fractional value
        # is reported, and a nullable integer column (stored as floats) still passes.
        checks.append(pa.Check(lambda column: column % 1 == 0, name=WHOLE_NUMBER_RULE))
    if feature.min is not None:
        checks.append(pa.Check.ge(feature.min))
    if feature.max is not None:
        checks.append(pa.Check.le(feature.max))
    return pa.Column("float64", checks, nullable=feature.max_null_fraction > 0, coerce=True)


def dataframe_schema(schema: FeatureSchema) -> pa.DataFrameSchema:
    """The pandera schema that the validate stage enforces on the raw table."""
    classes = [schema.target.positive, schema.target.negative]
    columns = {
        schema.id_column: pa.Column(nullable=False, unique=True),
        **{name: _feature_column(feature) for name, feature in schema.features.items()},
        schema.target.name: pa.Column(
            str,
            [
                pa.Check.isin(classes),
                # A one-class label cannot train a classifier; say so here, not as a traceback in train.
                pa.Check(lambda label: set(classes) <= set(label), name=BOTH_CLASSES_RULE),
            ],
            nullable=False,
        ),
    }
    return pa.DataFrameSchema(columns, strict=True, name="feature schema")
