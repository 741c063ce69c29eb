from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from portal.access import can_administer
from vaults.models import Policy, RegisteredItem, Subscription, Vault, VirtualMachine
from vaults.operations.protection import ConfigureProtection
from vaults.policy import rules, stored
from vaults.services import policies
from vaults.services.refusals import Refusal
from vaults.services.subscriptions import check_endpoint, write_private


class SubscriptionAdminForm(forms.ModelForm):
    certificate = forms.CharField(widget=forms.Textarea, required=False,
                                  help_text="Management certificate and key (PEM). Leave empty to keep the current one.")
    ca_certificate = forms.CharField(widget=forms.Textarea, required=False,
                                     help_text="CA to trust for the endpoint (PEM). Leave empty to keep the current one.")

    class Meta:
        model = Subscription
        fields = ["name", "subscription_id", "host", "protocol", "members"]

    def clean(self) -> dict:
        """The portal's rules for an endpoint hold here too (a GUID, a certificate with its key, no metadata
        address, plain HTTP only to the lab fabric): the admin site is no way around them."""
        data = super().clean()
        kept = Path(self.instance.certificate_path) if self.instance.pk and self.instance.certificate_path else None
        try:
            data["subscription_id"] = check_endpoint(
                subscription_id=data.get("subscription_id", ""), host=data.get("host", ""),
                protocol=data.get("protocol", ""), ca_pem=data.get("ca_certificate", ""),
                certificate_pem=data.get("certificate", "") or (kept.read_text() if kept and kept.exists() else ""))
        except Refusal as error:
            self.add_error(error.field if error.field in self.fields else None, str(error))
        return data


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionAdminForm
    list_display = ["name", "subscription_id", "protocol", "host", "has_certificate"]
    filter_horizontal = ["members"]

    def save_model(self, request: HttpRequest, obj: Subscription, form: SubscriptionAdminForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Certificates are written to private files, never kept in the database or shown again.
        if form.cleaned_data.get("certificate", "").strip():
            obj.certificate_path = str(write_private(f"{obj.pk}-management.pem", form.cleaned_data["certificate"]))
        if form.cleaned_data.get("ca_certificate", "").strip():
            obj.ca_path = str(write_private(f"{obj.pk}-ca.pem", form.cleaned_data["ca_certificate"]))
        obj.save(update_fields=["certificate_path", "ca_path"])


@admin.register(Vault)
class VaultAdmin(admin.ModelAdmin):
    """Soft delete and immutability change only on the vault's CONFIGURE tab, by their rules and with a log entry; a
    vault the portal would refuse to delete (registered items, soft-deleted data) cannot be deleted here either."""

    list_display = ["name", "subscription", "region", "status", "replication", "immutability"]
    list_filter = ["status", "region"]
    readonly_fields = ["status", "soft_delete_enabled", "soft_delete_days", "soft_delete_always_on", "immutability"]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Vault | None = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or not obj.delete_refusal())


@admin.register(VirtualMachine)
class VirtualMachineAdmin(admin.ModelAdmin):
    list_display = ["name", "cloud_service", "region", "power_state", "agent_status", "gone"]
    list_filter = ["region", "gone"]
    search_fields = ["name", "cloud_service"]


@admin.register(RegisteredItem)
class RegisteredItemAdmin(admin.ModelAdmin):
    list_display = ["vm", "vault", "status"]
    list_filter = ["status"]


class PolicyAdminForm(forms.ModelForm):
    """The stored definition is checked by the same rules as the policy editor's."""

    class Meta:
        model = Policy
        fields = ["vault", "name", "definition"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        vault, name, definition = data.get("vault"), data.get("name"), data.get("definition")
        if vault is None or not name or definition is None:
            return data
        try:
            candidate = stored.policy_from_dict({**definition, "name": name})
        except (KeyError, TypeError, ValueError) as error:
            raise forms.ValidationError({"definition": f"The definition is not a stored policy: {error}."}) from error
        taken = vault.policies.exclude(pk=self.instance.pk).values_list("name", flat=True)
        try:
            rules.check(candidate, taken)
        except rules.PolicyInvalid as invalid:
            raise forms.ValidationError(" ".join(e.message for e in invalid.errors)) from invalid
        data["definition"] = stored.policy_to_dict(candidate)
        return data


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    """Changes here go the editor's way: logged, and a used policy's VMs re-configured by jobs."""

    form = PolicyAdminForm
    list_display = ["name", "vault", "updated"]
    list_filter = ["vault"]
    search_fields = ["name"]

    def save_model(self, request: HttpRequest, obj: Policy, form: PolicyAdminForm, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            policies.log_policy_added(request.user, obj)
            return
        ConfigureProtection.update_policy(request.user, obj, obj.rules)

    def delete_model(self, request: HttpRequest, obj: Policy) -> None:
        policies.delete_policy(request.user, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Policy]) -> None:
        for obj in queryset:
            policies.delete_policy(request.user, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return can_administer(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Policy | None = None) -> bool:
        return can_administer(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Policy | None = None) -> bool:
        return can_administer(request.user) and super().has_delete_permission(request, obj)
