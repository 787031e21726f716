"""Engines and units of work for the two stores (data store and key store).

Why one module of this size: the engines, the units of work and the two statement helpers
(:func:`one_of`, :func:`insert_rows`) share each backend's decisions (SQLite's ``BEGIN`` and write
lock, PostgreSQL's binary array parameters and their casts), which read best side by side.

Each store is one SQLAlchemy URL. Two backends are supported:

* **SQLite** (``sqlite:///path/to/file.sqlite3``), the default. :func:`make_engine` creates the
  parent directory (mode 0700) and the database file itself with mode 0600 before SQLite opens
  it; SQLite creates its ``-wal`` and ``-shm`` files with the database file's permissions. Every
  connection runs ``journal_mode=WAL``, ``secure_delete=ON`` (deleted content is overwritten with
  zeros, so a shredded key does not linger in free pages), ``foreign_keys=ON``,
  ``busy_timeout`` and ``synchronous=NORMAL``. The driver's own implicit transaction handling is
  switched off: SQLAlchemy emits ``BEGIN`` itself, so a unit of work reads and writes one
  snapshot; a *write* unit of work (``session_scope(engine, write=True)``) begins with
  ``BEGIN IMMEDIATE`` and so takes the write lock up front instead of failing when it upgrades
  from reading to writing while another writer got there first.
* **PostgreSQL** through psycopg 3 (``postgresql+psycopg://...``; a bare ``postgresql://`` is
  taken to mean psycopg 3 as well), with a bounded connection pool whose idle connections are
  checked at checkout without a round trip (:func:`closed_while_idle`). List parameters (the
  arrays of :func:`one_of`) are sent in binary form. :func:`postgres_async_connect` opens
  an asyncio connection to an engine's server with the engine's own parameters and timeouts
  (the API's ban checks wait for their lookup on the event loop with it).

Anything else is refused with :class:`vault.errors.InvalidInputError` naming the URL's scheme
only (a URL may hold a password; it is never echoed, see :func:`redact_url`).

:func:`one_of` is ``column IN (...)`` written so that PostgreSQL gets the whole list as one array
parameter (``column = ANY(:values)``) instead of one bind parameter per value; :func:`insert_rows`
inserts a batch of rows as one statement there (one array parameter per column) instead of one
statement per row.
"""

from __future__ import annotations

import functools
import logging
import operator
import os
import sqlite3
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from select import POLLERR, POLLHUP, POLLIN, poll
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Boolean,
    Engine,
    String,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, StatementError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import operators
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement, Grouping, UnaryExpression
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.sql.visitors import InternalTraversal

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.store.driver import DriverStatement, executemany

__all__ = [
    "closed_while_idle",
    "connection_failure",
    "DbTimeouts",
    "make_engine",
    "session_scope",
    "redact_url",
    "is_sqlite",
    "sqlite_path",
    "checkpoint_sqlite",
    "one_of",
    "one_of_param",
    "insert_rows",
    "insert_from_arrays",
    "array_rows",
    "array_param",
    "postgres_async_connect",
    "BUSY_TIMEOUT_MS",
]

log = logging.getLogger(__name__)

#: how long a SQLite connection waits for a lock before it gives up
BUSY_TIMEOUT_MS = 10_000

_WRITE_OPTION = "pseudovault_write"


def redact_url(url: str | URL) -> str:
    """The URL with its password (if any) replaced by ``***``: safe to show and log."""
    return make_url(url).render_as_string(hide_password=True)


def _parse(url: str | URL) -> URL:
    try:
        return make_url(url)
    except Exception:  # the message of a parse error may quote the URL, password included
        raise InvalidInputError("url", "not a database URL") from None


def is_sqlite(engine_or_url: Engine | str | URL) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else _parse(engine_or_url)
    return url.get_backend_name() == "sqlite"


