"""Which root KEK provider to use, from one setting (``PSEUDOVAULT_KEK``): a URI.

::

    keyring:PATH                                     the local keyring file (keys.keyring)
    pkcs11:module=PATH;token=LABEL;key=LABEL[;mechanism=kwp|gcm]
                                                     a PKCS#11 token (keys.pkcs11); the PIN comes
                                                     from PSEUDOVAULT_PKCS11_PIN, never the URI
    aws-kms:KEY_ID_OR_ARN_OR_ALIAS                   AWS KMS (keys.awskms), with the standard AWS
                                                     settings (region, credentials, AWS_ENDPOINT_URL)

A URI that does not parse is a ``ValueError`` whose message says what is wrong and never quotes
more than the scheme. The parsed form prints without secrets (it holds none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KekUri", "parse_kek_uri", "KINDS"]

KINDS = ("keyring", "pkcs11", "aws-kms")
_PKCS11_FIELDS = {"module", "token", "key", "mechanism"}
_LABEL = re.compile(r"[A-Za-z0-9 ._:@+-]{1,64}")
_KMS_TARGET = re.compile(r"[A-Za-z0-9:/_.+=@-]{1,2048}")


@dataclass(frozen=True)
class KekUri:
    kind: str
    path: Path | None = None  # keyring
    module: str | None = None  # pkcs11
    token: str | None = None
    key: str | None = None
    mechanism: str = "kwp"
    target: str | None = None  # aws-kms

    def __str__(self) -> str:
        if self.kind == "keyring":
            return f"keyring:{self.path}"
        if self.kind == "pkcs11":
            text = f"pkcs11:module={self.module};token={self.token};key={self.key}"
            return text + (f";mechanism={self.mechanism}" if self.mechanism != "kwp" else "")
        return f"aws-kms:{self.target}"


def parse_kek_uri(text: str) -> KekUri:
    if not isinstance(text, str) or ":" not in text:
        raise ValueError(f"expected one of {', '.join(k + ':...' for k in KINDS)}")
    scheme, _, rest = text.partition(":")
    if scheme == "keyring":
        if not rest.strip():
            raise ValueError("keyring: needs the keyring file's path, e.g. keyring:/var/lib/pseudovault/keyring.json")
        return KekUri("keyring", path=Path(rest).expanduser())
    if scheme == "pkcs11":
        fields: dict[str, str] = {}
        for part in rest.split(";"):
            name, sep, value = part.partition("=")
            name = name.strip()
            if name.lower() in ("pin", "pin-value", "pin_value"):
                raise ValueError("pkcs11: the PIN goes in PSEUDOVAULT_PKCS11_PIN, not in the URI")
            if not sep or name not in _PKCS11_FIELDS:
                raise ValueError("pkcs11: takes module=PATH;token=LABEL;key=LABEL[;mechanism=kwp|gcm]")
            if name in fields:
                raise ValueError(f"pkcs11: {name}= given more than once")
            fields[name] = value
        missing = [n for n in ("module", "token", "key") if not fields.get(n)]
        if missing:
            raise ValueError(f"pkcs11: missing {', '.join(f + '=' for f in missing)}")
        for name in ("token", "key"):
            if not _LABEL.fullmatch(fields[name]) or (name == "key" and "/" in fields[name]):
                raise ValueError(f"pkcs11: {name}= must be 1 to 64 letters, digits, spaces or ._:@+-")
        mechanism = fields.get("mechanism", "kwp")
        if mechanism not in ("kwp", "gcm"):
            raise ValueError("pkcs11: mechanism= is kwp or gcm")
        return KekUri("pkcs11", module=fields["module"], token=fields["token"], key=fields["key"], mechanism=mechanism)
    if scheme == "aws-kms":
        if not _KMS_TARGET.fullmatch(rest):
            raise ValueError("aws-kms: needs a KMS key id, key ARN or alias, e.g. aws-kms:alias/pseudovault-root")
        return KekUri("aws-kms", target=rest)
    raise ValueError(f"unknown KEK provider {scheme[:16]!r}: expected one of {', '.join(KINDS)}")
