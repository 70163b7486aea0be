from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('timebank', '0004_ledger_write_function')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Session',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('member', fields.ForeignKeyField('timebank.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('csrf_token', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ip', fields.CharField(default='', max_length=64)),
                ('user_agent', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'member_session', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'A signed-in browser or app, referenced by a signed cookie, revoked on sign-out.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SignInAttempt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('phone', fields.CharField(db_index=True, max_length=20)),
                ('ip', fields.CharField(db_index=True, max_length=64)),
                ('succeeded', fields.BooleanField()),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'signin_attempt', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'A password sign-in attempt, kept to slow down guessing per phone and per address.'},
            bases=['Model'],
        ),
    ]
