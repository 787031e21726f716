"""Key management and cryptography: nothing of subjects or records lives here."""

from pseudovault.keys.aead import Aead
from pseudovault.keys.errors import DecryptionError, KeyNotFoundError, KeyringError, KeysError
from pseudovault.keys.keyring import Argon2Params, LocalKeyring
from pseudovault.keys.keyset import Keyset, KeyStatus, KeyVersion
from pseudovault.keys.provider import KekProvider, KeyInfo, WrappedKey
from pseudovault.keys.pseudonym import Pseudonymizer, derive_kind_key, hmac_sha256
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.signing import SigningKey, verify_signature
from pseudovault.keys.wrap import generate_key, unwrap_key, wrap_key

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
