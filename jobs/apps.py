from __future__ import annotations

from django.apps import AppConfig


def can_follow_job(user, job_id: int) -> bool:
    """A page may join ``job:<id>`` when the job's subscription has the user as a member."""
    from jobs.models import Job

    return Job.objects.visible_to(user).filter(pk=job_id).exists()


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from portal import events

        events.register_channel("job", can_follow_job)
