"""Declarative base, shared column types and the time helper used by every model."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.dialects.mysql import DATETIME, LONGBLOB
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: MySQL/MariaDB tables are utf8mb4 with a binary collation: emoji round-trip, and host ids and tag names that
#: differ only by case or by emoji stay distinct (utf8mb4_unicode_ci weighs all emoji equal).
MYSQL_TABLE = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}

#: An id column: BIGINT on MySQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
BigId = BigInteger().with_variant(Integer(), "sqlite")
MAX_ID = 2 ** 63 - 1  # the largest id (and BIGINT) a row holds: a larger number names nothing

#: Host ids (userid, external_userid, chat id, tag id) fit in 64 characters on both hosts.
HostId = String(64)

#: A time to the microsecond where order within a second matters (MySQL's DATETIME keeps whole seconds).
Moment = DateTime().with_variant(DATETIME(fsp=6), "mysql", "mariadb")

#: Files (images, QR codes): MySQL's BLOB stops at 64 KB.
Blob = LargeBinary().with_variant(LONGBLOB(), "mysql", "mariadb")

class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """Naive UTC: MySQL DATETIME has no zone, so every timestamp is stored as UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Sealed(TypeDecorator):
    """A secret stored encrypted; plain text only in memory. The key comes from the running app."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return current_app.extensions["scrm.secret_box"].seal(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return current_app.extensions["scrm.secret_box"].open(value)
