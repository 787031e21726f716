"""Key management and cryptography: nothing of subjects or records lives here."""

from keys.aead import Aead
from keys.errors import DecryptionError, KeyNotFoundError, KeyringError, KeysError
from keys.keyring import Argon2Params, LocalKeyring
from keys.keyset import Keyset, KeyStatus, KeyVersion
from keys.provider import KekProvider, KeyInfo, WrappedKey
from keys.pseudonym import Pseudonymizer, derive_kind_key, hmac_sha256
from keys.secrets import SecretBytes
from keys.signing import SigningKey, verify_signature
from keys.wrap import generate_key, unwrap_key, wrap_key

__all__ = [
    "Argon2Params",
    "LocalKeyring",
    "Pseudonymizer",
    "SigningKey",
    "derive_kind_key",
    "hmac_sha256",
    "verify_signature",
    "Aead",
    "DecryptionError",
    "KekProvider",
    "KeyInfo",
    "KeyNotFoundError",
    "KeyStatus",
    "KeyVersion",
    "KeyringError",
    "Keyset",
    "KeysError",
    "SecretBytes",
    "WrappedKey",
    "generate_key",
    "unwrap_key",
    "wrap_key",
]