def sqlite_path(engine_or_url: Engine | str | URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database or another backend."""
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else _parse(engine_or_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _create_sqlite_file(path: Path) -> None:
    """Create the database file with mode 0600 (and its directory with 0700) if it is missing."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _sqlite_engine(url: URL) -> Engine:
    path = sqlite_path(url)
    kwargs: dict[str, Any] = {}
    if path is None:
        # one in-memory database shared by every session of this engine
        kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        _create_sqlite_file(path)
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the driver, decides where transactions begin (see "begin" below)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if path is not None:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS:d}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        sql = "BEGIN IMMEDIATE" if connection.get_execution_options().get(_WRITE_OPTION) else "BEGIN"
        # sent by the driver itself: SQLAlchemy's statement machinery costs several times SQLite's
        # BEGIN, and every unit of work pays it. A failure (the busy timeout ran out) is raised as
        # SQLAlchemy raises it, an OperationalError without parameters.
        try:
            connection.connection.driver_connection.execute(sql)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, None, exc, sqlite3.Error) from None

    return engine


@dataclass(frozen=True)
class DbTimeouts:
    """PostgreSQL's ``statement_timeout`` and ``lock_timeout`` for every connection of an engine,
    in milliseconds (0: none). A statement that runs or waits for a lock longer is cancelled, its
    transaction rolled back, and the caller gets :class:`sqlalchemy.exc.OperationalError` (the API
    answers 503), so a request never commits after its client gave up. SQLite has its busy timeout
    instead (:data:`BUSY_TIMEOUT_MS`)."""

    statement_ms: int = 30_000
    lock_ms: int = 5_000

    def __post_init__(self) -> None:
        for name in ("statement_ms", "lock_ms"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 3_600_000:
                raise ValueError(f"{name} must be an integer from 0 to 3600000")

    def options(self) -> str:
        """The libpq ``options`` that set both for a new connection."""
        return f"-c statement_timeout={self.statement_ms} -c lock_timeout={self.lock_ms}"


#: PostgreSQL engine -> the connect arguments it was made with (for postgres_async_connect)
_CONNECT_ARGS: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()


def _postgres_engine(url: URL, timeouts: DbTimeouts) -> Engine:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    connect_args = {"options": timeouts.options()}
    engine = create_engine(
        url,
        connect_args=connect_args,
        pool_size=5,
        max_overflow=10,
        pool_timeout=30,
        pool_recycle=1800,
    )
    # instead of the pool's pre-ping (a round trip per checkout), a look at the socket: see
    # closed_while_idle
    event.listen(engine, "checkout", _check_idle_connection)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # list parameters (the arrays of one_of) go in binary form: the same array, but psycopg's
        # text form runs every element through a regular expression to quote it, about ten times
        # slower for a list of 1,000 ids
        from psycopg.types.array import ListBinaryDumper

        dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)

    _CONNECT_ARGS[engine] = connect_args
    return engine


