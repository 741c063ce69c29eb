from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from vaults.models import Subscription, Vault


class QuickCreateForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    region = forms.ChoiceField(choices=())
    subscription = forms.ModelChoiceField(queryset=Subscription.objects.none(), empty_label=None)

    def __init__(self, *args: Any, subscriptions: QuerySet[Subscription], regions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subscription"].queryset = subscriptions
        self.fields["region"].choices = [(r, r) for r in regions]
        self.fields["region"].error_messages["invalid_choice"] = _("'%(value)s' is not a region of this subscription.")


class ReplicationForm(forms.Form):
    replication = forms.ChoiceField(choices=Vault.Replication.choices, widget=forms.RadioSelect)


class SoftDeleteForm(forms.Form):
    """The Soft delete section of CONFIGURE. The 14-180 day range and always-on are the service's rules, worded there."""

    soft_delete_enabled = forms.BooleanField(required=False)
    soft_delete_days = forms.IntegerField(error_messages={"required": _("Enter the soft-delete period in days."),
                                                          "invalid": _("Enter the soft-delete period as a whole number "
                                                                       "of days, from 14 to 180.")})
    soft_delete_always_on = forms.BooleanField(required=False)

    @classmethod
    def of(cls, vault: Vault) -> SoftDeleteForm:
        return cls(initial={"soft_delete_enabled": vault.soft_delete_enabled, "soft_delete_days": vault.soft_delete_days,
                            "soft_delete_always_on": vault.soft_delete_always_on})


class ImmutabilityForm(forms.Form):
    """The Immutability section of CONFIGURE; locking asks for ``confirm_lock``, as it cannot be undone."""

    immutability = forms.ChoiceField(choices=Vault.Immutability.choices, widget=forms.RadioSelect,
                                     error_messages={"invalid_choice": _("Choose Disabled, Enabled or Locked.")})
    confirm_lock = forms.BooleanField(required=False)


class DeleteVaultForm(forms.Form):
    reason = forms.CharField(max_length=500, strip=True, error_messages={"required": _("Give a reason for deleting the vault.")})


class SubscriptionForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("Name"))
    subscription_id = forms.CharField(max_length=64, label=_("Subscription ID"),
                                      help_text=_("A GUID, as the subscription's settings show it."))
    host = forms.CharField(max_length=255, label=_("Host"),
                           help_text=_("host[:port] of the Service Management endpoint. Plain HTTP reaches only the lab "
                                       "fabric on this machine."))
    protocol = forms.ChoiceField(choices=Subscription.Protocol.choices, label=_("Protocol"))
    certificate = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, label=_("Certificate"),
                                  help_text=_("Management certificate and key, PEM. Stored privately, never shown again."))
    ca_certificate = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label=_("CA certificate"),
                                     help_text=_("CA to trust for the endpoint's TLS certificate, PEM (optional)."))
