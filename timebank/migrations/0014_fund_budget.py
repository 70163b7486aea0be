from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('timebank', '0013_group_hours')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Community',
            name='fund_budget_minutes',
            field=fields.IntField(null=True),
        ),
    ]
