"""The HTTP API of pseudovault: FastAPI over the vault, with scoped API keys.

Layers: ``api`` -> ``vault`` -> ``keys``. Nothing in ``vault`` imports from here. The app is
built by :func:`api.app.create_app`; ``pseudovault serve`` (:mod:`api.cli`) runs it with uvicorn.
See ``docs/api.md`` for endpoints, scopes, errors and rate limits.
"""
