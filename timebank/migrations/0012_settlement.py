from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('timebank', '0011_redeem')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SettlementMonth',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('timebank.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='settlements', on_delete=OnDelete.RESTRICT)),
                ('month', fields.CharField(max_length=7)),
                ('closed_by_id', fields.IntField()),
                ('closed_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('visits', fields.IntField()),
                ('minutes', fields.IntField()),
                ('amount_fen', fields.BigIntField()),
            ],
            options={'table': 'settlement_month', 'app': 'timebank', 'unique_together': (('community', 'month'),), 'pk_attr': 'id', 'table_description': "A community's month closed for paid helpers' pay: no later change reaches it."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SettlementLine',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('settlement', fields.ForeignKeyField('timebank.SettlementMonth', source_field='settlement_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.RESTRICT)),
                ('visit_id', fields.IntField(unique=True)),
                ('helper', fields.ForeignKeyField('timebank.Member', source_field='helper_id', db_constraint=True, to_field='id', related_name='settlement_lines', on_delete=OnDelete.RESTRICT)),
                ('served_on', fields.DateField()),
                ('minutes', fields.IntField()),
                ('amount_fen', fields.IntField()),
                ('correction', fields.BooleanField(default=False)),
            ],
            options={'table': 'settlement_line', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'One visit paid in a closed month (a correction when it belongs to an earlier one).'},
            bases=['Model'],
        ),
    ]
