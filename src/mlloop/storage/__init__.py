"""Side effects on files and stores: atomic outputs, pipeline artifacts, git revisions, the DVC remote."""
