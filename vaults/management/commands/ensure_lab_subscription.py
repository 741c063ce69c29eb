"""Make sure the "Lab subscription" pointing at the bundled fabric exists, with the given members."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from vaults.models import Subscription

LAB_NAME = "Lab subscription"


class Command(BaseCommand):
    help = "Create or update the 'Lab subscription' (the bundled fabric on FABRIC_PORT) and add members to it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--member", action="append", default=[], help="user name to add (repeatable)")
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="print the subscription as one JSON object and nothing else")

    def handle(self, *args: str, member: list[str], as_json: bool, **options: Any) -> None:
        host = f"127.0.0.1:{settings.FABRIC_PORT}"
        subscription, created = Subscription.objects.update_or_create(
            subscription_id=settings.LAB_SUBSCRIPTION_ID,
            defaults={"host": host, "protocol": Subscription.Protocol.HTTP},
            create_defaults={"name": LAB_NAME, "host": host, "protocol": Subscription.Protocol.HTTP},
        )
        users = get_user_model().objects.filter(username__in=member)
        subscription.members.add(*users)
        if as_json:
            members = sorted(subscription.members.values_list("username", flat=True))
            self.stdout.write(json.dumps({"id": subscription.pk, "name": subscription.name, "created": created,
                                          "subscription_id": subscription.subscription_id, "url": f"http://{host}",
                                          "members": members}, sort_keys=True))
            return
        verb = "Created" if created else "Kept"
        self.stdout.write(f"{verb} '{subscription.name}' ({subscription.subscription_id}) at http://{host}")
