"""Encryption at rest: a vault's data key, what it derives, and the sealed forms of frames and manifests.

One random 32-byte data key per vault. Three keys are derived from it with BLAKE3's key derivation (distinct
contexts, so no derived key says anything about another):

- the **naming key**: a chunk's name is the keyed BLAKE3 of its bytes, so equal content in two vaults has two
  names and a name reveals nothing without the key; dedup within the vault is unchanged;
- the **sealing key**: AES-256-GCM over every stored frame (after zstd) and every point manifest. Nonces are 96
  random bits: the chance of a repeat stays below 2^-32 up to 2^32 seals per key (16 TiB of 4 KiB chunks), far
  beyond a vault's life at 256 KiB chunks, and random nonces need no counter kept safe across crashes;
- the **fingerprint**: printed beside an exported key and kept in ``store.json``, so a store opened with the wrong
  key is told so before anything is read.

The key is exported as printable text (base32 in groups, with a checksum), so a mistyped character is caught on
import rather than found out at the first restore. Written here rather than taken from a library: it is the small
glue of a few calls to ``cryptography`` and ``blake3``; the ciphers themselves are theirs.
"""

from __future__ import annotations

import base64
import os
import re
import struct

import blake3
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CIPHER_NAME = "aes-256-gcm"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
# A sealed frame in a pack: its length (authenticated, so the index rebuild can walk frames), nonce, ciphertext+tag.
FRAME_HEADER = struct.Struct("<I")
FRAME_OVERHEAD = FRAME_HEADER.size + NONCE_BYTES + TAG_BYTES
MANIFEST_MAGIC = b"RSVSEAL1"
EXPORT_HEADER = "RSV-VAULT-KEY-1"
_CHECKSUM_BYTES = 4
_GROUP = 6
_BASE32 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_EXPORT_LENGTH = -(-(KEY_BYTES + _CHECKSUM_BYTES) * 8 // 5)


class KeyFormatError(ValueError):
    """Text offered as an exported key is not one: the sentence says what is wrong with it."""


def _derive(context: str, secret: bytes) -> bytes:
    return blake3.blake3(secret, derive_key_context=f"rsv-vault-store 2026 {context}").digest()


class StoreKey:
    """A vault's data key. Never printed: its repr shows only the fingerprint."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_BYTES:
            raise ValueError(f"a vault key is {KEY_BYTES} bytes")
        self.secret = secret
        self.fingerprint = _derive("fingerprint", secret).hex()
        self._naming = _derive("chunk names", secret)
        self._aead = AESGCM(_derive("sealing", secret))  # immutable, so one object serves every thread

    def __repr__(self) -> str:
        return f"StoreKey({self.short_fingerprint})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoreKey) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    @classmethod
    def generate(cls) -> StoreKey:
        return cls(os.urandom(KEY_BYTES))

    # --- names -------------------------------------------------------------

    def name(self, data: bytes | bytearray | memoryview) -> str:
        # keyed BLAKE3 releases the GIL on large inputs like the plain hash, so worker threads name in parallel.
        return blake3.blake3(data, key=self._naming).hexdigest()

    # --- frames in packs -----------------------------------------------------

    def seal_frame(self, compressed: bytes) -> bytes:
        header = FRAME_HEADER.pack(NONCE_BYTES + len(compressed) + TAG_BYTES)
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self._aead.encrypt(nonce, compressed, header)

    def open_frame(self, frame: bytes | memoryview) -> bytes:
        """The compressed bytes of a sealed frame; ``InvalidTag`` when any bit of it changed."""
        header = bytes(frame[:FRAME_HEADER.size])
        if len(frame) < FRAME_OVERHEAD or FRAME_HEADER.unpack(header)[0] != len(frame) - FRAME_HEADER.size:
            raise InvalidTag()
        nonce = bytes(frame[FRAME_HEADER.size:FRAME_HEADER.size + NONCE_BYTES])
        return self._aead.decrypt(nonce, frame[FRAME_HEADER.size + NONCE_BYTES:], header)

    # --- manifests -----------------------------------------------------------

    def seal_manifest(self, point_id: str, raw: bytes) -> bytes:
        # The point's id is authenticated with it, so a manifest renamed to another point's file fails to open.
        nonce = os.urandom(NONCE_BYTES)
        return MANIFEST_MAGIC + nonce + self._aead.encrypt(nonce, raw, point_id.encode())

    def open_manifest(self, point_id: str, sealed: bytes) -> bytes:
        if not sealed.startswith(MANIFEST_MAGIC) or len(sealed) < len(MANIFEST_MAGIC) + NONCE_BYTES + TAG_BYTES:
            raise InvalidTag()
        nonce = sealed[len(MANIFEST_MAGIC):len(MANIFEST_MAGIC) + NONCE_BYTES]
        return self._aead.decrypt(nonce, sealed[len(MANIFEST_MAGIC) + NONCE_BYTES:],
                                  point_id.encode())

    # --- export --------------------------------------------------------------

    def export_text(self, label: str = "") -> str:
        """Printable: a header, the fingerprint, and the key with a checksum in groups of six characters."""
        body = base64.b32encode(self.secret + _checksum(self.secret)).decode().rstrip("=")
        groups = " ".join(body[i:i + _GROUP] for i in range(0, len(body), _GROUP))
        lines = [EXPORT_HEADER]
        if label:
            lines.append(f"vault: {label}")
        lines += [f"fingerprint: {self.short_fingerprint}", f"key: {groups}"]
        return "\n".join(lines) + "\n"

    @property
    def short_fingerprint(self) -> str:
        return short_fingerprint(self.fingerprint)

    @classmethod
    def from_export(cls, text: str) -> StoreKey:
        """The key in exported text (the whole export, or only its key line); ``KeyFormatError`` says what is wrong."""
        line = re.search(r"^key:(.*)$", text, re.MULTILINE)
        body = re.sub(r"[\s-]", "", line.group(1) if line else text).upper()
        if not body:
            raise KeyFormatError("Paste the exported key: the text that starts with " + EXPORT_HEADER + ".")
        if not set(body) <= _BASE32:
            raise KeyFormatError("This is not an exported vault key: it holds characters a key never has. "
                                 "Paste the whole text of the export.")
        if len(body) != _EXPORT_LENGTH:
            raise KeyFormatError("This key is too short or too long: a character is missing or extra. "
                                 "Paste the whole text of the export.")
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
        secret, checksum = raw[:KEY_BYTES], raw[KEY_BYTES:]
        if _checksum(secret) != checksum:
            raise KeyFormatError("This key's checksum does not match: a character was mistyped. "
                                 "Paste the exported text again rather than typing it.")
        return cls(secret)


def short_fingerprint(fingerprint: str) -> str:
    """What people compare: the first 64 bits of a fingerprint, in groups of four."""
    return "-".join(fingerprint[i:i + 4] for i in range(0, 16, 4))


def _checksum(secret: bytes) -> bytes:
    return blake3.blake3(secret, derive_key_context="rsv-vault-store 2026 export checksum").digest()[:_CHECKSUM_BYTES]


__all__ = ["CIPHER_NAME", "FRAME_HEADER", "FRAME_OVERHEAD", "InvalidTag", "KeyFormatError", "StoreKey",
           "short_fingerprint"]
