"""Known-answer vectors stored as JSON in ``vectors/``, turned into pytest parameters.

Each file is ``{"source": ..., "url": ..., "vectors": [{"id": ..., ...}, ...]}``; hex strings
stay hex here and are decoded by the test that uses them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS_DIR = Path(__file__).parent / "vectors"


def load_vectors(name: str) -> list[Any]:
    """``pytest.param(vector, id=vector["id"])`` for every vector in ``vectors/<name>.json``."""
    document = json.loads((VECTORS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    vectors = document["vectors"]
    if not vectors:
        raise ValueError(f"{name}.json holds no vectors")
    return [pytest.param(vector, id=vector["id"]) for vector in vectors]
