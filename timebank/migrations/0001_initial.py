from tortoise import migrations
from tortoise.migrations import operations as ops
from timebank.people.models import Level, Role
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Community',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=100)),
                ('level', fields.CharEnumField(description='DISTRICT: district\nSUBDISTRICT: subdistrict\nCOMMUNITY: community', enum_type=Level, max_length=12)),
                ('parent', fields.ForeignKeyField('timebank.Community', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='children', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'community', 'app': 'timebank', 'unique_together': (('parent', 'name'),), 'pk_attr': 'id', 'table_description': 'A district, sub-district/town or community/village.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Member',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('timebank.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=60)),
                ('phone', fields.CharField(unique=True, max_length=20)),
                ('member_no', fields.CharField(max_length=12)),
                ('password_hash', fields.CharField(null=True, max_length=200)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'member', 'app': 'timebank', 'unique_together': (('community', 'member_no'),), 'pk_attr': 'id', 'table_description': 'A person known to the time bank, signing in with their phone number.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberRole',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('timebank.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='roles', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(description='HELPER: helper\nRESIDENT: resident\nCOORDINATOR: coordinator\nADMIN: admin', enum_type=Role, max_length=12)),
                ('community', fields.ForeignKeyField('timebank.Community', source_field='community_id', null=True, db_constraint=True, to_field='id', related_name='role_holders', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'member_role', 'app': 'timebank', 'unique_together': (('member', 'role', 'community'),), 'pk_attr': 'id', 'table_description': 'A role held by a member, coordinators holding theirs for one community.'},
            bases=['Model'],
        ),
    ]
