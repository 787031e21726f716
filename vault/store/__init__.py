"""The two stores: engines and sessions, the tables of each store, migrations, maintenance.

* :mod:`vault.store.db`: engines, sessions, transactions with retry, bulk inserts;
* :mod:`vault.store.base`: what the tables of both stores share (naming, sizes, UTC timestamps);
* :mod:`vault.store.data_models`, :mod:`vault.store.key_models`: the tables of each store;
* :mod:`vault.store.migrate`: Alembic migrations of both stores, run programmatically;
* :mod:`vault.store.vacuum`: deferred vacuum of the key store after shredding.

Everything above imports the module it needs; this package imports nothing.
"""
