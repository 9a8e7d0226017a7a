"""The scenarios params.yaml declares are the user's own, over the columns of the table it reads: each must
fit schema.yaml, or `make simulate` refuses them all. A table switched in with the demo's scenarios left in
params.yaml fails here, naming each scenario, shift and column, rather than at the first simulation."""

from mlloop.config import Params
from mlloop.core.schema import FeatureSchema
from mlloop.monitoring.shifts import check_scenarios


def test_every_scenario_params_declares_fits_the_schema_of_the_table(
    project_params: Params, project_schema: FeatureSchema
) -> None:
    check_scenarios(project_params.simulate.scenarios, project_schema, project_params.data.schema_file)
