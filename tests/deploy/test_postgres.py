"""Where nothing answers at 127.0.0.1:5432, the deployment tests start a PostgreSQL cluster of their own."""

from __future__ import annotations

import glob
import shutil
import tempfile
from pathlib import Path

import pytest

from .conftest import private_cluster


@pytest.mark.skipif(shutil.which("initdb") is None, reason="PostgreSQL's programs are not installed")
def test_a_private_cluster_starts_takes_a_database_and_leaves_nothing_behind():
    pattern = str(Path(tempfile.gettempdir()) / "portal-postgres-*")
    before = set(glob.glob(pattern))
    with private_cluster() as server:
        assert server.port != 5432 and server.answers()
        server.execute('CREATE DATABASE "private_check"')
        server.execute('DROP DATABASE "private_check"')
        assert len(set(glob.glob(pattern)) - before) == 1
    assert not server.answers()
    assert set(glob.glob(pattern)) == before
