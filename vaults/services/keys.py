"""Vault keys: each vault's data key, wrapped by the installation's master key; export and import.

The master key comes from ``PORTAL_MASTER_KEY`` (64 hex characters, or 32 bytes in base64), else from
``MASTER_KEY_FILE`` under ``VAR_DIR``, made on first use with mode 0600. A vault's data key is wrapped with it by
AES-256-GCM, bound to the vault's store name, and kept in the vault's row; only its fingerprint is ever shown. A
vault made before encryption has no key, and its store stays unencrypted.

An administrator exports a vault's key as printable text (with a checksum) and keeps it somewhere else: with it, a
copy of the vault store opens on any installation; without it, the data cannot be read by anyone.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jobs.models import LogAction
from jobs.services import log_operation
from portal.access import can_administer
from vaults.models import User, Vault
from vaults.services.refusals import InvalidRequest, NotNow, require_administrator
from vaultstore import KeyFormatError, StoreKey, StoreKeyError, VaultStore, short_fingerprint

WRAP_PREFIX = "v1:"
NONCE_BYTES = 12
EXPORT_KEY = LogAction.EXPORT_VAULT_KEY
IMPORT_KEY = LogAction.IMPORT_VAULT_KEY
NOT_ENCRYPTED = gettext_lazy("This vault was created before encryption at rest: its backup data is stored "
                             "unencrypted. Encrypting it in place is not offered; to encrypt, create a new vault (new "
                             "vaults are encrypted) and protect the items there.")


def master_key() -> bytes:
    """The installation's master key: the environment's, else the key file's (made now if there is none)."""
    configured = settings.MASTER_KEY
    if configured:
        return parse_master_key(configured)
    return _key_file(Path(settings.MASTER_KEY_FILE))


def parse_master_key(text: str) -> bytes:
    text = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if ("-" in text or "_" in text) else None,
                               validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ImproperlyConfigured("PORTAL_MASTER_KEY must be 32 bytes written as 64 hex characters or in base64; "
                                   "make one with: python3 -c 'import secrets; print(secrets.token_hex(32))'.")
    return raw


def _key_file(path: Path) -> bytes:
    """Read the key file, or make it: written under a temporary name and linked into place, so two processes
    starting at once agree on one key and neither ever reads a half-written file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, secrets.token_hex(32).encode() + b"\n")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            temporary.unlink()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    try:
        return parse_master_key(path.read_text())
    except ImproperlyConfigured:
        raise ImproperlyConfigured(f"The master key file {path} is damaged: it must hold 64 hex characters.") from None


def _bound_to(vault: Vault) -> bytes:
    return f"rsv-vault-key:{vault.store_key}".encode()


def wrap(vault: Vault, key: StoreKey) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(master_key()).encrypt(nonce, key.secret, _bound_to(vault))
    return WRAP_PREFIX + base64.b64encode(nonce + sealed).decode()


def give_new_key(vault: Vault) -> StoreKey:
    """A new vault's data key: made, wrapped and kept on the row (the caller saves it with the vault)."""
    key = StoreKey.generate()
    vault.wrapped_key, vault.key_fingerprint = wrap(vault, key), key.fingerprint
    return key


def vault_key(vault: Vault) -> StoreKey | None:
    """The vault's data key, or None for a vault made before encryption."""
    if not vault.wrapped_key:
        return None
    raw = base64.b64decode(vault.wrapped_key.removeprefix(WRAP_PREFIX))
    try:
        secret = AESGCM(master_key()).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _bound_to(vault))
    except InvalidTag:
        raise StoreKeyError(_("The key of vault '%(vault)s' cannot be unwrapped with this installation's master key "
                              "(PORTAL_MASTER_KEY, or the master key file under VAR_DIR): the master key changed, or "
                              "the vault's data comes from another installation. Nothing was read or written.")
                            % {"vault": vault.name},
                            recommendation=_("Restore the master key this installation had, or import the vault's "
                                             "exported key on its CONFIGURE page (an administrator).")) from None
    return StoreKey(secret)


def encryption_summary(vault: Vault) -> dict[str, str | bool]:
    """What CONFIGURE and the dashboard say about the vault's encryption. Never the key itself."""
    if not vault.wrapped_key:
        return {"encrypted": False, "text": _("Not encrypted"), "reason": str(NOT_ENCRYPTED)}
    return {"encrypted": True, "text": _("Encrypted (AES-256-GCM)"), "fingerprint": short_fingerprint(vault.key_fingerprint),
            "reason": ""}


def can_manage_keys(user: User) -> bool:
    return user is not None and can_administer(user)


def export_key(user: User, vault: Vault) -> str:
    """The vault's key as printable text, for an administrator to keep apart from the installation. Logged."""
    require_administrator(user, "export a vault's encryption key")
    key = vault_key(vault)
    if key is None:
        raise NotNow(NOT_ENCRYPTED)
    log_operation(user, EXPORT_KEY, subscription=vault.subscription_id, vault=vault, item_type="vault",
                  item_key=f"vault:{vault.pk}", item_name=vault.name, details={"fingerprint": key.short_fingerprint})
    return key.export_text(f"{vault.name} ({vault.subscription})")


def import_key(user: User, vault: Vault, text: str) -> StoreKey:
    """Give the vault the key in ``text`` (an export), after checking it is the key its store was encrypted with:
    after a new master key, or when the vault's store came from another installation."""
    require_administrator(user, "import a vault's encryption key")
    try:
        key = StoreKey.from_export(text)
    except KeyFormatError as error:
        raise InvalidRequest(str(error), field="key") from None
    store_fingerprint = _store_fingerprint(vault)
    if store_fingerprint is None and not vault.wrapped_key:
        raise NotNow(NOT_ENCRYPTED, field="key")
    expected = store_fingerprint or vault.key_fingerprint
    if key.fingerprint != expected:
        raise InvalidRequest(_("This is not the key of vault '%(vault)s': its fingerprint is %(given)s, and the "
                               "vault's data was encrypted with the key %(expected)s. Check that the export is of this "
                               "vault.") % {"vault": vault.name, "given": key.short_fingerprint,
                                            "expected": short_fingerprint(expected)}, field="key")
    vault.wrapped_key, vault.key_fingerprint = wrap(vault, key), key.fingerprint
    Vault.objects.filter(pk=vault.pk).update(wrapped_key=vault.wrapped_key, key_fingerprint=vault.key_fingerprint)
    log_operation(user, IMPORT_KEY, subscription=vault.subscription_id, vault=vault, item_type="vault",
                  item_key=f"vault:{vault.pk}", item_name=vault.name, details={"fingerprint": key.short_fingerprint})
    return key


def _store_fingerprint(vault: Vault) -> str | None:
    """The fingerprint in the vault store's own description, None when the store is unencrypted or not made yet."""
    try:
        return VaultStore.key_fingerprint_at(vault.store_path)
    except FileNotFoundError:
        return None
