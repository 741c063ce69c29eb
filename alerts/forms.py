"""The ALERTS tab's forms: a rule's switch and threshold, and a channel. They parse; ``alerts.services`` decides."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from alerts.models import Channel


class RuleForm(forms.Form):
    enabled = forms.BooleanField(required=False)
    threshold = forms.IntegerField(required=False, min_value=1)


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(choices=Channel.Kind.choices, label=gettext_lazy("Type"))
    name = forms.CharField(max_length=100)
    enabled = forms.BooleanField(required=False, initial=True)
    recipients = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                 help_text=gettext_lazy("Email: addresses, one per line or comma-separated."))
    url = forms.CharField(required=False, max_length=500, label=gettext_lazy("URL"),
                          help_text=gettext_lazy("Webhook: where messages are POSTed as JSON."))
    # Never rendered back: the page says only whether one is set.
    secret = forms.CharField(required=False, max_length=200, widget=forms.PasswordInput(render_value=False),
                             help_text=gettext_lazy("Webhook: signs every message (X-Portal-Signature)."))

    @classmethod
    def of(cls, channel: Channel) -> ChannelForm:
        return cls(initial={"kind": channel.kind, "name": channel.name, "enabled": channel.enabled,
                            "recipients": channel.recipients, "url": channel.url})
