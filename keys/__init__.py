"""Key management and cryptography: nothing of subjects or records lives here."""

from keys.aead import Aead
from keys.errors import DecryptionError, KeyNotFoundError, KeyringError, KeysError
from keys.keyset import Keyset, KeyStatus, KeyVersion
from keys.provider import KekProvider, KeyInfo, WrappedKey
from keys.secrets import SecretBytes
from keys.wrap import generate_key, unwrap_key, wrap_key

__all__ = [
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
