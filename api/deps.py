"""Dependencies as types: what a handler needs, named in its signature.

``VaultDep`` is the app's open vault, ``MetricsDep`` its Prometheus metrics, ``SettingsDep`` its
settings. Who may call a handler is a dependency too: see api.auth (``SubjectsWrite``,
``Admin``, ...). They are ``async`` on purpose: FastAPI would run a plain function in a worker
thread, a hop every request would pay for nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from pseudovault.api.metrics import Metrics
from pseudovault.api.settings import ApiSettings
from pseudovault.vault.vault import Vault

__all__ = ["VaultDep", "MetricsDep", "SettingsDep"]


async def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


VaultDep = Annotated[Vault, Depends(get_vault)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
