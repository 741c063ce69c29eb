from django.db import migrations, models


class Migration(migrations.Migration):
    """UNDELETE is a job: Undelete joins the operations."""

    dependencies = [
        ('jobs', '0002_job_resume_at'),
    ]

    operations = [
        migrations.AlterField(
            model_name='job',
            name='operation',
            field=models.CharField(choices=[('discovery', 'Discovery'), ('register', 'Register'), ('unregister', 'Unregister'), ('configure_protection', 'Configure Protection'), ('backup', 'Backup'), ('restore', 'Restore'), ('stop_protection', 'Stop Protection'), ('delete_backup_data', 'Delete Backup Data'), ('undelete', 'Undelete'), ('retention', 'Retention'), ('verify', 'Verify'), ('replicate', 'Replicate'), ('garbage_collection', 'Garbage Collection'), ('create_vault', 'Create Vault'), ('delete_vault', 'Delete Vault')], max_length=32),
        ),
    ]
