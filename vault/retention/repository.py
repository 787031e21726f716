"""Parts of statements over retention's tables, for another package's statement to hold.

Retention owns its tables (the architecture test holds every package to its own); where a write of
another package reads one of them in the same statement, on PostgreSQL where each statement is a
round trip, the part comes from here.
"""

from __future__ import annotations

from sqlalchemy import Exists, any_, bindparam, exists

from pseudovault.vault.store.data_models import SubjectCategory
from pseudovault.vault.store.db import array_param

__all__ = ["in_any_category"]


def in_any_category(subject: str, codes: str) -> Exists:
    """``EXISTS`` a category of the subject whose id is the parameter named ``subject`` among the
    codes of the array parameter named ``codes`` (PostgreSQL): a subject's update reads whether a
    per-entry category covers it in the statement that writes its values (vault.subjects)."""
    return exists().where(
        SubjectCategory.subject_id == bindparam(subject, type_=SubjectCategory.subject_id.type),
        SubjectCategory.category == any_(array_param(codes, SubjectCategory.category)),
    )