def closed_while_idle(dbapi_connection: Any) -> bool:
    """Whether an idle psycopg connection (a pooled one, or one a check keeps; sync or asyncio)
    can no longer be used: closed or broken on this side, or with anything to read on its socket.

    Nothing is sent to an idle connection's server process, and it sends nothing unasked, except
    when it ends the connection (terminated, the server shutting down or restarting: its last
    words and the socket's end arrive, and the socket turns readable), so a readable socket is one
    to let go. No round trip: a check per unit of work and store that costs microseconds, where a
    ping cost one round trip. A connection cut with nothing arriving shows nothing, to this as to
    a ping, until it is used: its statement fails (a 503 at the interfaces), once TCP gives up
    (keepalives bound that while it waits in the pool, docs/operations.md)."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    import psycopg
    from psycopg import pq

    pgconn = dbapi_connection.pgconn
    if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return True
    try:
        poller = poll()
        poller.register(pgconn.socket, POLLIN | POLLERR | POLLHUP)
        return bool(poller.poll(0))
    except (OSError, ValueError, psycopg.OperationalError):  # the socket of a connection that is gone
        return True


def _check_idle_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """The pool's checkout hook: a connection :func:`closed_while_idle` is given up, and the pool
    checks out another (SQLAlchemy's DisconnectionError: the connection is discarded, the pool
    tries again, with a new one if need be)."""
    if closed_while_idle(dbapi_connection):
        raise DisconnectionError("the pooled connection was closed while it was idle")


async def postgres_async_connect(engine: Engine) -> Any:
    """A new ``psycopg.AsyncConnection`` (autocommit) to the server of ``engine`` (one made by
    :func:`make_engine`), with the engine's URL, connect parameters and :class:`DbTimeouts`. It
    is the caller's: not counted by the engine's pool, closed by whoever holds it."""
    if engine.dialect.name != "postgresql":
        raise ValueError("an asyncio connection is for a PostgreSQL store")
    import psycopg

    _args, params = engine.dialect.create_connect_args(engine.url)
    params.update(_CONNECT_ARGS.get(engine, {}))
    connection = await psycopg.AsyncConnection.connect(**params, autocommit=True)
    connection.adapters.register_dumper(list, _list_binary_dumper())
    return connection


def _list_binary_dumper() -> Any:
    from psycopg.types.array import ListBinaryDumper

    return ListBinaryDumper


def make_engine(url: str | URL, timeouts: DbTimeouts | None = None) -> Engine:
    """An engine for one store; see the module docstring for what each backend gets. ``timeouts``
    (PostgreSQL only): :class:`DbTimeouts`, its defaults when None."""
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.drivername not in ("sqlite", "sqlite+pysqlite"):
            raise InvalidInputError("url", "unsupported SQLite driver; use sqlite:///path")
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        if parsed.drivername not in ("postgresql", "postgresql+psycopg"):
            raise InvalidInputError("url", "unsupported PostgreSQL driver; use postgresql+psycopg://")
        return _postgres_engine(parsed, timeouts or DbTimeouts())
    raise InvalidInputError("url", f"unsupported database {backend!r}; use sqlite:/// or postgresql+psycopg://")


def _writer(engine: Engine) -> Engine:
    """``engine`` marked for writing (see :func:`session_scope`), made once per engine."""
    writer: Engine | None = engine.__dict__.get("_pseudovault_writer")
    if writer is None:
        writer = engine.__dict__["_pseudovault_writer"] = engine.execution_options(**{_WRITE_OPTION: True})
    return writer


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """One unit of work: commit when the block ends normally, roll back when it raises.

    ``write=True`` marks a unit of work that will write; on SQLite it takes the write lock at
    ``BEGIN`` (see the module docstring). Objects stay readable after the commit.
    """
    bind = _writer(engine) if write else engine
    session = Session(bind=bind, expire_on_commit=False, autoflush=True)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def checkpoint_sqlite(engine: Engine, *, busy_timeout_ms: int = 200) -> bool:
    """Copy a SQLite store's write-ahead log into the database file and truncate the log.

    Old page images (a deleted row's previous contents among them) stay in the ``-wal`` file
    until it is checkpointed and reset; this does both. Returns False when a reader still needs
    the log after ``busy_timeout_ms`` (the checkpoint is then partial and the log is not
    truncated; SQLite resets it on a later write once no reader needs it) and for stores that are
    not SQLite files. It never waits long: a busy store is not held up for a checkpoint.
    """
    if sqlite_path(engine) is None:
        return False
    # a raw DBAPI connection runs outside any transaction (the driver's autocommit is on, see
    # _on_connect), as a checkpoint must
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms):d}")
            try:
                busy, _log_frames, _checkpointed = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS:d}")
        finally:
            cursor.close()
    finally:
        raw.close()
    if busy:
        log.debug("wal checkpoint of %s was partial: a reader holds the log", redact_url(engine.url))
    return not busy


# --- one_of: IN over a list, one array parameter on PostgreSQL ----------------------------------------


def _array_of(item_type: TypeEngine[Any]) -> ARRAY[Any]:
    """The array type of a parameter holding values of ``item_type``. A VARCHAR(n) loses its length,
    as in SQLAlchemy's own casts of bind parameters (``::VARCHAR``): PostgreSQL cuts a value cast
    to VARCHAR(n) to n characters, so a longer value would compare (or be stored) as its prefix."""
    if isinstance(item_type, String) and not isinstance(item_type, TypeDecorator) and item_type.length is not None:
        item_type = String()
    return ARRAY(item_type)


def array_param(key: str, column: Any) -> BindParameter[Any]:
    """A bind parameter named ``key`` holding a list of values of ``column``'s type, as one array
    on PostgreSQL (``unnest(:key)`` in a statement built once, say): each value is bound as the
    column binds it."""
    expression = column.__clause_element__() if hasattr(column, "__clause_element__") else column
    return bindparam(key, type_=_array_of(expression.type))


class _OneOf(ColumnElement[bool]):
    """``column IN (values)``: rendered as such by default (SQLite), as ``column = ANY(:values)``
    on PostgreSQL. Both forms are built up front and both take part in the statement's cache key
    (their bind parameters are extracted like any others, the values never are), so a cached
    compiled statement is reused with the new values whichever form the dialect renders."""

    __visit_name__ = "pseudovault_one_of"
    inherit_cache = True
    _is_implicitly_boolean = True
    _traverse_internals = [
        ("in_clause", InternalTraversal.dp_clauseelement),
        ("any_clause", InternalTraversal.dp_clauseelement),
    ]
    type = Boolean()

    def __init__(self, column: Any, values: list[Any] | None, key: str | None = None) -> None:
        expression = column.__clause_element__() if hasattr(column, "__clause_element__") else column
        # with ``key`` (one_of_param), both forms share one named parameter whose list is given at
        # execution; only one form is ever rendered, so the name never meets itself in a statement
        # one expanding parameter, as in_(values) makes, without coercing every value on the way
        self.in_clause = expression.in_(bindparam(key, values, type_=expression.type, expanding=True, required=key is not None))
        # an array of the column's own type (VARCHAR[] for a string id, INTEGER[] for an integer
        # one): the comparison is then of like types and the column's index serves it
        self.any_clause = expression == any_(bindparam(key, values, type_=_array_of(expression.type), required=key is not None))

    def _negate(self) -> ColumnElement[bool]:
        return UnaryExpression(Grouping(self), operator=operators.inv)  # NOT (...)


@compiles(_OneOf)
def _compile_one_of(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.in_clause, **kw)


@compiles(_OneOf, "postgresql")
def _compile_one_of_postgresql(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.any_clause, **kw)


def one_of(column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN (values)`` for a list of any length, as one bind parameter on PostgreSQL.

    SQLAlchemy's ``column.in_(values)`` renders one bind parameter per value on every execution,
    and psycopg then parses a query text that grows with the list; with a batch of 1,000 ids that
    costs more than the statement itself. This renders ``column IN (...)`` on SQLite (as ``in_``
    does) and ``column = ANY(:values)`` on PostgreSQL: one array parameter of the column's type,
    a constant query text, the same index lookups. An empty ``values`` matches nothing on both.
    ``~one_of(...)`` is ``NOT (...)``: like ``NOT IN``, it matches no row where ``column`` is NULL.

    The ORM cannot evaluate it in Python, so a bulk UPDATE or DELETE through a session falls back
    from ``synchronize_session="auto"`` to ``"fetch"`` (the matched keys are fetched back); pass
    ``execution_options(synchronize_session=False)`` when the session holds none of the rows.
    """
    return _OneOf(column, list(values))


def one_of_param(column: Any, key: str) -> ColumnElement[bool]:
    """:func:`one_of` whose list is a named parameter given at execution (``{key: [...]}``), for a
    statement built once and executed many times: building and cache-keying a statement costs
    several times what executing a cached one does."""
    return _OneOf(column, None, key)


# --- insert_rows: a batch of rows in one statement on PostgreSQL --------------------------------------

_UNSET = object()


def insert_rows(session: Session, model: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` into the table of ``model`` (a mapped class or a Table) in ``session``.

    Each row maps column names to values (None is NULL), and every row names the same columns.
    A Core INSERT of the table: no autoflush, no ORM events, no objects. Elsewhere it is an
    executemany (one statement per row on the wire); on PostgreSQL it is one statement,
    ``INSERT INTO t (a, b) SELECT a, b FROM unnest(:a, :b) AS x(a, b)``, with one array parameter
    per column, of that column's type (bind processing applies to each value, as for a row); a
    single row is a plain ``INSERT ... VALUES`` there. Either way a duplicate key fails the whole
    batch. A column left out gets its server-side default; one with a Python-side default is
    refused (one statement would evaluate it once for every row).
    """
    if not rows:
        return
    table: Table = model if isinstance(model, Table) else model.__table__
    names = list(rows[0])
    if len(rows) > 1:
        given = rows[0].keys()
        if any(row.keys() != given for row in rows):
            raise ValueError("insert_rows: every row must name the same columns")
    _check_columns(table, tuple(names))
    connection = session.connection()
    if len(rows) == 1:  # one row: a plain INSERT ... VALUES (PostgreSQL plans it in about half the time)
        _row_insert(table, tuple(names)).rows(connection, rows[0])
        return
    postgres = connection.dialect.name == "postgresql"
    if not postgres:
        # the driver's executemany of value tuples, each value through its column's own bind
        # processor: what SQLAlchemy's executemany does, without its per-row parameter handling
        # (half of the cost of inserting an imported record's identifier rows)
        sql, processors = _driver_insert(table, tuple(names), connection.dialect)
        values_of = operator.itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
        processed = [(index, process) for index, process in enumerate(processors) if process is not None]
        params: list[Any] = [values_of(row) for row in rows]
        try:
            if processed:
                # a batch's rows mostly share their timestamps (created_at, a shred's time): each
                # distinct one is processed once (keyed with its zone and fold, which equality
                # ignores but the stored text may not)
                memo: dict[tuple[datetime, Any, int, int], Any] = {}
                for at, values in enumerate(params):
                    changed = list(values)
                    for index, process in processed:
                        value = changed[index]
                        if type(value) is datetime:
                            key = (value, value.tzinfo, value.fold, index)
                            done = memo.get(key, _UNSET)
                            if done is _UNSET:
                                done = memo[key] = process(value)
                            changed[index] = done
                        else:
                            changed[index] = process(value)
                    params[at] = tuple(changed)
        except Exception as exc:  # a value its column's type refuses: as SQLAlchemy reports it (no values shown)
            raise StatementError(f"({type(exc).__module__}.{type(exc).__name__}) {exc}", sql, None, exc) from None
        executemany(connection, sql, params)  # on the driver's cursor (vault.store.driver)
        return
    _array_insert(table, tuple(names)).rows(connection, array_rows(names, rows))


@functools.lru_cache(maxsize=256)
def _driver_insert(table: Table, names: tuple[str, ...], dialect: Any) -> tuple[str, list[Callable[[Any], Any] | None]]:
    """:func:`insert_rows`' INSERT of ``names`` into ``table`` as the driver's SQL with positional
    parameters in the order of ``names``, and each column's bind processor for ``dialect``."""
    compiled = insert(table).values({name: bindparam(name) for name in names}).compile(dialect=dialect)
    if compiled.positiontup is None or list(compiled.positiontup) != list(names):
        raise RuntimeError(f"insert_rows: the INSERT into {table.name} did not compile to positional parameters in order")
    processors: list[Callable[[Any], Any] | None] = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    return compiled.string, processors


@functools.lru_cache(maxsize=256)
def _check_columns(table: Table, names: tuple[str, ...]) -> None:
    """ValueError unless ``names`` are columns of ``table`` and every column left out has no
    Python-side default (checked once per table and columns: a refusal is not cached)."""
    unknown = set(names) - set(table.c.keys())
    if unknown:
        raise ValueError(f"insert_rows: {table.name} has no column(s) {sorted(unknown)}")
    defaulted = [c.key for c in table.c if c.key not in names and c.default is not None]
    if defaulted:
        raise ValueError(f"insert_rows: columns {defaulted} of {table.name} have Python-side defaults; give them")


@functools.lru_cache(maxsize=256)
def _row_insert(table: Table, names: tuple[str, ...]) -> DriverStatement:
    """:func:`insert_rows`' INSERT of one row naming ``names``, run on the driver's cursor."""
    return DriverStatement(insert(table).values({name: bindparam(name) for name in names}))


@functools.lru_cache(maxsize=256)
def _array_insert(table: Table, names: tuple[str, ...]) -> DriverStatement:
    """:func:`insert_rows`' INSERT from ``unnest`` on PostgreSQL, run on the driver's cursor (about
    0.03 ms of CPU less per statement than through SQLAlchemy's execute)."""
    return DriverStatement(_insert_statement(table, names, postgres=True))


@functools.lru_cache(maxsize=256)
def _insert_statement(table: Table, names: tuple[str, ...], *, postgres: bool) -> Executable:
    """The INSERT of :func:`insert_rows`, built once per table, columns and dialect family (see
    :func:`one_of_param` for why): an executemany INSERT elsewhere, on PostgreSQL an INSERT from
    ``unnest`` of one array parameter per column, named ``rows_0``, ``rows_1``, ..."""
    if not postgres:
        return insert(table)
    arrays = [bindparam(f"rows_{i}", type_=_array_of(table.c[name].type)) for i, name in enumerate(names)]
    source = func.unnest(*arrays).table_valued(*names).render_derived()
    return postgresql.insert(table).from_select(list(names), select(*source.c))


def insert_from_arrays(model: Any, names: Sequence[str]) -> postgresql.Insert:
    """PostgreSQL's INSERT of :func:`insert_rows`, to be built once into a statement of the
    caller's own (with WITH parts beside it, or ON CONFLICT, say): ``INSERT INTO t (names) SELECT
    ... FROM unnest(:rows_0, :rows_1, ...)``, executed with ``{f"rows_{i}": [each row's value of
    names[i]]}`` (:func:`array_rows`). An empty list inserts nothing."""
    table: Table = model if isinstance(model, Table) else model.__table__
    _check_columns(table, tuple(names))
    return cast(postgresql.Insert, _insert_statement(table, tuple(names), postgres=True))


def array_rows(names: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The parameters of :func:`insert_from_arrays`' INSERT of ``names`` for ``rows``:
    ``{"rows_0": [each row's names[0]], "rows_1": ...}``."""
    return {f"rows_{i}": [row[name] for row in rows] for i, name in enumerate(names)}


def connection_failure(exc: BaseException) -> str | None:
    """Why a connection to a PostgreSQL store failed, from a SQLAlchemy ``OperationalError``:
    ``"no_database"`` (the server answered: the URL's database does not exist),
    ``"credentials"`` (the server refused the user or its password), ``"unreachable"`` (no server
    answered: not running, another host or port), or None (another error, or not known).

    A failed connection carries no SQLSTATE, only libpq's message, which holds the server's answer
    after ``FATAL:`` (in English, the server's default message language: another language gives
    None). The message itself is never shown: it names hosts, users and databases."""
    if type(exc).__name__ != "OperationalError" or getattr(exc, "statement", None) is not None:
        return None
    said = str(getattr(exc, "orig", ""))
    if "FATAL:" in said:
        if 'database "' in said and "does not exist" in said:
            return "no_database"
        if "authentication" in said or 'role "' in said:
            return "credentials"
        return None
    if "Connection refused" in said or "timeout expired" in said or "could not translate host name" in said:
        return "unreachable"
    return None
