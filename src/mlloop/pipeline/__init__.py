"""The DVC pipeline: reading and checking data, measuring the model, plotting, and the stages dvc.yaml runs."""
