from tortoise import migrations
from tortoise.migrations import operations as ops
from timebank.visits.models import VisitStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('timebank', '0009_pairings_orders')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Placard',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('resident', fields.OneToOneField('timebank.Member', source_field='resident_id', db_constraint=True, to_field='id', related_name='placard', on_delete=OnDelete.RESTRICT)),
                ('generation', fields.IntField(default=1)),
                ('pin_hash', fields.CharField(default='', max_length=200)),
                ('issued_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('issued_by_id', fields.IntField(null=True)),
            ],
            options={'table': 'placard', 'app': 'timebank', 'pk_attr': 'id', 'table_description': "The QR placard of one resident: its generation and the resident's confirmation PIN."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Visit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('timebank.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='visits', on_delete=OnDelete.RESTRICT)),
                ('resident', fields.ForeignKeyField('timebank.Member', source_field='resident_id', db_constraint=True, to_field='id', related_name='visits_received', on_delete=OnDelete.RESTRICT)),
                ('helper', fields.ForeignKeyField('timebank.Member', source_field='helper_id', db_constraint=True, to_field='id', related_name='visits_given', on_delete=OnDelete.RESTRICT)),
                ('order_id', fields.IntField(null=True, unique=True)),
                ('pairing_id', fields.IntField(null=True)),
                ('service_code', fields.CharField(max_length=30)),
                ('status', fields.CharEnumField(default=VisitStatus.OPEN, description='OPEN: open\nVERIFIED: verified\nFLAGGED: flagged\nREJECTED: rejected', enum_type=VisitStatus, max_length=10)),
                ('open_helper_id', fields.IntField(null=True, unique=True)),
                ('in_event', fields.CharField(unique=True, max_length=64)),
                ('out_event', fields.CharField(null=True, unique=True, max_length=64)),
                ('checked_in_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('checked_out_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('received_in_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('received_out_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('client_in_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('client_out_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('in_lat', fields.FloatField(null=True)),
                ('in_lon', fields.FloatField(null=True)),
                ('in_distance_m', fields.IntField(null=True)),
                ('out_lat', fields.FloatField(null=True)),
                ('out_lon', fields.FloatField(null=True)),
                ('out_distance_m', fields.IntField(null=True)),
                ('offline', fields.BooleanField(default=False)),
                ('raw_minutes', fields.IntField(null=True)),
                ('served_minutes', fields.IntField(null=True)),
                ('credit_minutes', fields.IntField(null=True)),
                ('flags', fields.CharField(default='', max_length=200)),
                ('funded', fields.BooleanField(default=True)),
                ('hours', fields.BooleanField(default=True)),
                ('pay_fen', fields.IntField(null=True)),
                ('confirmed_by', fields.CharField(default='', max_length=10)),
                ('pin_failures', fields.IntField(default=0)),
                ('rating', fields.IntField(null=True)),
                ('comment', fields.CharField(default='', max_length=300)),
                ('rated_by_id', fields.IntField(null=True)),
                ('rated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reviewed_by_id', fields.IntField(null=True)),
                ('reviewed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('review_note', fields.CharField(default='', max_length=300)),
                ('ledger_txn_id', fields.IntField(null=True)),
            ],
            options={'table': 'visit', 'app': 'timebank', 'indexes': [Index(fields=['helper_id', 'checked_in_at']), Index(fields=['status', 'community_id'])], 'pk_attr': 'id', 'table_description': "One service at a resident's home, from check-in to check-out and verification."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Community',
            name='checkin_early_minutes',
            field=fields.IntField(default=30),
        ),
        ops.AddField(
            model_name='Community',
            name='checkin_late_minutes',
            field=fields.IntField(default=60),
        ),
        ops.AddField(
            model_name='Community',
            name='time_unit_minutes',
            field=fields.IntField(default=15),
        ),
        ops.AddField(
            model_name='Order',
            name='funded',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Pairing',
            name='funded',
            field=fields.BooleanField(default=True),
        ),
        ops.AddField(
            model_name='ServiceType',
            name='min_minutes',
            field=fields.IntField(default=10),
        ),
    ]
