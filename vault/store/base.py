"""What the tables of both stores share: the naming convention, column sizes, the UTC timestamp
type, and one declarative base per store.

Each store has its own ``MetaData`` with a naming convention, so constraint names are stable across
backends and migrations. The two stores never hold a foreign key to each other: they may live in
different databases. Every model's ``__repr__`` shows the primary key only: a repr that printed
every column would put ciphertext and wrapped keys into logs and tracebacks.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    Dialect,
    MetaData,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase

__all__ = [
    "NAMING_CONVENTION",
    "SUBJECT_ID_LENGTH",
    "FIELD_NAME_LENGTH",
    "REASON_CODE_LENGTH",
    "AUDIT_PURPOSE_LENGTH",
    "KEK_ID_LENGTH",
    "UtcDateTime",
    "DataBase",
    "KeysBase",
    "RECORD_ID_LENGTH",
    "DOMAIN_LENGTH",
    "KIND_LENGTH",
    "EXTERNAL_REF_LENGTH",
    "TARGET_KIND_LENGTH",
    "HOLD_REFERENCE_LENGTH",
    "REQUEST_ID_LENGTH",
    "RETENTION_TEXT_LENGTH",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


SUBJECT_ID_LENGTH = 36  # a UUID in its canonical text form


FIELD_NAME_LENGTH = 64


REASON_CODE_LENGTH = 40


AUDIT_PURPOSE_LENGTH = 200


KEK_ID_LENGTH = 255


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamp with time zone``; SQLite, which has no time zones, stores the
    UTC wall time. Naive datetimes are refused on the way in, and every value comes back aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class DataBase(DeclarativeBase):
    """Models of the data store."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class KeysBase(DeclarativeBase):
    """Models of the key store."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


RECORD_ID_LENGTH = 36  # a UUID in its canonical text form


DOMAIN_LENGTH = 64


KIND_LENGTH = 80


EXTERNAL_REF_LENGTH = 128


TARGET_KIND_LENGTH = 16


HOLD_REFERENCE_LENGTH = 64


REQUEST_ID_LENGTH = 64


RETENTION_TEXT_LENGTH = 500
