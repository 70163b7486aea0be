from tortoise import migrations
from tortoise.migrations import operations as ops
from timebank.people.models import CareLevel, HelperKind, Relation
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('timebank', '0006_ledger_write_many')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('actor_id', fields.IntField(null=True)),
                ('on_behalf_of_id', fields.IntField(null=True)),
                ('action', fields.CharField(max_length=60)),
                ('target_type', fields.CharField(max_length=30)),
                ('target_id', fields.CharField(default='', max_length=40)),
                ('community_id', fields.IntField(null=True, db_index=True)),
                ('ip', fields.CharField(default='', max_length=64)),
                ('detail', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'audit_event', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'Who did what to which record, when and from where. Rows are never changed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FamilyLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('timebank.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='family', on_delete=OnDelete.CASCADE)),
                ('relative', fields.ForeignKeyField('timebank.Member', source_field='relative_id', db_constraint=True, to_field='id', related_name='family_of', on_delete=OnDelete.CASCADE)),
                ('relation', fields.CharEnumField(description='SPOUSE: spouse\nCHILD: child\nPARENT: parent\nSIBLING: sibling\nGRANDCHILD: grandchild\nGRANDPARENT: grandparent\nOTHER: other', enum_type=Relation, max_length=12)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'family_link', 'app': 'timebank', 'unique_together': (('member', 'relative'),), 'pk_attr': 'id', 'table_description': "``relative`` is ``member``'s ``relation`` (both directions are stored)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HelperProfile',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.OneToOneField('timebank.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='helper_profile', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(default=HelperKind.VOLUNTEER, description='VOLUNTEER: volunteer\nPAID: paid', enum_type=HelperKind, max_length=12)),
                ('hourly_rate_fen', fields.IntField(null=True)),
                ('skills', fields.CharField(default='', max_length=300)),
                ('capacity', fields.IntField(default=3)),
                ('availability', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'helper_profile', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'What a helper offers: skills, how many residents, when, and at what rate.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ResidentProfile',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.OneToOneField('timebank.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='resident_profile', on_delete=OnDelete.CASCADE)),
                ('care_level', fields.CharEnumField(default=CareLevel.SELF_CARE, description='SELF_CARE: self_care\nSEMI: semi\nDISABLED: disabled', enum_type=CareLevel, max_length=12)),
                ('hardship', fields.CharField(default='', max_length=200)),
                ('needs', fields.CharField(default='', max_length=300)),
                ('visit_every_days', fields.IntField(null=True)),
                ('emergency_name', fields.CharField(default='', max_length=60)),
                ('emergency_phone', fields.CharField(default='', max_length=20)),
                ('notes', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'resident_profile', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'What a resident needs: care level, hardship, services, how often to visit.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SignInCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('timebank.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='signin_codes', on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('issued_by', fields.ForeignKeyField('timebank.Member', source_field='issued_by_id', null=True, db_constraint=True, to_field='id', related_name='codes_issued', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'signin_code', 'app': 'timebank', 'pk_attr': 'id', 'table_description': 'A one-time sign-in code a coordinator gives a member who has no password.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Community',
            name='balance_cap_minutes',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Community',
            name='daily_cap_minutes',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Community',
            name='four_eyes',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Community',
            name='overdraft_minutes',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Community',
            name='redeem_min_age',
            field=fields.IntField(default=60),
        ),
        ops.AddField(
            model_name='Community',
            name='visit_every_days',
            field=fields.IntField(default=7),
        ),
        ops.AddField(
            model_name='Community',
            name='visit_radius_m',
            field=fields.IntField(default=250),
        ),
        ops.AddField(
            model_name='Member',
            name='address',
            field=fields.CharField(default='', max_length=200),
        ),
        ops.AddField(
            model_name='Member',
            name='birth_date',
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name='Member',
            name='consent_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Member',
            name='languages',
            field=fields.CharField(default='', max_length=100),
        ),
        ops.AddField(
            model_name='Member',
            name='lat',
            field=fields.FloatField(null=True),
        ),
        ops.AddField(
            model_name='Member',
            name='lon',
            field=fields.FloatField(null=True),
        ),
    ]
