"""mlloop: a GitHub-native MLOps loop around one tabular model."""
