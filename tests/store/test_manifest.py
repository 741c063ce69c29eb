"""The manifest's digest, sizes and JSON form stay exactly what their definitions say (stores on disk rely on them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import blake3
from hypothesis import given
from hypothesis import strategies as st

from vaultstore.manifest import (
    _DIGEST_PREFIX,
    DiskManifest,
    RecoveryPoint,
    chunk_count,
    chunk_length,
    data_length,
    disk_digest,
)

CHUNK = 4096


def defined_digest(size: int, chunk_size: int, names: list[str | None]) -> str:
    """The digest as documented: BLAKE3 over prefix, size, chunk size and every chunk's hash, zeros' included."""
    hasher = blake3.blake3(_DIGEST_PREFIX)
    hasher.update(size.to_bytes(8, "little") + chunk_size.to_bytes(8, "little"))
    for index, name in enumerate(names):
        zero = bytes(chunk_length(index, size, chunk_size))
        hasher.update(bytes.fromhex(name) if name is not None else blake3.blake3(zero).digest())
    return hasher.hexdigest()


disks = st.integers(min_value=1, max_value=40 * CHUNK).flatmap(
    lambda size: st.tuples(st.just(size), st.lists(st.one_of(st.none(), st.binary(min_size=32, max_size=32).map(bytes.hex)),
                                                   min_size=chunk_count(size, CHUNK), max_size=chunk_count(size, CHUNK))))


@given(disks)
def test_digest_and_data_length_follow_their_definitions(disk) -> None:
    size, names = disk  # sizes that are not a multiple of the chunk: the last chunk is short, zero or not
    assert disk_digest(size, CHUNK, names) == defined_digest(size, CHUNK, names)
    assert data_length(size, CHUNK, names) == sum(chunk_length(i, size, CHUNK) for i, n in enumerate(names) if n)


def test_a_short_zero_last_chunk_hashes_as_its_own_length() -> None:
    size = 2 * CHUNK + 512
    assert disk_digest(size, CHUNK, [None, None, None]) != disk_digest(3 * CHUNK, CHUNK, [None, None, None])
    assert data_length(size, CHUNK, [None, None, "ab" * 32]) == 512


def test_point_json_is_the_canonical_wrapper_and_loads_back() -> None:
    disk = DiskManifest(name="os", size=2 * CHUNK, chunk_size=CHUNK, chunks=["cd" * 32, None], digest="ef" * 32,
                        data_bytes=CHUNK, stored_bytes=100)
    point = RecoveryPoint(id="job-1", created=datetime(2026, 11, 25, tzinfo=UTC), consistency="crash", disks=[disk],
                          metadata={"job": 1, "note": "caf\u00e9"})
    raw = point.to_json()
    wrapper = json.loads(raw)
    assert raw == json.dumps(wrapper, sort_keys=True, separators=(",", ":")).encode()
    assert RecoveryPoint.from_json("job-1", raw) == point
