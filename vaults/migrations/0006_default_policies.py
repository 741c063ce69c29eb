"""Every vault starts with DefaultPolicy: give one to the vaults made before policies existed."""

from __future__ import annotations

from django.db import migrations


def add_default_policies(apps, schema_editor) -> None:
    from vaults.policy.defaults import DEFAULT_POLICY_NAME, default_policy
    from vaults.policy.stored import policy_to_dict

    Vault = apps.get_model("vaults", "Vault")
    Policy = apps.get_model("vaults", "Policy")
    definition = policy_to_dict(default_policy())
    for vault in Vault.objects.exclude(policies__name=DEFAULT_POLICY_NAME):
        Policy.objects.create(vault=vault, name=DEFAULT_POLICY_NAME, definition=definition)


class Migration(migrations.Migration):
    dependencies = [("vaults", "0005_scheduled_backups")]
    operations = [migrations.RunPython(add_default_policies, migrations.RunPython.noop)]
