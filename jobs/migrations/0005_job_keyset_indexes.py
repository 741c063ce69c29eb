from django.db import migrations, models


class Migration(migrations.Migration):
    """The API pages the job list by id: a status or operation filter walks an index in id order."""

    dependencies = [
        ('jobs', '0003_undelete_operation'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['subscription', 'status', 'id'], name='job_sub_status_id'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['subscription', 'operation', 'id'], name='job_sub_op_id'),
        ),
    ]
