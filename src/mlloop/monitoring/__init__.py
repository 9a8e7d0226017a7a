"""Production monitoring: the inference log's window, the drift check, its issue and report, simulation, fold-in."""
