from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('timebank', '0014_fund_budget')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Entry',
            index=Index(fields=['txn_id']),
        ),
        ops.AddIndex(
            model_name='LedgerTxn',
            index=Index(fields=['created_at']),
        ),
        ops.AddIndex(
            model_name='Pairing',
            index=Index(fields=['resident_id', 'status']),
        ),
        ops.RemoveIndex(
            model_name='Visit',
            name=None,
            fields=['status', 'community_id'],
        ),
        ops.AddIndex(
            model_name='Visit',
            index=Index(fields=['status', 'community_id', 'checked_in_at', 'service_code', 'served_minutes', 'rating', 'resident_id', 'helper_id', 'pay_fen']),
        ),
        ops.AddIndex(
            model_name='Visit',
            index=Index(fields=['resident_id', 'status', 'checked_in_at']),
        ),
    ]
