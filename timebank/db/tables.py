"""What every feature's tables share: the integer key and how one row refers to another.

A reference is RESTRICT unless the model says otherwise: hours and history are kept, so a
row another row refers to is never deleted from under it.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.fields.base import OnDelete
from tortoise.fields.relational import ForeignKeyFieldInstance, OneToOneFieldInstance
from tortoise.models import Model

from timebank.db import APP_LABEL


class Table(Model):
    """A table whose rows are numbered by an integer ``id``."""

    id = fields.IntField(primary_key=True)

    class Meta:
        abstract = True


def refers_to(
    model: str, related_name: str, *, null: bool = False, on_delete: OnDelete = fields.RESTRICT
) -> Any:
    """A foreign key to ``model`` (a model of this app), RESTRICT unless said otherwise."""
    return ForeignKeyFieldInstance(f"{APP_LABEL}.{model}", related_name, on_delete, null=null)


def one_of(
    model: str, related_name: str, *, null: bool = False, on_delete: OnDelete = fields.RESTRICT
) -> Any:
    """A one-to-one key to ``model`` (a model of this app), RESTRICT unless said otherwise."""
    return OneToOneFieldInstance(f"{APP_LABEL}.{model}", related_name, on_delete, null=null)
