"""The page benchmark's summary: its last line has one fixed form, to compare runs by eye."""

from __future__ import annotations

import re

from bench.pages import summary_line
from bench.run import Result


def result(rps: float, p99: float = 10.0) -> Result:
    return Result("x", "/", 100, 0, 1.0, rps, 5.0, p99)


def test_the_summary_line_has_the_fixed_form():
    rows = [("WikiStart", "/p/wiki/WikiStart", result(600, 20.4), result(40)),
            ("Ticket", "/p/ticket/1", result(300, 41.0), result(30)),
            ("Search", "/p/search", result(250, 12.0), result(10))]
    line = summary_line(rows, result(6000))
    assert line == ("bench: codeyard/trac min 10.0x median 15.0x over 3 pages; p99 max 41 ms; "
                    "ceiling wiki 10% ticket 5%")
    assert re.fullmatch(r"bench: codeyard/trac min [\d.]+x median [\d.]+x over \d+ pages; "
                        r"p99 max \d+ ms; ceiling wiki \d+% ticket \d+%", line)


def test_worker_memory_names_its_mapped_files_part():
    import mmap
    import os
    import tempfile

    from bench.pages import workers_rss_mib

    with tempfile.TemporaryFile() as fh:
        fh.write(b"x" * (8 << 20))
        fh.flush()
        before = workers_rss_mib(os.getpid())
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            assert sum(mapped[i] for i in range(0, len(mapped), 4096)) == 120 * 2048
            rss, files = workers_rss_mib(os.getpid())
    assert 0 < files <= rss
    assert files - before[1] >= 7  # the 8 MiB read through the map count as mapped files
