from django.db import migrations, models

import vaults.models


def fill_store_keys(apps, schema_editor):
    Vault = apps.get_model("vaults", "Vault")
    for vault in Vault.objects.filter(store_key=""):
        # Vaults made before store keys keep their old directory name: their id.
        vault.store_key = str(vault.pk)
        vault.save(update_fields=["store_key"])


class Migration(migrations.Migration):
    dependencies = [("vaults", "0003_protection")]

    operations = [
        migrations.AddField(model_name="vault", name="store_key",
                            field=models.CharField(default="", editable=False, max_length=32)),
        migrations.RunPython(fill_store_keys, migrations.RunPython.noop),
        migrations.AlterField(model_name="vault", name="store_key",
                              field=models.CharField(default=vaults.models._new_store_key, editable=False, max_length=32,
                                                     unique=True)),
    ]
