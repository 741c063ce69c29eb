from __future__ import annotations

import json

import pytest
from django.urls import reverse

from jobs.models import Job, LogAction, Operation, OperationLogEntry, Status
from vaults.models import Policy, ProtectedItem
from vaults.policy import rules, stored

from .helpers import default_policy, make_policy, point, protected, registered, stop_protection

pytestmark = pytest.mark.django_db

WEEKLY_FORM = {
    "name": "Weekly-Long", "frequency": "weekly", "time": "22:00", "sched_days": ["6"],
    "weekly_on": "1", "weekly_count": "104", "weekly_days": ["6"],
    "monthly_on": "1", "monthly_count": "120", "monthly_form": "weekday", "monthly_week": "last", "monthly_weekdays": ["6"],
    "yearly_on": "1", "yearly_count": "99", "yearly_months": ["1"], "yearly_form": "weekday", "yearly_week": "first",
    "yearly_weekdays": ["6"],
}
PORTAL_EXAMPLE = {
    "name": "Example", "frequency": "daily", "time": "22:30",
    "daily_on": "1", "daily_count": "30", "weekly_on": "1", "weekly_count": "104", "weekly_days": ["6"],
    "monthly_on": "1", "monthly_count": "120", "monthly_form": "weekday", "monthly_week": "last", "monthly_weekdays": ["6"],
    "yearly_on": "1", "yearly_count": "99", "yearly_months": ["1"], "yearly_form": "weekday", "yearly_week": "first",
    "yearly_weekdays": ["6"],
}


def notice(response) -> str:
    return json.loads(response["HX-Trigger"])["portal:notice"]["text"]


def test_a_new_vault_starts_with_default_policy(vault):
    """The ``vault`` fixture is quick-created, as a person creates one."""
    policy = vault.policies.get()
    assert policy.name == "DefaultPolicy"
    assert policy.rules.schedule.frequency == rules.Frequency.DAILY
    assert policy.rules.daily.count == 30


