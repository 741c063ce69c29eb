"""Encryption at rest in the engine: nothing readable on disk, every changed bit found, keys checked before use."""

from __future__ import annotations

import os
import random
import shutil

import pytest

from tests.fixtures.store import TEST_CHUNK, text_like
from vaultstore import (
    CorruptChunkError,
    KeyFormatError,
    MemoryDisk,
    MemorySink,
    StoreKey,
    StoreKeyError,
    VaultStore,
)

SECRET_TEXT = b"The quarterly payroll for Contoso is kept in this file. "


def _disk_with_secret() -> MemoryDisk:
    """A disk of text with a known sentence repeated in it, and a stretch of zeros."""
    disk = MemoryDisk(32 * TEST_CHUNK)
    rng = random.Random(7)
    disk.write(0, text_like(rng, 8 * TEST_CHUNK))
    disk.write(8 * TEST_CHUNK, SECRET_TEXT * (4 * TEST_CHUNK // len(SECRET_TEXT)))
    disk.write(20 * TEST_CHUNK, rng.randbytes(4 * TEST_CHUNK))  # incompressible, and the same each time
    return disk


def _files_holding(root, needle: bytes) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file() and needle in path.read_bytes())


def _make(tmp_path, name: str, key: StoreKey | None) -> VaultStore:
    return VaultStore.create(tmp_path / name, chunk_size=TEST_CHUNK, workers=2, key=key)


def test_a_known_text_on_the_disk_appears_in_no_file_of_an_encrypted_store_or_its_copy(tmp_path):
    key = StoreKey.generate()
    primary, secondary = _make(tmp_path, "primary", key), _make(tmp_path, "secondary", key)
    disk = _disk_with_secret()
    first = disk.snapshot()
    base = primary.back_up([("os", disk.source(first))], metadata={"vm": "payroll01", "note": SECRET_TEXT.decode()})
    disk.write(8 * TEST_CHUNK + 100, SECRET_TEXT)
    second = disk.snapshot()
    primary.back_up([("os", disk.source(second, first))], previous=base)
    assert primary.replicate_to(secondary).ok
    primary.collect_garbage(grace_seconds=0)  # repacking rewrites frames: they stay sealed

    for needle in (SECRET_TEXT[:24], b"payroll01", b"Contoso"):
        assert _files_holding(primary.path, needle) == []
        assert _files_holding(secondary.path, needle) == []
    assert len(list((primary.path / "points").glob("*.json"))) == 2

    # The check can fail: the same backup into an unencrypted store leaves the text readable, in packs and points.
    plain = _make(tmp_path, "plain", None)
    plain.back_up([("os", disk.source(first))], metadata={"vm": "payroll01"})
    found = _files_holding(plain.path, SECRET_TEXT[:24])
    assert any(path.startswith("packs/") for path in found)
    assert _files_holding(plain.path, b"payroll01") != []


def test_equal_content_has_another_name_in_each_vault_and_is_stored_once_within_one(tmp_path):
    one, two = _make(tmp_path, "one", StoreKey.generate()), _make(tmp_path, "two", StoreKey.generate())
    block = os.urandom(TEST_CHUNK)
    source = MemoryDisk(4 * TEST_CHUNK)
    for index in range(4):
        source.write(index * TEST_CHUNK, block)
    snapshot = source.snapshot()
    first, second = one.back_up([("os", source.source(snapshot))]), two.back_up([("os", source.source(snapshot))])
    assert one.chunks.names() == {first.disks[0].chunks[0]}  # four equal chunks, stored once
    assert first.disks[0].chunks[0] != second.disks[0].chunks[0]
    assert one.chunks.names().isdisjoint(two.chunks.names())


@pytest.fixture
def encrypted_point(tmp_path):
    store = _make(tmp_path, "vault", StoreKey.generate())
    disk = _disk_with_secret()
    point = store.back_up([("os", disk.source(disk.snapshot()))])
    return store, point


def test_a_flipped_bit_anywhere_in_a_sealed_frame_fails_authentication(encrypted_point):
    store, point = encrypted_point
    name = point.disks[0].chunks[8]
    frame = store.chunks.read_frame(name)
    # The length, the nonce, the ciphertext and the tag: a bit of each, and a few in the middle.
    for offset in sorted({0, 5, 16, 40, len(frame) // 2, len(frame) - 3}):
        damaged = bytearray(frame)
        damaged[offset] ^= 0x01
        with pytest.raises(CorruptChunkError, match="fails authentication"):
            store.chunks.decode(name, bytes(damaged))
    assert store.chunks.get(name) == bytes(SECRET_TEXT * (4 * TEST_CHUNK // len(SECRET_TEXT)))[:TEST_CHUNK]


def test_verify_names_the_point_whose_frame_or_manifest_was_changed(tmp_path, encrypted_point):
    store, point = encrypted_point
    disk = _disk_with_secret()
    disk.write(0, os.urandom(TEST_CHUNK))
    other = store.back_up([("os", disk.source(disk.snapshot()))])
    # A bit in a chunk only the second point has.
    only_other = next(name for name in other.disks[0].chunks if name and name not in point.referenced())
    where = store.chunks.locate(only_other)
    with open(store.chunks.pack_path(where.pack), "r+b") as handle:
        handle.seek(where.offset + where.length - 1)
        last = handle.read(1)[0]
        handle.seek(-1, 1)
        handle.write(bytes([last ^ 0x80]))
    report = store.verify(quarantine=False)
    assert list(report.affected_points) == [other.id]
    assert "fails authentication" in report.bad_chunks[only_other]

    # A bit in the first point's manifest.
    manifest = store.point_path(point.id)
    raw = bytearray(manifest.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    manifest.write_bytes(bytes(raw))
    report = store.verify(quarantine=False)
    assert set(report.corrupt_manifests) == {point.id}
    assert "fails authentication" in report.corrupt_manifests[point.id]
    assert point.id in report.summary() and other.id in report.summary()


def test_a_manifest_renamed_to_another_points_file_does_not_open(encrypted_point):
    store, point = encrypted_point
    fake = store.point_path("job-999")
    shutil.copyfile(store.point_path(point.id), fake)
    assert store.verify(quarantine=False).corrupt_manifests.keys() == {"job-999"}


def test_the_wrong_key_or_no_key_is_refused_before_anything_is_read(encrypted_point):
    store, _point = encrypted_point
    with pytest.raises(StoreKeyError, match=r"is encrypted with another key: its key's fingerprint is "
                                            rf"{store.key.short_fingerprint}, the key given is "):
        VaultStore(store.path, key=StoreKey.generate())
    with pytest.raises(StoreKeyError, match=r"is encrypted, and its key \(fingerprint "
                                            rf"{store.key.short_fingerprint}\) is not available"):
        VaultStore(store.path)
    assert "Import the vault's exported key" in StoreKeyError("x").recommendation


def test_a_key_is_refused_for_an_unencrypted_store_and_replication_across_keys_is_refused(tmp_path, encrypted_point):
    store, _point = encrypted_point
    plain = _make(tmp_path, "plain", None)
    with pytest.raises(StoreKeyError, match="is not encrypted, but a key was given"):
        VaultStore(plain.path, key=store.key)
    stranger = _make(tmp_path, "stranger", StoreKey.generate())
    with pytest.raises(StoreKeyError, match="not under the same key"):
        store.replicate_to(stranger)
    assert stranger.point_ids() == []


def test_a_store_copied_elsewhere_restores_bit_for_bit_with_its_exported_key(tmp_path, encrypted_point):
    store, point = encrypted_point
    exported = store.key.export_text("payroll-vault")
    assert exported.startswith("RSV-VAULT-KEY-1\nvault: payroll-vault\n")
    assert store.key.secret.hex() not in exported  # printable, not the raw bytes

    copy = tmp_path / "elsewhere"
    shutil.copytree(store.path, copy)
    imported = StoreKey.from_export(exported)
    restored = MemorySink()
    VaultStore(copy, key=imported).restore_disk(point.disks[0], restored)
    assert bytes(restored.data) == bytes(_disk_with_secret().data)

    # Only the key line, with its spaces lost or in lower case, is enough.
    line = exported.splitlines()[-1]
    assert StoreKey.from_export(line.replace(" ", "").lower()) == imported


@pytest.mark.parametrize(("mangle", "sentence"), [
    (lambda body: body[:-8], "too short or too long"),
    (lambda body: body[:9] + ("A" if body[9] != "A" else "B") + body[10:], "checksum does not match"),
    (lambda body: body[:9] + "1" + body[10:], "characters a key never has"),
    (lambda body: "", "Paste the exported key"),
])
def test_a_mistyped_export_is_refused_with_what_is_wrong(mangle, sentence):
    exported = StoreKey.generate().export_text()
    body = exported.splitlines()[-1].removeprefix("key: ")
    with pytest.raises(KeyFormatError, match=sentence):
        StoreKey.from_export(f"key: {mangle(body)}" if mangle(body) else "")


def test_the_key_is_never_shown_by_its_repr():
    key = StoreKey.generate()
    assert key.secret.hex() not in repr(key) and repr(key) == f"StoreKey({key.short_fingerprint})"
