from django.db import migrations, models


class Migration(migrations.Migration):
    """Soft delete and immutability. Every vault, new or existing, keeps deleted backup data 14 days (soft delete on,
    not always-on) and starts with immutability Disabled; a protected item may be Soft deleted, then Purging."""

    dependencies = [
        ('vaults', '0010_vault_keys'),
    ]

    operations = [
        migrations.AddField(
            model_name='protecteditem',
            name='deleted_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='protecteditem',
            name='purge_after',
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name='vault',
            name='immutability',
            field=models.CharField(choices=[('disabled', 'Disabled'), ('enabled', 'Enabled'), ('locked', 'Locked')], default='disabled', max_length=8),
        ),
        migrations.AddField(
            model_name='vault',
            name='soft_delete_always_on',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='vault',
            name='soft_delete_days',
            field=models.PositiveSmallIntegerField(default=14),
        ),
        migrations.AddField(
            model_name='vault',
            name='soft_delete_enabled',
            field=models.BooleanField(default=True),
        ),
        migrations.AlterField(
            model_name='protecteditem',
            name='status',
            field=models.CharField(choices=[('pending', 'Protected - (initial backup pending)'), ('protected', 'Protected'), ('stopped', 'Protection Stopped'), ('error', 'Protection Error'), ('soft_deleted', 'Soft deleted'), ('purging', 'Purging')], default='pending', max_length=15),
        ),
    ]
