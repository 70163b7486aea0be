from tortoise import migrations
from tortoise.migrations import operations as ops
from timebank.orders.models import OrderStatus
from timebank.pairing.models import Compensation, PairingStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('timebank', '0008_audit_guards')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Order',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('timebank.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('resident', fields.ForeignKeyField('timebank.Member', source_field='resident_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT)),
                ('helper', fields.ForeignKeyField('timebank.Member', source_field='helper_id', null=True, db_constraint=True, to_field='id', related_name='orders_taken', on_delete=OnDelete.RESTRICT)),
                ('service_code', fields.CharField(max_length=30)),
                ('starts_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('notes', fields.CharField(default='', max_length=500)),
                ('address', fields.CharField(default='', max_length=200)),
                ('status', fields.CharEnumField(default=OrderStatus.OPEN, description='OPEN: open\nASSIGNED: assigned\nIN_PROGRESS: in_progress\nCOMPLETED: completed\nVERIFIED: verified\nFLAGGED: flagged\nCANCELLED: cancelled\nNO_SHOW: no_show', enum_type=OrderStatus, max_length=12)),
                ('placed_by_id', fields.IntField(null=True)),
                ('on_behalf', fields.BooleanField(default=False)),
                ('pairing_id', fields.IntField(null=True)),
                ('plan_item_id', fields.IntField(null=True)),
                ('due_on', fields.DateField(null=True)),
                ('reason', fields.CharField(default='', max_length=300)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'service_order', 'app': 'timebank', 'unique_together': (('plan_item_id', 'due_on'),), 'pk_attr': 'id', 'table_description': 'One visit wanted: placed by a resident or for them, taken by or given to a helper.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('timebank.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('actor_id', fields.IntField(null=True)),
                ('from_status', fields.CharField(default='', max_length=12)),
                ('to_status', fields.CharField(max_length=12)),
                ('helper_id', fields.IntField(null=True)),
                ('reason', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'order_event', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'One transition of an order.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Pairing',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('timebank.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='pairings', on_delete=OnDelete.RESTRICT)),
                ('helper', fields.ForeignKeyField('timebank.Member', source_field='helper_id', db_constraint=True, to_field='id', related_name='pairings_as_helper', on_delete=OnDelete.RESTRICT)),
                ('resident', fields.ForeignKeyField('timebank.Member', source_field='resident_id', db_constraint=True, to_field='id', related_name='pairings_as_resident', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(default=PairingStatus.PROPOSED, description='PROPOSED: proposed\nAPPROVED: approved\nSUSPENDED: suspended\nENDED: ended\nREJECTED: rejected', enum_type=PairingStatus, max_length=12)),
                ('compensation', fields.CharEnumField(default=Compensation.HOURS, description='HOURS: hours\nPAID: paid\nBOTH: both', enum_type=Compensation, max_length=8)),
                ('proposed_by_id', fields.IntField(null=True)),
                ('approved_by_id', fields.IntField(null=True)),
                ('started_on', fields.DateField(null=True)),
                ('note', fields.CharField(default='', max_length=300)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'pairing', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'A helper serving a resident, approved by a coordinator.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PairingEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('pairing', fields.ForeignKeyField('timebank.Pairing', source_field='pairing_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('actor_id', fields.IntField(null=True)),
                ('from_status', fields.CharField(default='', max_length=12)),
                ('to_status', fields.CharField(max_length=12)),
                ('reason', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'pairing_event', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'One transition of a pairing: who, when, from what to what, and why.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PlanItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('pairing', fields.ForeignKeyField('timebank.Pairing', source_field='pairing_id', db_constraint=True, to_field='id', related_name='plan', on_delete=OnDelete.CASCADE)),
                ('service_code', fields.CharField(max_length=30)),
                ('every_days', fields.IntField(default=7)),
                ('start_minute', fields.IntField(default=540)),
                ('duration_minutes', fields.IntField(default=60)),
                ('active', fields.BooleanField(default=True)),
            ],
            options={'table': 'plan_item', 'app': 'timebank', 'pk_attr': 'id', 'table_description': "A recurring visit of a pairing's plan: a service, every N days, at a time of day."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ServiceType',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('timebank.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='service_types', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(max_length=30)),
                ('name_zh', fields.CharField(max_length=40)),
                ('name_en', fields.CharField(max_length=60)),
                ('typical_minutes', fields.IntField(default=60)),
                ('max_minutes', fields.IntField(default=120)),
                ('multiplier_milli', fields.IntField(default=1000)),
                ('needs_confirmation', fields.BooleanField(default=False)),
                ('active', fields.BooleanField(default=True)),
            ],
            options={'table': 'service_type', 'app': 'timebank', 'unique_together': (('community', 'code'),), 'pk_attr': 'id', 'table_description': 'One kind of help a community offers (助餐, 助浴 …).'},
            bases=['Model'],
        ),
    ]
