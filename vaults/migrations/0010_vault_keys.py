from django.db import migrations, models


class Migration(migrations.Migration):
    """Vaults gain an encryption key. Existing vaults keep an empty one: their stores stay unencrypted."""

    dependencies = [("vaults", "0009_help_texts_name_the_policy_modules")]

    operations = [
        migrations.AddField(model_name="vault", name="wrapped_key",
                            field=models.TextField(blank=True, editable=False)),
        migrations.AddField(model_name="vault", name="key_fingerprint",
                            field=models.CharField(blank=True, editable=False, max_length=64)),
    ]
