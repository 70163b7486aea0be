from tortoise import migrations
from tortoise.migrations import operations as ops
from timebank.ledger.models import AccountKind, Phase, TxnKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('timebank', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Account',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='WALLET: wallet\nISSUANCE: issuance\nREDEMPTION: redemption\nPOOL: pool', enum_type=AccountKind, max_length=12)),
                ('community', fields.ForeignKeyField('timebank.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='accounts', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('timebank.Member', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name='accounts', on_delete=OnDelete.RESTRICT)),
                ('floor', fields.BigIntField(null=True, default=0)),
                ('cap', fields.BigIntField(null=True)),
                ('posted_credits', fields.BigIntField(default=0)),
                ('posted_debits', fields.BigIntField(default=0)),
                ('pending_credits', fields.BigIntField(default=0)),
                ('pending_debits', fields.BigIntField(default=0)),
                ('version', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ledger_account', 'app': 'timebank', 'unique_together': (('community', 'kind', 'member'),), 'pk_attr': 'id', 'table_description': 'A wallet or system account with totals cached by the ledger service.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChainHead',
            fields=[
                ('id', fields.IntField(primary_key=True, unique=True, db_index=True)),
                ('seq', fields.BigIntField(default=0)),
                ('hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'ledger_head', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'The single row naming the last entry, locked by every ledger write.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Checkpoint',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('seq', fields.BigIntField()),
                ('hash', fields.CharField(max_length=64)),
                ('created_by', fields.ForeignKeyField('timebank.Member', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='checkpoints', on_delete=OnDelete.RESTRICT)),
                ('note', fields.CharField(default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ledger_checkpoint', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'A published (seq, hash) pair: a later rewrite of the chain before it is caught.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerTxn',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='SERVICE_CREDIT: service_credit\nREDEEM: redeem\nDONATE: donate\nGRANT: grant\nRESERVE: reserve\nPOST: post\nVOID: void\nEXPIRE: expire\nREVERSAL: reversal', enum_type=TxnKind, max_length=16)),
                ('actor', fields.ForeignKeyField('timebank.Member', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name='ledger_actions', on_delete=OnDelete.RESTRICT)),
                ('on_behalf_of', fields.ForeignKeyField('timebank.Member', source_field='on_behalf_of_id', null=True, db_constraint=True, to_field='id', related_name='ledger_on_behalf', on_delete=OnDelete.RESTRICT)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('ref_type', fields.CharField(default='', max_length=32)),
                ('ref_id', fields.CharField(default='', max_length=64)),
                ('idempotency_key', fields.CharField(unique=True, max_length=128)),
                ('request_hash', fields.CharField(max_length=64)),
                ('reverses', fields.OneToOneField('timebank.LedgerTxn', source_field='reverses_id', null=True, db_constraint=True, to_field='id', related_name='reversed_by', on_delete=OnDelete.RESTRICT)),
                ('resolves', fields.OneToOneField('timebank.LedgerTxn', source_field='resolves_id', null=True, db_constraint=True, to_field='id', related_name='resolved_by', on_delete=OnDelete.RESTRICT)),
                ('digest', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'ledger_txn', 'app': 'timebank', 'indexes': [Index(fields=['ref_type', 'ref_id'])], 'pk_attr': 'id', 'table_description': 'One balanced, immutable movement of hours.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Entry',
            fields=[
                ('seq', fields.BigIntField(primary_key=True, unique=True, db_index=True)),
                ('txn', fields.ForeignKeyField('timebank.LedgerTxn', source_field='txn_id', db_constraint=True, to_field='id', related_name='entries', on_delete=OnDelete.RESTRICT)),
                ('account', fields.ForeignKeyField('timebank.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='entries', on_delete=OnDelete.RESTRICT)),
                ('amount', fields.BigIntField()),
                ('phase', fields.CharEnumField(description='PENDING: pending\nRELEASE: release\nPOSTED: posted', enum_type=Phase, max_length=8)),
                ('balance_after', fields.BigIntField()),
                ('prev_hash', fields.CharField(max_length=64)),
                ('hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'ledger_entry', 'app': 'timebank', 'indexes': [Index(fields=['account_id', 'seq'])], 'pk_attr': 'seq', 'table_description': 'One leg of a transaction, linked into the hash chain by ``prev_hash``.'},
            bases=['Model'],
        ),
    ]
