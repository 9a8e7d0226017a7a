"""Serving and delivery: the request contract, the model process, the inference log, the bento, versions, smoke."""
