"""Vaults keep the storage-used figure of their store; the last backup status is one of three values."""

from pathlib import Path

from django.conf import settings
from django.db import migrations, models


def count_storage_used(apps, schema_editor) -> None:
    """Vaults made before the figure existed: count their stores once, as the engine does after every job."""
    from vaultstore import StoreError, VaultStore

    Vault = apps.get_model("vaults", "Vault")
    for vault in Vault.objects.all():
        path = Path(settings.VAULT_STORE_DIR) / vault.store_key
        if not (path / "store.json").exists():
            continue
        try:
            used = VaultStore(path).stored_bytes()
        except StoreError:
            continue  # an unreadable store keeps 0 until its next job recounts it
        Vault.objects.filter(pk=vault.pk).update(storage_used=used)


class Migration(migrations.Migration):

    dependencies = [
        ('vaults', '0007_scheduled_backup_claimed_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='vault',
            name='storage_used',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='protecteditem',
            name='last_backup_status',
            field=models.CharField(blank=True, choices=[('Completed', 'Completed'), ('Failed', 'Failed'), ('Cancelled', 'Cancelled')], max_length=40),
        ),
        migrations.RunPython(count_storage_used, migrations.RunPython.noop),
    ]
