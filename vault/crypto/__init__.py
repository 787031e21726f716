"""The vault's keys over the stores: data keys and epochs, lookup keys, signing keys, the shred ledger.

* :mod:`vault.crypto.keystore`: the key hierarchy (root KEK -> epoch keys -> subject data keys),
  shredding, rotation and rewrap;
* :mod:`vault.crypto.cache`: the bounded cache of unwrapped keys;
* :mod:`vault.crypto.ledger`: the external shred ledger that outlives a restored backup;
* :mod:`vault.crypto.lookup`: versioned lookup keys that pseudonyms are derived under;
* :mod:`vault.crypto.signing`: Ed25519 signing keys for audit checkpoints and receipts.

The primitives are in the key layer (:mod:`keys`); this package keeps their keys in the key store.
Everything above imports the module it needs; this package imports nothing.
"""
