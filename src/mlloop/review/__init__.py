"""The pull-request loop: compare the PR's model with its baseline, check the gate, write the report."""
