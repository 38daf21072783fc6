"""One module per backend system. Only ``cx_core.actions`` imports these."""
