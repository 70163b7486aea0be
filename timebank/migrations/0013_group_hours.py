from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('timebank', '0012_settlement')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Community',
            name='group_hours_donate_only',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='ServiceType',
            name='group_activity',
            field=fields.BooleanField(default=False),
        ),
    ]
