from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from portal.access import can_administer, can_operate
from vaults.models import Subscription, Vault

pytestmark = pytest.mark.django_db


def test_members_see_only_their_subscriptions(owner, member, reader, outsider, subscription, other_subscription):
    for user in (owner, member, reader):
        assert list(Subscription.objects.visible_to(user)) == [subscription]
    assert list(Subscription.objects.visible_to(outsider)) == [other_subscription]
    assert not Subscription.objects.visible_to(AnonymousUser()).exists()


def test_vaults_are_scoped_by_subscription(owner, outsider, vault):
    assert list(Vault.objects.visible_to(owner)) == [vault]
    assert not Vault.objects.visible_to(outsider).exists()


def test_roles(owner, member, reader):
    assert can_administer(owner) and can_operate(owner)
    assert can_operate(member) and not can_administer(member)
    assert not can_operate(reader) and not can_administer(reader)
    assert not can_operate(AnonymousUser())
