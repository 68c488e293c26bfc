"""The FastAPI service: thin over the matcher facade (see service.app)."""
