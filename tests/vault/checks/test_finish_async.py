"""vault.checks.CheckService.finish_async on PostgreSQL: the decisions of ``finish`` (hits, misses,
look-alikes, lazy re-indexing after a lookup-key rotation), a kept connection the server ended let
go before use, the retry on a connection the server dropped, a cancelled check that does not keep its connection, one pool per event loop, and
``close`` closing the connections."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from records_support import EMAIL, IP, PHONE, scalar
from sqlalchemy import text

from pseudovault.vault.checks import service as check_service
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import UnavailableError
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls

pytestmark = pytest.mark.postgres

CYRILLIC = ("email", "j\u0430ck@shop.kr")  # skeleton jack@shop.kr
SIGNUPS = [
    [EMAIL],
    [PHONE],
    [IP],
    [("email", "nobody@else.example")],
    [("email", "jack@shop.kr")],  # looks like the banned Cyrillic one
    [EMAIL, PHONE, ("device_id", "dev-unknown-1")],
    [("phone", "+82 10-9999-0000")],  # a revoked ban
]


@pytest.fixture
def pg_vault(postgres_urls: StoreUrls, provider: Any, clock: FrozenClock) -> Iterator[Vault]:
    with Vault.create(provider, postgres_urls.data, postgres_urls.keys, clock=clock) as vault:
        vault.records.create([EMAIL, PHONE], category="fraudulent_transaction", reason_code="fraud")
        vault.records.create([CYRILLIC], category="fraudulent_transaction", reason_code="fraud")
        revoked = vault.records.create([("phone", "+82 10-9999-0000")], category="fraudulent_transaction", reason_code="fraud")
        vault.records.revoke(revoked, reason_code="appeal_upheld")
        yield vault


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every asyncio connection the check service opens, in order."""
    made: list[Any] = []
    real = check_service.postgres_async_connect

    async def recording(engine: Any) -> Any:
        connection = await real(engine)
        made.append(connection)
        return connection

    monkeypatch.setattr(check_service, "postgres_async_connect", recording)
    return made


def _finish(vault: Vault, signup: list[tuple[str, str]]) -> Any:
    return vault.checks.finish_async(vault.checks.prepare(signup))


def test_the_decisions_are_those_of_finish(pg_vault: Vault, opened: list[Any]) -> None:
    async def every() -> list[Any]:
        return [await _finish(pg_vault, signup) for signup in SIGNUPS]

    answers = asyncio.run(every())
    assert answers == [pg_vault.checks.check(signup) for signup in SIGNUPS]
    assert [a.decision for a in answers] == ["deny", "deny", "allow", "allow", "review", "deny", "allow"]
    assert len(opened) == 1  # one connection, kept between checks


def test_a_match_under_an_older_lookup_key_is_reindexed(pg_vault: Vault) -> None:
    record_id = pg_vault.checks.check([EMAIL]).matches[0].record_id
    assert pg_vault.lookup.rotate() == 2

    def under_v2() -> int:
        return int(
            scalar(
                pg_vault.data_engine,
                "SELECT COUNT(*) FROM record_identifiers WHERE record_id = :r AND lookup_version = 2 AND NOT lookalike",
                r=record_id,
            )
        )

    assert under_v2() == 0
    assert asyncio.run(_finish(pg_vault, [EMAIL])).decision == "deny"
    assert under_v2() == 1  # written by the check, after it read
    assert asyncio.run(_finish(pg_vault, [EMAIL, PHONE])).decision == "deny"
    assert under_v2() == 2


def _terminate_others(vault: Vault, *, wait_ms: int = 0) -> int:
    """Terminate every other connection to the data store; with ``wait_ms``, wait (up to that)
    until each server process has ended, so that its socket is closed when this returns."""
    with vault.data_engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid, :wait)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ),
                {"wait": wait_ms},
            ).scalar_one()
        )