@pytest.mark.parametrize("persona", ["owner", "member", "reader"])
def test_members_see_the_policies_tab(client, vault, persona, request):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(reverse("vaults:policies", args=[vault.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "DefaultPolicy" in body and "Daily at 22:30 (UTC+00:00)" in body
    assert ('id="cmd-create-policy"' in body) == (persona == "owner")


def test_schedule_shows_in_the_browsers_zone(client, owner, vault):
    client.force_login(owner)
    client.cookies["tz"] = "Asia/Tokyo"
    body = client.get(reverse("vaults:policies", args=[vault.pk])).content.decode()
    assert "Daily at 07:30 (UTC+09:00)" in body


def test_outsiders_get_404_everywhere(client, vault, outsider):
    policy = default_policy(vault)
    client.force_login(outsider)
    for name in ("vaults:policies", "vaults:policy_new", "vaults:protected", "vaults:protect_dialog"):
        assert client.get(reverse(name, args=[vault.pk])).status_code == 404
    assert client.get(reverse("vaults:policy_edit", args=[vault.pk]), {"policies": policy.pk}).status_code == 404
    for name in ("vaults:policy_save", "vaults:policy_delete", "vaults:policy_preview", "vaults:protect"):
        assert client.post(reverse(name, args=[vault.pk]), {"policies": policy.pk}).status_code == 404
    assert Policy.objects.filter(pk=policy.pk).exists()


def test_anonymous_users_are_sent_to_sign_in(client, vault):
    assert client.get(reverse("vaults:policies", args=[vault.pk])).status_code == 302


@pytest.mark.parametrize("persona", ["member", "reader"])
def test_only_administrators_create_edit_or_delete(client, vault, persona, request):
    policy = default_policy(vault)
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("vaults:policy_new", args=[vault.pk])).status_code == 404
    assert client.post(reverse("vaults:policy_save", args=[vault.pk]), WEEKLY_FORM).status_code == 404
    response = client.post(reverse("vaults:policy_delete", args=[vault.pk]), {"policies": policy.pk})
    assert "Only Backup Administrators" in notice(response)
    assert list(vault.policies.values_list("name", flat=True)) == ["DefaultPolicy"]


def test_owner_creates_the_portal_example_and_a_weekly_policy(client, owner, vault):
    client.force_login(owner)
    for form in (PORTAL_EXAMPLE, WEEKLY_FORM):
        response = client.post(reverse("vaults:policy_save", args=[vault.pk]), {**form, "nav": "finish"})
        assert response.status_code == 204, response.content.decode()
        assert "Created policy" in notice(response)
    weekly = vault.policies.get(name="Weekly-Long").rules
    assert weekly.schedule.weekdays == {rules.Weekday.SUNDAY}
    assert weekly.monthly.on == rules.WeekdayOfMonth(rules.Week.LAST, {rules.Weekday.SUNDAY})
    assert weekly.yearly.months == {1} and weekly.yearly.count == 99
    assert OperationLogEntry.objects.filter(operation=LogAction.ADD_POLICY).count() == 2


def test_local_evening_choice_is_stored_in_utc_with_weekdays_moved(client, owner, vault):
    """Sunday 22:00 in New York (winter) is Monday 03:00 UTC."""
    client.force_login(owner)
    client.cookies["tz"] = "America/New_York"
    form = {**WEEKLY_FORM, "time": "03:00"}  # the time list's values are UTC; its label reads 22:00 (UTC-05:00)
    response = client.post(reverse("vaults:policy_save", args=[vault.pk]), {**form, "nav": "finish"})
    assert response.status_code == 204
    stored = vault.policies.get(name="Weekly-Long").rules
    assert stored.schedule.weekdays == {rules.Weekday.MONDAY}
    assert stored.weekly.weekdays == {rules.Weekday.MONDAY}


@pytest.mark.parametrize(("change", "message"), [
    ({"name": "1bad"}, "must start with a letter"),
    ({"name": "ab"}, "3 to 150 characters"),
    ({"name": "bad name"}, "only letters, digits and hyphens"),
    ({"name": "DefaultPolicy"}, "already exists in this vault"),
    ({"sched_days": []}, "needs at least one day"),
    ({"daily_on": "1", "daily_count": "30"}, "cannot have daily retention"),
    ({"weekly_on": ""}, "requires weekly retention"),
    ({"weekly_count": "261"}, "1 to 260 weeks"),
    ({"weekly_days": ["5", "6"]}, "must keep the days the schedule runs on"),
    ({"monthly_count": "0"}, "1 to 120 months"),
    ({"monthly_weekdays": ["2"]}, "can keep only days the schedule runs on"),
    ({"monthly_form": "day", "monthly_day": "5"}, "cannot keep monthly points by day of the month"),
    ({"yearly_months": []}, "at least one month"),
    ({"yearly_count": "100"}, "1 to 99 years"),
    ({"yearly_weekdays": []}, "at least one weekday for yearly"),
    ({"time": "22:15"}, "on the hour or the half hour"),
])
def test_each_rule_refuses_with_its_message_next_to_its_field(client, owner, vault, change, message):
    client.force_login(owner)
    response = client.post(reverse("vaults:policy_save", args=[vault.pk]), {**WEEKLY_FORM, **change, "nav": "finish"})
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert 'class="field-error"' in body
    assert not vault.policies.filter(name=WEEKLY_FORM["name"]).exists()


def test_daily_schedule_requires_daily_retention(client, owner, vault):
    client.force_login(owner)
    form = {**PORTAL_EXAMPLE, "daily_on": "", "daily_count": "400"}
    body = client.post(reverse("vaults:policy_save", args=[vault.pk]), {**form, "nav": "finish"}).content.decode()
    assert "requires daily retention" in body
    body = client.post(reverse("vaults:policy_save", args=[vault.pk]),
                       {**PORTAL_EXAMPLE, "daily_count": "400", "nav": "finish"}).content.decode()
    assert "1 to 366 days" in body


def test_next_stops_on_page_one_errors_and_moves_on_when_valid(client, owner, vault):
    client.force_login(owner)
    url = reverse("vaults:policy_save", args=[vault.pk])
    body = client.post(url, {**WEEKLY_FORM, "name": "", "nav": "next"}).content.decode()
    assert "3 to 150 characters" in body and 'data-page="2" hidden' in body
    body = client.post(url, {**WEEKLY_FORM, "nav": "next"}).content.decode()
    assert 'data-page="1" hidden' in body and "policy-finish" in body


def test_live_preview_summarises_a_year(client, owner, vault):
    client.force_login(owner)
    response = client.post(reverse("vaults:policy_preview", args=[vault.pk]), WEEKLY_FORM)
    body = response.content.decode()
    assert "52 scheduled backups" in body or "53 scheduled backups" in body
    assert 'id="held-at-end"' in body and "Yearly" in body
    bad = client.post(reverse("vaults:policy_preview", args=[vault.pk]), {**WEEKLY_FORM, "weekly_count": "999"})
    assert "1 to 260 weeks" in bad.content.decode() and 'hx-swap-oob="true"' in bad.content.decode()


def test_delete_is_refused_while_vms_use_the_policy(client, owner, member, vault):
    policy = make_policy(owner, vault)
    protected(member, vault, policy, "vm01")
    client.force_login(owner)
    response = client.post(reverse("vaults:policy_delete", args=[vault.pk]), {"policies": policy.pk})
    assert notice(response) == ("Policy 'Nightly' cannot be deleted: 1 virtual machine uses it. Protect them with "
                                "another policy (or stop their protection and delete their data) first.")
    assert Policy.objects.filter(pk=policy.pk).exists()


def test_delete_unused_policy_is_logged(client, owner, vault):
    policy = make_policy(owner, vault)
    client.force_login(owner)
    response = client.post(reverse("vaults:policy_delete", args=[vault.pk]), {"policies": policy.pk})
    assert "Deleted policy 'Nightly'" in notice(response)
    assert not Policy.objects.filter(pk=policy.pk).exists()
    assert OperationLogEntry.objects.filter(operation=LogAction.DELETE_POLICY, item_name="Nightly").exists()


def test_editing_a_used_policy_reconfigures_each_vm_and_recomputes_expiry(client, owner, member, vault):
    from datetime import UTC, datetime

    policy = make_policy(owner, vault)
    items = [protected(member, vault, policy, f"vm0{n}") for n in (1, 2)]
    kept = point(items[0], datetime(2026, 3, 1, 3, tzinfo=UTC))
    client.force_login(owner)
    response = client.get(reverse("vaults:policy_edit", args=[vault.pk]), {"policies": policy.pk})
    assert 'value="Nightly"' in response.content.decode()
    assert "2 virtual machines use this policy" in response.content.decode()
    form = {**PORTAL_EXAMPLE, "name": "Nightly", "time": "03:00", "daily_count": "10", "policy": policy.pk,
            "nav": "finish"}
    response = client.post(reverse("vaults:policy_save", args=[vault.pk]), form)
    assert response.status_code == 204, response.content.decode()
    jobs = Job.objects.filter(operation=Operation.CONFIGURE_PROTECTION, status=Status.NOT_STARTED)  # the edit's
    assert sorted(j.item_key for j in jobs) == sorted(i.item.item_key for i in items)
    assert all(j.params["policy"] == policy.pk and j.params["reconfigure"] for j in jobs)
    kept.refresh_from_db()
    # 1 March 2026 is a Sunday, so weekly (104 weeks) keeps it longest.
    assert kept.expires == datetime(2028, 2, 27, 3, tzinfo=UTC)
    assert OperationLogEntry.objects.filter(operation=LogAction.UPDATE_POLICY).exists()


def test_protect_wizard_lists_only_registered_unprotected_vms(client, member, vault):
    free = registered(member, vault, "vm01")
    protected(member, vault, default_policy(vault), "vm02")
    client.force_login(member)
    body = client.get(reverse("vaults:protect_dialog", args=[vault.pk]), {"items": str(free.pk)}).content.decode()
    assert ">vm01<" in body and "vm02" not in body
    assert "vm03" not in body  # discovered, never registered


def test_protect_wizard_creates_one_job_per_vm(client, member, vault):
    policy = default_policy(vault)
    vms = [registered(member, vault, f"vm0{n}") for n in (1, 2)]
    client.force_login(member)
    url = reverse("vaults:protect", args=[vault.pk])
    response = client.post(url, {"vm": [v.pk for v in vms], "choice": "existing", "existing": policy.pk,
                                 "page": "3", "nav": "finish"})
    assert response.status_code == 204
    assert "Configuring protection of 2" in notice(response)
    jobs = Job.objects.filter(operation=Operation.CONFIGURE_PROTECTION)
    assert jobs.count() == 2 and {j.task_name for j in jobs} == {"vaults.configure_protection"}
    body = client.get(reverse("vaults:protected", args=[vault.pk])).content.decode()
    assert body.count("Protected - (initial backup pending)") == 2


def test_protect_wizard_needs_a_vm_and_an_administrator_for_a_new_policy(client, member, vault):
    vm = registered(member, vault, "vm01")
    client.force_login(member)
    url = reverse("vaults:protect", args=[vault.pk])
    body = client.post(url, {"page": "1", "nav": "next"}).content.decode()
    assert "Select at least one virtual machine" in body
    response = client.post(url, {**WEEKLY_FORM, "vm": vm.pk, "choice": "new", "page": "3", "nav": "finish"})
    assert "Only Backup Administrators can create policies" in notice(response)


def test_reader_cannot_protect(client, reader, member, vault):
    policy = default_policy(vault)
    vm = registered(member, vault, "vm01")
    client.force_login(reader)
    response = client.post(reverse("vaults:protect", args=[vault.pk]),
                           {"vm": vm.pk, "choice": "existing", "existing": policy.pk, "nav": "finish"})
    assert notice(response) == "Only Backup Operators and Administrators can protect virtual machines."
    assert not Job.objects.filter(operation=Operation.CONFIGURE_PROTECTION).exists()
    assert not ProtectedItem.objects.exists()


def test_reprotecting_a_stopped_item_keeps_its_points(client, owner, member, vault):
    from datetime import UTC, datetime

    old = make_policy(owner, vault)
    item = protected(member, vault, old, "vm01")
    point(item, datetime(2026, 3, 1, 3, tzinfo=UTC))
    stop_protection(member, item)
    other = default_policy(vault)
    client.force_login(member)
    response = client.post(reverse("vaults:protect", args=[vault.pk]),
                           {"vm": item.item.pk, "choice": "existing", "existing": other.pk, "nav": "finish"})
    assert response.status_code == 204
    item.refresh_from_db()
    assert item.policy == other and item.recovery_points.count() == 1


def test_protected_item_drill_down(client, reader, member, vault):
    item = protected(member, vault, default_policy(vault), "vm01")
    client.force_login(reader)
    body = client.get(reverse("vaults:protected_item", args=[vault.pk, item.pk])).content.decode()
    assert "Backup details" in body and "Daily at 22:30 (UTC+00:00)" in body and "Daily, for 30 days" in body


def test_admin_policy_form_applies_the_same_validation(vault):
    from vaults.admin import PolicyAdminForm

    good = stored.policy_to_dict(rules.Policy("Nightly", rules.Schedule.daily(rules.time(3, 0)), (rules.DailyRetention(7),)))
    form = PolicyAdminForm(data={"vault": vault.pk, "name": "Nightly", "definition": json.dumps(good)})
    assert form.is_valid(), form.errors
    bad = {**good, "retention": [{"kind": "daily", "count": 400}]}
    form = PolicyAdminForm(data={"vault": vault.pk, "name": "Nightly", "definition": json.dumps(bad)})
    assert not form.is_valid() and "1 to 366 days" in str(form.errors)
    form = PolicyAdminForm(data={"vault": vault.pk, "name": "defaultpolicy", "definition": json.dumps(good)})
    assert not form.is_valid() and "already exists" in str(form.errors)


def test_protected_items_list_reads_times_in_the_users_zone(client, reader, member, vault):
    from datetime import UTC, datetime

    item = protected(member, vault, default_policy(vault), "vm01")
    point(item, datetime(2026, 7, 1, 22, 30, tzinfo=UTC))
    client.force_login(reader)
    client.cookies["tz"] = "Europe/Berlin"
    body = client.get(reverse("vaults:protected", args=[vault.pk])).content.decode()
    assert "2026-07-02 00:30 (UTC+02:00)" in body
    for column in ("Name", "Cloud service", "Protection status", "Recovery points", "Newest recovery point",
                   "Last backup status"):
        assert f">{column}</a>" in body  # every column sorts


def test_administrator_protects_with_a_new_policy_defined_in_the_wizard(client, owner, vault):
    vm = registered(owner, vault, "vm01")
    client.force_login(owner)
    response = client.post(reverse("vaults:protect", args=[vault.pk]),
                           {**WEEKLY_FORM, "vm": vm.pk, "choice": "new", "page": "3", "nav": "finish"})
    assert response.status_code == 204, response.content.decode()
    assert "with policy 'Weekly-Long'" in notice(response)
    assert vm.protection.policy.name == "Weekly-Long"
    assert Job.objects.filter(operation=Operation.CONFIGURE_PROTECTION, item_key=vm.item_key).exists()


def test_protect_wizard_shows_new_policy_errors_on_its_page(client, owner, vault):
    vm = registered(owner, vault, "vm01")
    client.force_login(owner)
    body = client.post(reverse("vaults:protect", args=[vault.pk]),
                       {**WEEKLY_FORM, "name": "x", "vm": vm.pk, "choice": "new", "page": "2", "nav": "next"}
                       ).content.decode()
    assert "3 to 150 characters" in body
    assert 'name="page" value="2"' in body  # it stays on the page that holds the name


def test_a_new_policy_starts_at_night_in_the_users_zone(client, owner, vault):
    client.force_login(owner)
    client.cookies["tz"] = "Asia/Tokyo"
    body = client.get(reverse("vaults:policy_new", args=[vault.pk])).content.decode()
    assert '<option value="13:30" selected>22:30 (UTC+09:00)</option>' in body


def test_admin_changes_are_logged_and_reconfigure_used_policies(admin_client, owner, member, vault):
    policy = make_policy(owner, vault)
    item = protected(member, vault, policy, "vm01")
    changed = stored.policy_to_dict(rules.Policy("Nightly", rules.Schedule.daily(rules.time(4, 0)),
                                                (rules.DailyRetention(9),)))
    response = admin_client.post(reverse("admin:vaults_policy_change", args=[policy.pk]),
                                 {"vault": vault.pk, "name": "Nightly", "definition": json.dumps(changed)})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.rules.daily.count == 9
    assert OperationLogEntry.objects.filter(operation=LogAction.UPDATE_POLICY).exists()
    assert Job.objects.filter(operation=Operation.CONFIGURE_PROTECTION, item_key=item.item.item_key,
                              status=Status.NOT_STARTED, params__reconfigure=True).exists()
    response = admin_client.post(reverse("admin:vaults_policy_add"),
                                 {"vault": vault.pk, "name": "Other", "definition": json.dumps(changed)})
    assert response.status_code == 302
    assert OperationLogEntry.objects.filter(operation=LogAction.ADD_POLICY, item_name="Other").exists()
    assert vault.policies.get(name="Other").rules.name == "Other"


@pytest.mark.parametrize("cookie", ["Asia%2FTokyo", "Not/AZone", "../../etc"])
def test_zone_cookie_is_read_safely(client, owner, vault, cookie):
    client.force_login(owner)
    client.cookies["tz"] = cookie
    body = client.get(reverse("vaults:policies", args=[vault.pk])).content.decode()
    expected = "07:30 (UTC+09:00)" if "Tokyo" in cookie else "22:30 (UTC+00:00)"
    assert f"Daily at {expected}" in body
