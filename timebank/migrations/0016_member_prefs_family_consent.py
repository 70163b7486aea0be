from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('timebank', '0015_report_indexes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='FamilyLink',
            name='consent_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='FamilyLink',
            name='consent_by_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Member',
            name='elder_mode',
            field=fields.BooleanField(default=False),
        ),
    ]
