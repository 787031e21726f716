"""Hot statements run on the driver's cursor of a unit of work's connection.

SQLAlchemy's ``Connection.execute`` costs about 40 us of CPU per statement here (the execution
context, the result object, the events), where the driver's own ``cursor.execute`` takes 3 to
4 us on SQLite; every write pays it for each of its statements, the audit append alone for three.
A :class:`DriverStatement` is a Core statement compiled once per dialect into the driver's SQL,
with the bind and result processors of its columns, and run on the cursor of the connection the
unit of work already holds, inside its transaction. It keeps what SQLAlchemy's execute gives:

* every value goes through its column's bind processor (a timestamp is stored as SQLAlchemy would
  store it), every result value through its column's result processor;
* a driver error comes out as SQLAlchemy's (``DBAPIError.instance``: ``OperationalError``,
  ``IntegrityError``, ...), which the interfaces map to their answers, with the parameters
  hidden (never a value in a message); a disconnect invalidates the connection, as SQLAlchemy's
  own handling does, so that the pool does not hand it out again;
* while statement events are listened to (``before_cursor_execute``, ``after_cursor_execute``:
  OpenTelemetry's instrumentation, a test that watches the statements) or the engine logs its
  statements (``echo``), the statement runs through ``Connection.execute``, so that they see it.

An expanding (``IN``) list, as :func:`vault.store.db.one_of` renders on SQLite, is expanded as
SQLAlchemy expands it (``IN (?, ?, ?)``, or its empty-set form for an empty list), once per list
length: each length's SQL and placeholder order are kept (up to :data:`MAX_SHAPES` lengths per
statement; past that a call expands its own). A Python-side default, an ``onupdate`` or a
literal-rendered parameter is refused when the statement is first compiled.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.expression import Executable

__all__ = ["ID_BATCH", "DriverStatement", "executemany", "id_batches"]

_Processor = Callable[[Any], Any]

#: how many list lengths of an expanding statement keep their expanded SQL
MAX_SHAPES = 64

_Id = TypeVar("_Id", str, int)

#: the most ids a statement's list takes in the batch reads and writes (see :func:`id_batches`)
ID_BATCH = 1000


def id_batches(ids: Iterable[_Id], size: int = ID_BATCH) -> list[list[_Id]]:
    """``ids`` without repeats, in their order, in lists of at most ``size``: one statement's list
    each."""
    listed = list(dict.fromkeys(ids))
    return [listed[start : start + size] for start in range(0, len(listed), size)]


class _Compiled(NamedTuple):
    sql: str
    positional: bool
    #: per placeholder, in order: the parameter's key (None: the statement's own value), the
    #: index in that parameter's list (None: the value itself), its value when the statement
    #: holds it, the placeholder's name, its bind processor
    slots: tuple[tuple[str | None, int | None, Any, str, _Processor | None], ...]
    returns_rows: bool
    #: per result column, its processor (empty: none has one)
    results: tuple[_Processor | None, ...]
    #: a statement with expanding lists: how to expand it per list length (None: it has none)
    expander: _Expander | None = None


class _Expander:
    """The expanded forms of one compiled statement with expanding lists, by the lengths of its
    lists (the placeholders of a list of n values: n of them, in SQLAlchemy's order)."""

    __slots__ = ("_compiled", "_keys", "_returns_rows", "_results", "_shapes")

    def __init__(self, compiled: Any, returns_rows: bool, results: tuple[_Processor | None, ...]) -> None:
        lists = compiled.post_compile_params
        if any(not bind.required for bind in lists):
            raise ValueError("a DriverStatement takes its IN lists as named parameters (bindparam(key, expanding=True))")
        if any(bind.type._is_tuple_type for bind in lists):
            raise ValueError("a DriverStatement expands lists of single values only (no tuple IN)")
        self._compiled = compiled
        self._keys = tuple(sorted({bind.key for bind in lists}))  # the expanding parameters' keys
        self._returns_rows = returns_rows
        self._results = results
        self._shapes: dict[tuple[int, ...], _Compiled] = {}

    def expand(self, params: Mapping[str, Any]) -> _Compiled:
        try:
            lists = [params[key] for key in self._keys]
        except KeyError as missing:
            raise ValueError(f"a DriverStatement parameter is missing: {missing}") from None
        if not all(isinstance(values, (list, tuple)) for values in lists):
            raise ValueError("a DriverStatement list parameter must be a list or a tuple")
        lengths = tuple(len(values) for values in lists)
        found = self._shapes.get(lengths)
        if found is None:
            found = self._expanded(lengths)
            if len(self._shapes) < MAX_SHAPES:
                self._shapes[lengths] = found
        return found

    def _expanded(self, lengths: tuple[int, ...]) -> _Compiled:
        compiled = self._compiled
        shape: dict[str, Any] = {bind.key: None for bind in compiled.binds.values() if bind.required}
        shape.update({key: [None] * n for key, n in zip(self._keys, lengths, strict=True)})
        state = compiled.construct_expanded_state(shape)
        # an expanded placeholder's name -> (the list's bind name, its index in the list)
        members = {
            member: (name, index)
            for name, expanded in state.parameter_expansion.items()
            for index, member in enumerate(expanded)
        }
        processors = compiled._bind_processors
        slots: list[tuple[str | None, int | None, Any, str, _Processor | None]] = []
        for name in state.positiontup:
            of = members.get(name)
            if of is not None:
                bind = compiled.binds[of[0]]
                slots.append((bind.key, of[1], None, name, processors.get(of[0])))
                continue
            bind = compiled.binds[name]
            key = bind.key if bind.required else None
            slots.append((key, None, None if key is not None else bind.effective_value, name, processors.get(name)))
        return _Compiled(state.statement, True, tuple(slots), self._returns_rows, self._results)


class DriverStatement:
    """A Core statement run on the driver's cursor (see the module docstring)."""

    __slots__ = ("statement", "_compiled", "_lock")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: weakref.WeakKeyDictionary[Dialect, _Compiled] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(dialect)
                if compiled is None:
                    compiled = self._compiled[dialect] = _compile(self.statement, dialect)
        return compiled

    def rows(self, connection: Connection, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run the statement with ``params`` in ``connection``'s transaction; its rows (none for a
        statement that returns none)."""
        if _watched(connection):
            result = connection.execute(self.statement, dict(params or {}))
            return [tuple(row) for row in result] if result.returns_rows else []
        rows, _count = self._execute(connection, params or {})
        return rows

    def run(self, connection: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Run the statement with ``params`` in ``connection``'s transaction; how many rows it
        changed (an UPDATE's or DELETE's count, as the driver reports it)."""
        if _watched(connection):
            return int(connection.execute(self.statement, dict(params or {})).rowcount)
        _rows, count = self._execute(connection, params or {})
        return count

    def _execute(self, connection: Connection, params: Mapping[str, Any]) -> tuple[list[tuple[Any, ...]], int]:
        compiled = self._for(connection.dialect)
        if compiled.expander is not None:
            compiled = compiled.expander.expand(params)
        args = _arguments(compiled, params)
        driver = connection.connection.driver_connection
        cursor = driver.cursor()  # type: ignore[union-attr]  # a live connection has its driver's
        try:
            try:
                cursor.execute(compiled.sql, args)
                rows: list[Any] = cursor.fetchall() if compiled.returns_rows else []
            except Exception as exc:
                _raise(connection, compiled.sql, exc, cursor)
            count = int(cursor.rowcount)
        finally:
            cursor.close()
        results = compiled.results
        if results and rows:
            return [tuple(v if p is None else p(v) for p, v in zip(results, row, strict=True)) for row in rows], count
        return rows, count

    def first(self, connection: Connection, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        """The first row (None when there is none)."""
        rows = self.rows(connection, params)
        return rows[0] if rows else None

    def run_many(self, connection: Connection, params: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per parameter set (the driver's executemany)."""
        if not params:
            return
        if _watched(connection):
            connection.execute(self.statement, [dict(p) for p in params])
            return
        compiled = self._for(connection.dialect)
        if compiled.returns_rows:
            raise ValueError("run_many: the statement returns rows; run it with rows()")
        if compiled.expander is not None:
            raise ValueError("run_many: the statement has list parameters; run it with rows()")
        args = [_arguments(compiled, p) for p in params]
        driver = connection.connection.driver_connection
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            try:
                cursor.executemany(compiled.sql, args)
            except Exception as exc:
                _raise(connection, compiled.sql, exc, cursor)
        finally:
            cursor.close()

    def __repr__(self) -> str:
        return f"DriverStatement({type(self.statement).__name__})"


def executemany(connection: Connection, sql: str, params: Sequence[Any]) -> None:
    """The driver's executemany of ``sql`` (the driver's own SQL, with ``params`` bind-processed
    already, as ``Connection.exec_driver_sql`` takes them) in ``connection``'s transaction, with
    :class:`DriverStatement`'s error handling, and through ``exec_driver_sql`` while watched."""
    if not params:
        return
    if _watched(connection):
        connection.exec_driver_sql(sql, list(params))
        return
    driver = connection.connection.driver_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        try:
            cursor.executemany(sql, params)
        except Exception as exc:
            _raise(connection, sql, exc, cursor)
    finally:
        cursor.close()


def _watched(connection: Connection) -> bool:
    """Whether SQLAlchemy must see the statement: statement events listened to, or echo on."""
    dispatch = connection.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute or getattr(connection, "_echo", False))


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled: Any = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    if compiled.insert_prefetch or compiled.update_prefetch:
        raise ValueError("a DriverStatement cannot evaluate Python-side defaults: give every column a value")
    if compiled.literal_execute_params:
        raise ValueError("a DriverStatement takes bind parameters only (no literal-rendered values)")
    positional = bool(compiled.positional)
    if compiled.post_compile_params and not positional:
        raise ValueError("a DriverStatement expands IN lists for a positional driver only")
    names = list(compiled.positiontup) if positional else list(compiled.binds)
    processors = compiled._bind_processors  # the chain SQLAlchemy's execute applies, type decorators included
    escaped = compiled.escaped_bind_names or {}
    slots = []
    for name in names:
        bind = compiled.binds[name]
        if bind.callable is not None:
            raise ValueError("a DriverStatement takes no callable bind values")
        key = bind.key if bind.required else None
        slots.append((key, None, None if key is not None else bind.effective_value, escaped.get(name, name), processors.get(name)))
    results: tuple[_Processor | None, ...] = ()
    columns = compiled._result_columns  # a SELECT's, or an INSERT/UPDATE/DELETE's RETURNING
    returns_rows = bool(columns)
    if returns_rows:
        found = tuple(column.type._cached_result_processor(dialect, None) for column in columns)
        results = found if any(p is not None for p in found) else ()
    expander = _Expander(compiled, returns_rows, results) if compiled.post_compile_params else None
    return _Compiled(compiled.string, positional, tuple(slots), returns_rows, results, expander)


def _arguments(compiled: _Compiled, params: Mapping[str, Any]) -> Any:
    values = []
    try:
        for key, index, fixed, _name, process in compiled.slots:
            value = fixed if key is None else params[key] if index is None else params[key][index]
            values.append(value if process is None else process(value))
    except KeyError as missing:
        raise ValueError(f"a DriverStatement parameter is missing: {missing}") from None
    except Exception as exc:  # a value its column's type refuses: as SQLAlchemy reports it (no values shown)
        raise StatementError(f"({type(exc).__module__}.{type(exc).__name__}) {exc}", compiled.sql, None, exc) from None
    if compiled.positional:
        return tuple(values)
    return {slot[3]: value for slot, value in zip(compiled.slots, values, strict=True)}


def _raise(connection: Connection, sql: str, exc: Exception, cursor: Any) -> None:
    dialect = connection.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    if not isinstance(exc, dbapi_error):
        raise exc
    invalidated = bool(dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor))
    if invalidated:
        connection.invalidate(exc)
    raise DBAPIError.instance(
        sql, None, exc, dbapi_error, hide_parameters=True, connection_invalidated=invalidated, dialect=dialect
    ) from exc
