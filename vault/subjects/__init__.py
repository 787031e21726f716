"""Subjects: the people the vault holds data about, their encrypted fields, and crypto-shredding.

Modules:

* :mod:`vault.subjects.service`: the subject service: create, read, update, reveal, shred, list;
* :mod:`vault.subjects.repository`: the subjects' tables as other packages reach them.

Import the modules themselves: this package imports nothing, so that its repository, low in the
vault's layers, can be used from below the service without a loop.
"""
