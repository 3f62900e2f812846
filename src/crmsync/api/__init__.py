"""The service's HTTP API (FastAPI): the host API, the OAuth callback, health."""
