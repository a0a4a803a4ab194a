"""BoundedCache.by_stat: a small file read again only when its stat changes."""

from __future__ import annotations

import os

import pytest

from codeyard.util.lru import BoundedCache


def test_a_file_is_read_again_only_when_its_stat_changes(tmp_path):
    path = tmp_path / "f"
    path.write_text("one")
    reads = []

    def read(p: str) -> str:
        reads.append(p)
        with open(p, encoding="utf-8") as fh:
            return fh.read()

    cache = BoundedCache(4)
    assert [cache.by_stat(str(path), read) for _ in range(3)] == ["one"] * 3
    assert len(reads) == 1
    path.write_text("three")  # another size
    assert cache.by_stat(str(path), read) == "three" and len(reads) == 2
    replaced = tmp_path / "g"
    replaced.write_text("tres!")  # same size, another file put in its place
    os.replace(replaced, path)
    assert cache.by_stat(str(path), read) == "tres!" and len(reads) == 3
    path.unlink()
    with pytest.raises(OSError):
        cache.by_stat(str(path), read)
