"""The two stores: engines and sessions, the tables of each store, migrations, maintenance.

* :mod:`vault.store.db`: engines, sessions, transactions with retry, bulk inserts;
* :mod:`vault.store.models`: the tables of the data store and of the key store;
* :mod:`vault.store.migrate`: Alembic migrations of both stores, run programmatically;
* :mod:`vault.store.vacuum`: deferred vacuum of the key store after shredding.

Everything above imports the module it needs; this package imports nothing.
"""
