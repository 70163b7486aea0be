from tortoise import migrations
from tortoise.migrations import operations as ops
from timebank.redeem.models import GrantSource, GrantStatus, ItemKind, RedemptionStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('timebank', '0010_visits')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Grant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('timebank.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('timebank.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.RESTRICT)),
                ('source', fields.CharEnumField(description='FUND: fund\nPOOL: pool', enum_type=GrantSource, max_length=6)),
                ('minutes', fields.IntField()),
                ('reason', fields.CharField(max_length=300)),
                ('status', fields.CharEnumField(description='PENDING: pending\nPOSTED: posted\nREJECTED: rejected', enum_type=GrantStatus, max_length=10)),
                ('requested_by_id', fields.IntField()),
                ('decided_by_id', fields.IntField(null=True)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decision_note', fields.CharField(default='', max_length=300)),
                ('ledger_txn_id', fields.IntField(null=True)),
                ('key', fields.CharField(unique=True, max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'grant_request', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'Hours a coordinator grants a member, with the reason, and who approved it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RedeemItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('timebank.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='redeem_items', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='GOODS: goods\nPRIVILEGE: privilege\nSERVICE: service', enum_type=ItemKind, max_length=10)),
                ('name_zh', fields.CharField(max_length=60)),
                ('name_en', fields.CharField(max_length=80)),
                ('price_minutes', fields.IntField()),
                ('stock', fields.IntField(null=True)),
                ('service_code', fields.CharField(default='', max_length=30)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'redeem_item', 'app': 'timebank', 'pk_attr': 'id', 'table_description': "One thing of a community's redemption catalogue, with its price in minutes."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Redemption',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('timebank.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT)),
                ('item', fields.ForeignKeyField('timebank.RedeemItem', source_field='item_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('timebank.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT)),
                ('beneficiary', fields.ForeignKeyField('timebank.Member', source_field='beneficiary_id', db_constraint=True, to_field='id', related_name='redemptions_received', on_delete=OnDelete.RESTRICT)),
                ('actor_id', fields.IntField(null=True)),
                ('on_behalf', fields.BooleanField(default=False)),
                ('minutes', fields.IntField()),
                ('status', fields.CharEnumField(description='TO_HAND_OVER: to_hand_over\nHANDED_OVER: handed_over\nDONE: done\nRESERVED: reserved\nSERVED: served\nCANCELLED: cancelled\nEXPIRED: expired', enum_type=RedemptionStatus, max_length=14)),
                ('order_id', fields.IntField(null=True, unique=True)),
                ('handed_over_by_id', fields.IntField(null=True)),
                ('handed_over_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'redemption', 'app': 'timebank', 'indexes': [Index(fields=['member_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'Hours spent by ``member`` for ``beneficiary`` (themself or a family member).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Community',
            name='grant_review_minutes',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Community',
            name='redeem_daily_minutes',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Community',
            name='redeem_monthly_minutes',
            field=fields.IntField(null=True),
        ),
    ]
