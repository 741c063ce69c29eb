"""The vault's encryption key on CONFIGURE: export it (shown once, in a dialog) and import it (after a new master
key, or for a vault store brought from another installation). Administrators only; both are logged."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from vaults.services import keys
from vaults.services.refusals import Refusal
from vaults.views.common import notice, vault_or_404


@require_POST
@never_cache
def export_key(request: HttpRequest, pk: int) -> HttpResponse:
    """POST, not GET: the key must not sit in a URL, a history or a cache, and CSRF guards who asks for it."""
    vault = vault_or_404(request, pk)
    try:
        text = keys.export_key(request.user, vault)
    except Refusal as error:
        return notice(str(error))
    return render(request, "vaults/key_export_dialog.html", {"vault": vault, "key_text": text,
                                                             "encryption": keys.encryption_summary(vault)})


@require_http_methods(["GET", "POST"])
@never_cache
def import_key(request: HttpRequest, pk: int) -> HttpResponse:
    vault = vault_or_404(request, pk)
    error = ""
    if request.method == "POST":
        try:
            key = keys.import_key(request.user, vault, request.POST.get("key", ""))
        except Refusal as refusal:
            error = str(refusal)
        else:
            return notice(_("Imported the key of vault '%(vault)s' (fingerprint %(fingerprint)s): its backups can be "
                            "read again.") % {"vault": vault.name, "fingerprint": key.short_fingerprint},
                          "succeeded", "portal:vault")
    elif not keys.can_manage_keys(request.user):
        return notice(_("Only Backup Administrators can %(action)s.") % {"action": _("import a vault's encryption key")})
    # What was pasted is not rendered back: it may be a key. A refusal answers 200, as htmx swaps only that.
    return render(request, "vaults/key_import_dialog.html", {"vault": vault, "error": error,
                                                             "encryption": keys.encryption_summary(vault)})
