"""The vault as a whole, driven by a Hypothesis state machine on SQLite and PostgreSQL.

Rules create subjects, update and delete fields, read, shred, rotate the root KEK and the epoch,
rewrap, clear the cache and move the clock past the cache TTL. Invariants: a shredded subject is
never readable again (nor updatable, nor "existing"), and every live subject reads back exactly
what was stored, both through the vault under test (with its key cache) and through a second
vault over the same stores without a cache (a fresh process: every read goes to the key store
and the provider). One pair of vaults serves every example; each starts from emptied stores.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from canary import CANARY_PII
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from machine_support import run_machine
from sqlalchemy import text

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import NotFoundError
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls

CACHE_TTL = timedelta(seconds=60)

names = st.sampled_from(["name", "email", "phone", "national_id", "note_2"])
values = st.one_of(st.just(CANARY_PII), st.text(min_size=1, max_size=12))
field_maps = st.dictionaries(names, values, max_size=3)


def _empty_stores(vault: Vault) -> None:
    with vault.data_engine.begin() as connection:
        for table in ("subject_fields", "subjects", "tombstones"):
            connection.execute(text(f"DELETE FROM {table}"))
    with vault.keys_engine.begin() as connection:
        for table in ("subject_keys", "shred_ledger", "wrapping_keys"):
            connection.execute(text(f"DELETE FROM {table}"))
    vault.cache.clear()
    vault.keys.ensure_epoch()


class VaultMachine(RuleBasedStateMachine):
    vault: Vault
    fresh: Vault  # the same stores, no cache
    provider: FakeKmsProvider
    clock: FrozenClock

    subjects = Bundle("subjects")

    def __init__(self) -> None:
        super().__init__()
        _empty_stores(self.vault)
        self.live: dict[str, dict[str, str]] = {}
        self.shredded: set[str] = set()

    @rule(target=subjects, fields=field_maps)
    def create(self, fields: dict[str, str]) -> str:
        subject_id = self.vault.subjects.create(fields)
        self.live[subject_id] = dict(fields)
        return subject_id

    @rule(subject_id=subjects, name=names, value=st.none() | values)
    def update(self, subject_id: str, name: str, value: str | None) -> None:
        if subject_id in self.shredded:
            with pytest.raises(NotFoundError):
                self.vault.subjects.update(subject_id, {name: value})
            return
        self.vault.subjects.update(subject_id, {name: value})
        if value is None:
            self.live[subject_id].pop(name, None)
        else:
            self.live[subject_id][name] = value

    @rule(subject_id=subjects, wanted=st.sets(names, max_size=3))
    def read_some(self, subject_id: str, wanted: set[str]) -> None:
        if subject_id in self.shredded:
            with pytest.raises(NotFoundError):
                self.vault.subjects.read(subject_id, wanted)
            return
        expected = {k: v for k, v in self.live[subject_id].items() if k in wanted}
        assert self.vault.subjects.read(subject_id, wanted) == expected

    @rule(subject_id=subjects)
    def shred(self, subject_id: str) -> None:
        result = self.vault.subjects.shred(subject_id)
        assert result.already == (subject_id in self.shredded)
        self.live.pop(subject_id, None)
        self.shredded.add(subject_id)

    @rule()
    def rotate_epoch(self) -> None:
        self.vault.keys.rotate_epoch()

    @rule()
    def rotate_root_key(self) -> None:
        self.provider.rotate()

    @rule(batch_size=st.integers(min_value=1, max_value=3))
    def rewrap(self, batch_size: int) -> None:
        report = self.vault.keys.rewrap(batch_size=batch_size)
        assert report.root_key_ids_in_use == (self.provider.primary_key_id,)
        epochs = self.vault.keys.epochs()
        assert [e.epoch for e in epochs if e.status == "enabled"] == [self.vault.keys.current_epoch()]
        assert sum(e.data_keys for e in epochs) == len(self.live)

    @rule()
    def clear_cache(self) -> None:
        self.vault.cache.clear()

    @rule()
    def pass_the_cache_ttl(self) -> None:
        self.clock.advance(CACHE_TTL)

    @invariant()
    def shredded_subjects_are_never_readable(self) -> None:
        for subject_id in self.shredded:
            for vault in (self.vault, self.fresh):
                with pytest.raises(NotFoundError):
                    vault.subjects.read(subject_id)
                with pytest.raises(NotFoundError):
                    vault.keys.data_key(subject_id)
                assert not vault.subjects.exists(subject_id)
            assert f"dek/{subject_id}" not in self.vault.cache

    @invariant()
    def live_subjects_read_back_what_was_stored(self) -> None:
        for subject_id, fields in self.live.items():
            assert self.vault.subjects.read(subject_id) == fields
            assert self.fresh.subjects.read(subject_id) == fields
        assert self.vault.subjects.count() == len(self.live)


def _run(store_urls: StoreUrls, *, max_examples: int, steps: int) -> None:
    clock = FrozenClock()
    provider = FakeKmsProvider(now=clock.now())
    with (
        Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, cache_ttl=CACHE_TTL) as vault,
        Vault.open(provider, store_urls.data, store_urls.keys, clock=clock, cache_size=0) as fresh,
    ):

        class Machine(VaultMachine):
            pass

        Machine.vault, Machine.fresh, Machine.provider, Machine.clock = vault, fresh, provider, clock
        run_machine(Machine, max_examples=max_examples, steps=steps)


def test_vault_state_machine_sqlite(sqlite_urls: StoreUrls) -> None:
    _run(sqlite_urls, max_examples=30, steps=20)


@pytest.mark.postgres
def test_vault_state_machine_postgres(postgres_urls: StoreUrls) -> None:
    _run(postgres_urls, max_examples=10, steps=15)
