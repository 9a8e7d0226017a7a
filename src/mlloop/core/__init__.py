"""Pure domain logic: the feature schema, the model, metrics and drift scores. No file, network or git I/O."""
