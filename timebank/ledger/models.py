"""The hour ledger's tables. Only ``timebank.ledger.service`` writes them.

Amounts are integer minutes. ``ledger_txn`` and ``ledger_entry`` are append-only: the
database itself refuses UPDATE, DELETE (and TRUNCATE on PostgreSQL), see migration 0003.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from timebank.db.tables import Table, one_of, refers_to

# Model docstrings become table comments, and tortoise's SQLite schema editor splits its
# statements on ";": no semicolons in the docstrings below.


class AccountKind(StrEnum):
    """What an account is for."""

    WALLET = "wallet"  # a member's hours (时间余额)
    ISSUANCE = "issuance"  # the community fund (兜底), goes negative within its budget
    REDEMPTION = "redemption"  # where redeemed hours go
    POOL = "pool"  # the community's public pool (公益池) of donated hours


class TxnKind(StrEnum):
    """Why hours moved."""

    SERVICE_CREDIT = "service_credit"
    REDEEM = "redeem"
    DONATE = "donate"
    GRANT = "grant"
    RESERVE = "reserve"
    POST = "post"
    VOID = "void"
    EXPIRE = "expire"
    REVERSAL = "reversal"


class Phase(StrEnum):
    """How an entry counts: a hold, the release of a hold, or a real movement."""

    PENDING = "pending"
    RELEASE = "release"
    POSTED = "posted"


class Account(Table):
    """A wallet or system account with totals cached by the ledger service."""

    kind = fields.CharEnumField(AccountKind, max_length=12)
    # The ledger knows its owners by reference only ("timebank.Community"): it depends on no
    # other feature, so the related objects are typed as plain models.
    community: fields.ForeignKeyRelation[Model] = refers_to("Community", "accounts")
    community_id: int
    member: fields.ForeignKeyNullableRelation[Model] = refers_to("Member", "accounts", null=True)
    member_id: int | None
    # Lowest allowed available balance (None: no floor, e.g. the redemption sink).
    floor = fields.BigIntField(null=True, default=0)
    # Highest allowed posted balance (None: no cap).
    cap = fields.BigIntField(null=True)
    posted_credits = fields.BigIntField(default=0)
    posted_debits = fields.BigIntField(default=0)
    pending_credits = fields.BigIntField(default=0)
    pending_debits = fields.BigIntField(default=0)
    version = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_account"
        unique_together = (("community", "kind", "member"),)

    @property
    def posted_balance(self) -> int:
        """Posted credits minus posted debits."""
        return int(self.posted_credits) - int(self.posted_debits)

    @property
    def available(self) -> int:
        """What may be spent now: posted balance minus hours on hold."""
        return self.posted_balance - int(self.pending_debits)


class LedgerTxn(Table):
    """One balanced, immutable movement of hours."""

    kind = fields.CharEnumField(TxnKind, max_length=16)
    actor: fields.ForeignKeyNullableRelation[Model] = refers_to(
        "Member", "ledger_actions", null=True
    )
    actor_id: int | None
    # The member a coordinator acted for (hotline case), when not the actor.
    on_behalf_of: fields.ForeignKeyNullableRelation[Model] = refers_to(
        "Member", "ledger_on_behalf", null=True
    )
    on_behalf_of_id: int | None
    reason = fields.CharField(max_length=500, default="")
    ref_type = fields.CharField(max_length=32, default="")
    ref_id = fields.CharField(max_length=64, default="")
    idempotency_key = fields.CharField(max_length=128, unique=True)
    request_hash = fields.CharField(max_length=64)
    # Unique: a transaction is reversed at most once, a hold resolved at most once.
    reverses: fields.ForeignKeyNullableRelation[LedgerTxn] = one_of(
        "LedgerTxn", "reversed_by", null=True
    )
    reverses_id: int | None
    resolves: fields.ForeignKeyNullableRelation[LedgerTxn] = one_of(
        "LedgerTxn", "resolved_by", null=True
    )
    resolves_id: int | None
    digest = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "ledger_txn"
        indexes = (("ref_type", "ref_id"), ("created_at",))  # reports: hours in a period


class Entry(Model):
    """One leg of a transaction, linked into the hash chain by ``prev_hash``."""

    seq = fields.BigIntField(primary_key=True, generated=False)
    txn: fields.ForeignKeyRelation[LedgerTxn] = refers_to("LedgerTxn", "entries")
    txn_id: int
    account: fields.ForeignKeyRelation[Account] = refers_to("Account", "entries")
    account_id: int
    amount = fields.BigIntField()
    phase = fields.CharEnumField(Phase, max_length=8)
    balance_after = fields.BigIntField()
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "ledger_entry"
        indexes = (("account_id", "seq"), ("txn_id",))  # a transaction's legs


class ChainHead(Model):
    """The single row naming the last entry, locked by every ledger write."""

    id = fields.IntField(primary_key=True, generated=False)
    seq = fields.BigIntField(default=0)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "ledger_head"


class Checkpoint(Table):
    """A published (seq, hash) pair: a later rewrite of the chain before it is caught."""

    seq = fields.BigIntField()
    hash = fields.CharField(max_length=64)
    created_by: fields.ForeignKeyNullableRelation[Model] = refers_to(
        "Member", "checkpoints", null=True
    )
    created_by_id: int | None
    note = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_checkpoint"
