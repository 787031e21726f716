"""Request and response bodies of the keys endpoints (:mod:`api.routers.keys`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from pseudovault.api.schemas.common import ResponseModel

__all__ = ["RootKeyVersion", "Provider", "Epoch", "SigningKey", "LookupKeyVersion", "Horizon", "KeyStatus", "Rotation", "RewrapResult"]


class RootKeyVersion(ResponseModel):
    key_id: str = Field(examples=["local:2"])
    status: str = Field(examples=["enabled"])
    primary: bool
    created_at: str


class Provider(ResponseModel):
    kind: str = Field(examples=["local"])
    primary_key_id: str = Field(examples=["local:2"])
    keys: list[RootKeyVersion]


class Epoch(ResponseModel):
    epoch: int
    kek_id: str
    status: str
    current: bool
    created_at: datetime
    destroyed_at: datetime | None
    data_keys: int


class SigningKey(ResponseModel):
    key_id: str = Field(examples=["ed25519:3f9c0a1b2c3d4e5f"])
    purpose: str = Field(examples=["audit"])
    kek_id: str
    status: str
    public_key: str = Field(description="The raw Ed25519 public key, hex.")
    created_at: datetime


class LookupKeyVersion(ResponseModel):
    version: int
    kek_id: str
    status: str
    primary: bool
    created_at: datetime
    destroyed_at: datetime | None


class Horizon(ResponseModel):
    epoch_max_age_days: float | None = Field(
        description="The current epoch is rotated (and the old keys destroyed) once it is this old; null: never."
    )
    current_epoch: int | None
    current_epoch_created_at: str | None
    next_rotation_at: str | None = Field(description="When the server rotates next; null: never by age.")


class KeyStatus(ResponseModel):
    provider: Provider
    epochs: list[Epoch]
    current_epoch: int | None
    root_key_ids_in_use: list[str] = Field(
        description="Root key versions still wrapping something: any other version may be destroyed at the provider."
    )
    signing_keys: list[SigningKey]
    lookup_keys: list[LookupKeyVersion]
    horizon: Horizon


class Rotation(ResponseModel):
    root_key_id: str = Field(examples=["local:3"])
    epoch: int = Field(examples=[3])


class RewrapResult(ResponseModel):
    data_keys_rewrapped: int
    epoch_keys_rewrapped: int
    epochs_destroyed: int
    lookup_keys_rewrapped: int = 0
    signing_keys_rewrapped: int = 0
    root_key_ids_in_use: list[str]
    root_keys_destroyed: list[str] = Field(
        default_factory=list, description="Root key versions destroyed at the provider: nothing was wrapped under them any more."
    )
