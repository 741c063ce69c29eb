from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def can_follow_job(user: AbstractBaseUser | AnonymousUser, job_id: int) -> bool:
    """A page may join ``job:<id>`` when the job's subscription has the user as a member."""
    from jobs.models import Job

    return Job.objects.visible_to(user).filter(pk=job_id).exists()


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from portal import events

        events.register_channel("job", can_follow_job)