def test_a_connection_terminated_while_kept_is_not_tried(
    pg_vault: Vault, opened: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A kept connection whose server process ended while it waited (its socket closed) is let go
    before a check uses it, on the event loop's connections and the worker threads' alike: the
    check is answered on a new connection at its first try, with no failed query to retry."""
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(_finish(pg_vault, [EMAIL])).decision == "deny"
        assert pg_vault.checks.check([EMAIL]).decision == "deny"
        assert _terminate_others(pg_vault, wait_ms=5000) >= 2
        with caplog.at_level("WARNING", logger=check_service.__name__):
            assert loop.run_until_complete(_finish(pg_vault, [EMAIL])).decision == "deny"
            assert pg_vault.checks.check([EMAIL]).decision == "deny"
        assert not [r for r in caplog.records if "retrying" in r.getMessage()]
        assert len(opened) == 2 and opened[0].closed and not opened[1].closed
    finally:
        loop.close()


def test_a_dropped_connection_is_retried_once_then_unavailable(
    pg_vault: Vault, opened: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the query's own failure and its retry: a termination the socket does not show yet (the
    # server process still ending), as the check service sees it when it is not closed_while_idle
    monkeypatch.setattr(check_service, "closed_while_idle", lambda connection: False)
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(_finish(pg_vault, [EMAIL])).decision == "deny"
        assert _terminate_others(pg_vault, wait_ms=5000) >= 1
        assert loop.run_until_complete(_finish(pg_vault, [EMAIL])).decision == "deny"  # on a new connection
        assert len(opened) == 2 and opened[0].closed and not opened[1].closed

        assert _terminate_others(pg_vault) >= 1

        async def refused(engine: Any) -> Any:  # the server is gone: nothing listens
            return await psycopg.AsyncConnection.connect("postgresql://postgres@127.0.0.1:1/test", connect_timeout=2)

        monkeypatch.setattr(check_service, "postgres_async_connect", refused)
        with pytest.raises(UnavailableError) as info:
            loop.run_until_complete(_finish(pg_vault, [EMAIL]))
        assert "cannot be reached" in str(info.value) and "127.0.0.1" not in str(info.value)
        assert opened[1].closed
    finally:
        loop.close()


def test_a_cancelled_check_closes_its_connection_and_frees_its_slot(pg_vault: Vault, opened: list[Any]) -> None:
    locker = pg_vault.data_engine.connect()
    locker.execute(text("LOCK TABLE record_identifiers IN ACCESS EXCLUSIVE MODE"))  # the lookup waits

    async def cancel_one() -> None:
        task = asyncio.create_task(_finish(pg_vault, [EMAIL]))
        for _ in range(200):  # until it waits on the server
            await asyncio.sleep(0.01)
            if opened:
                break
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        pool = pg_vault.checks._async_pool()
        assert pool.idle == [] and opened[0].closed
        assert pool.slots._value == check_service.ASYNC_CONNECTIONS  # its slot is back
        locker.rollback()
        locker.close()
        assert (await _finish(pg_vault, [EMAIL])).decision == "deny"
        assert len(opened) == 2 and pool.idle == [opened[1]]

    try:
        asyncio.run(cancel_one())
    finally:
        locker.close()


def test_each_event_loop_has_its_connections_and_close_closes_them(pg_vault: Vault, opened: list[Any]) -> None:
    loops = [asyncio.new_event_loop() for _ in range(2)]
    answers: list[str] = []
    errors: list[BaseException] = []

    def run(loop: asyncio.AbstractEventLoop) -> None:
        try:
            for _ in range(5):
                answers.append(loop.run_until_complete(_finish(pg_vault, [EMAIL])).decision)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(loop,)) for loop in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and answers == ["deny"] * 10
    assert len(opened) == 2 and not any(c.closed for c in opened)  # one per loop
    pg_vault.checks.close()
    assert all(c.closed for c in opened)
    for loop in loops:
        loop.close()


def test_a_loop_that_goes_takes_its_connections(pg_vault: Vault, opened: list[Any]) -> None:
    assert asyncio.run(_finish(pg_vault, [PHONE])).decision == "deny"
    import gc

    gc.collect()
    assert len(opened) == 1 and opened[0].closed
