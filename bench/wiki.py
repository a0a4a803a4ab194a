"""Wiki benchmark: rendering throughput against Trac 1.6, and the page view under load.

1. Renders one realistic page of at least 100 KB (headings, paragraphs with inline styles,
   nested and numbered lists, definition lists, tables, code and processor blocks, links of
   every common kind, macros), and two of Trac's own default pages (WikiFormatting and
   TracLinks, the text Trac 1.6 ships), with codeyard's formatter and with Trac 1.6's
   formatter on the same text, in the same run (Trac in its side virtualenv
   ``var/trac-venv``), straight from the text (no rendered-page cache), and reports
   milliseconds per render and the ratio for each page.
2. Serves the page with ``codeyard serve`` and loads ``/wiki/<page>`` twice: with the
   rendered-page cache on (what every view after the first costs) and off
   (``[wiki] render_cache_size = 0``: every view renders).

``python -m bench.wiki [--renders N] [--requests N] [--concurrency N]``; ``bench.run`` calls
``bench.wiki.main([])``. Results go to ``bench/results/wiki.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results", "wiki.md")
PAGE = "BenchmarkGuide"

WORDS = ("project server ticket milestone change source branch release review build test "
         "deploy option module page link table list value user team report query design "
         "plan issue fix merge commit version history search index feature request").split()


# ---------------------------------------------------------------------------
# The page


def realistic_page(min_bytes: int = 100_000, seed: int = 16) -> str:
    """Deterministic wiki text of at least ``min_bytes`` bytes with mixed markup."""
    rng = random.Random(seed)

    def words(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    def inline() -> str:
        parts = []
        for _ in range(rng.randint(4, 9)):
            kind = rng.randrange(14)
            w = words(rng.randint(2, 6))
            parts.append({
                0: f"'''{w}'''", 1: f"''{w}''", 2: f"`{rng.choice(WORDS)}()`",
                3: f"{rng.choice(['WikiStart', 'TracGuide', 'MissingPage', 'SandBox'])}",
                4: f"[wiki:TracGuide#section {w}]", 5: f"[https://example.org/{rng.choice(WORDS)} {w}]",
                6: f"#{rng.randint(1, 500)}", 7: f"[[WikiStart|{w}]]", 8: f"__{w}__",
                9: f"~~{w}~~", 10: "^sup^ and ,,sub,,", 11: f"!NotALink {w}",
                12: "https://www.example.com/path?q=1", 13: f"{{{{{{{w}}}}}}}",
            }[kind])
            parts.append(words(rng.randint(3, 12)))
        return " ".join(parts)

    out = ["[[PageOutline(2-3)]]", "", "= Benchmark guide =", "", inline(), ""]
    section = 0
    while sum(len(s) + 1 for s in out) < min_bytes:
        section += 1
        out += [f"== Section {section}: {words(3)} ==", "", inline(), inline(), ""]
        out += [f"=== Details {section} === #details-{section}", ""]
        for _ in range(rng.randint(3, 6)):
            out.append(f" * {inline()}")
            if rng.random() < 0.5:
                out.append(f"   * {inline()}")
                out.append(f"     1. {words(5)}")
        out.append("")
        out += [f" 1. {words(6)}", f" 1. {inline()}", "    a. nested " + words(4), ""]
        out += [f" {rng.choice(WORDS)}:: {inline()}", f" {rng.choice(WORDS)}::", f"   {words(8)}", ""]
        out.append("||= Name =||= Value =||= Notes =||")
        for _ in range(rng.randint(3, 8)):
            out.append(f"|| {rng.choice(WORDS)} || {rng.randint(1, 999)} || {inline()} ||")
        out.append("")
        if section % 3 == 0:
            out += ["{{{#!python", "def handler(req, page):", "    '''Serve one page.'''",
                    f"    return render(req, {rng.randint(1, 9)!r}, '{rng.choice(WORDS)}')", "}}}", ""]
        elif section % 3 == 1:
            out += ["{{{", f"$ codeyard admin /srv/env {rng.choice(WORDS)} list", words(10), "}}}", ""]
        else:
            out += ["{{{#!div style=\"border: 1px solid #ccc\"", f"Note: {inline()}", "}}}", ""]
        out += [f"  {inline()}", "", f"> {words(12)}", "> > " + words(6), ""]
        out += [f"Line one[[BR]]line two {words(4)} \\\\ and three.", "", "----", ""]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Rendering throughput


# Both sides render as a site at this URL (Trac tells external links from local ones by it;
# without it every link counts as local and Trac leaves out the external-link markup).
BASE_URL = "http://localhost/trac.cgi"


# Trac's own default pages rendered besides the big page (their text as Trac 1.6 ships it).
TRAC_PAGES = ("WikiFormatting", "TracLinks")
# Small pages are rendered this many times more often than the big one (steadier medians).
SMALL_PAGE_RENDERS = 5


def _timed(render, renders: int) -> list[float]:
    times = []
    for _ in range(renders):
        began = time.perf_counter()
        render()
        times.append((time.perf_counter() - began) * 1000)
    return times


def time_codeyard(pages: dict[str, str], renders: dict[str, int], workdir: str) -> dict:
    """{page: timings} of codeyard's formatter on each text (``pages``: name -> text)."""
    from codeyard.env import Environment
    from codeyard.perm import Resource
    from codeyard.util.href import Href
    from codeyard.wiki.formatter import FormatContext, format_to_html
    from codeyard.wiki.model import WikiPage

    env = Environment.create(os.path.join(workdir, "render-env"),
                             [("logging", "log_type", "none"), ("trac", "base_url", BASE_URL)])
    results = {}
    try:
        for name, text in pages.items():
            page = WikiPage(env, name)
            if page.text != text:
                page.text = text
                page.save("bench")
            ctx = FormatContext(env, href=Href("/trac.cgi"), resource=Resource("wiki", name))
            html = format_to_html(ctx, text)  # warm up (caches, lexers)
            times = _timed(lambda ctx=ctx, text=text: format_to_html(ctx, text), renders[name])
            results[name] = {"median_ms": statistics.median(times), "min_ms": min(times),
                             "html_bytes": len(html), "html": str(html)}
    finally:
        env.shutdown()
    return results


TRAC_SCRIPT = r"""
import json, sys, time, statistics, tempfile, os
from trac.env import Environment
from trac.test import MockRequest
from trac.web.chrome import web_context
from trac.wiki.formatter import format_to_html
from trac.wiki.model import WikiPage

pages_file, BASE_URL, out_file = sys.argv[1], sys.argv[2], sys.argv[3]
with open(pages_file, encoding="utf-8") as fh:
    pages = json.load(fh)
path = os.path.join(tempfile.mkdtemp(prefix="trac-bench-"), "env")
env = Environment(path, create=True, options=[("trac", "database", "sqlite:db/trac.db"),
                                               ("trac", "base_url", BASE_URL),
                                               ("logging", "log_type", "none")])
results = {}
for name, (text, renders) in pages.items():
    page = WikiPage(env, name)
    if page.text != text:
        page.text = text
        page.save("bench", "")
    req = MockRequest(env, path_info="/wiki/" + name)
    ctx = web_context(req, "wiki", name)
    html = str(format_to_html(env, ctx, text))
    times = []
    for _ in range(renders):
        began = time.perf_counter()
        format_to_html(env, ctx, text)
        times.append((time.perf_counter() - began) * 1000)
    results[name] = {"median_ms": statistics.median(times), "min_ms": min(times),
                     "html_bytes": len(html), "html": html}
env.shutdown()
with open(out_file, "w", encoding="utf-8") as fh:
    json.dump(results, fh)
"""

TRAC_PAGES_SCRIPT = r"""
import json, os, sys
import trac
folder = os.path.join(os.path.dirname(trac.__file__), "wiki", "default-pages")
pages = {}
for name in sys.argv[1:]:
    with open(os.path.join(folder, name), encoding="utf-8") as fh:
        pages[name] = fh.read()
print(json.dumps(pages))
"""


def trac_python() -> str | None:
    """The Python of the side virtualenv holding Trac 1.6 (built in var/trac-venv if needed)."""
    try:
        sys.path.insert(0, REPO)
        from tests.support.trac import ensure_trac

        return ensure_trac().python
    except BaseException as exc:  # pytest.fail raises outside pytest too
        print(f"Trac 1.6 is not available: {exc}", file=sys.stderr)
        return None


def _trac_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def trac_default_pages(python: str | None) -> dict[str, str]:
    """The text of ``TRAC_PAGES`` as Trac 1.6 ships it (codeyard's own pages, written in our
    words, when Trac is not available: then there is no comparison anyway)."""
    if python is not None:
        done = subprocess.run([python, "-c", TRAC_PAGES_SCRIPT, *TRAC_PAGES], capture_output=True,
                              text=True, env=_trac_environ(), timeout=300)
        if done.returncode == 0:
            return json.loads(done.stdout)
        print(f"Reading Trac's default pages failed:\n{done.stderr[-3000:]}", file=sys.stderr)
    from codeyard.wiki.setup import default_pages

    ours = default_pages()
    return {name: ours[name] for name in TRAC_PAGES}


def time_trac(python: str | None, pages: dict[str, str], renders: dict[str, int],
              workdir: str) -> dict | None:
    """{page: timings} of Trac 1.6's formatter on the same texts (None without Trac)."""
    if python is None:
        return None
    pages_file = os.path.join(workdir, "pages.json")
    with open(pages_file, "w", encoding="utf-8") as fh:
        json.dump({name: (text, renders[name]) for name, text in pages.items()}, fh)
    out_file = os.path.join(workdir, "trac.json")
    done = subprocess.run([python, "-c", TRAC_SCRIPT, pages_file, BASE_URL, out_file],
                          capture_output=True, text=True, env=_trac_environ(), timeout=1800)
    if done.returncode != 0:
        print(f"Trac rendering failed:\n{done.stderr[-3000:]}", file=sys.stderr)
        return None
    with open(out_file, encoding="utf-8") as fh:
        return json.load(fh)


def same_html(a: str, b: str) -> bool:
    """Equal as the golden tests compare: whitespace between tags and attribute order aside."""
    from tests.unit.wiki.test_golden import normalize

    return normalize(a) == normalize(b)


# ---------------------------------------------------------------------------
# Page views under load


def serve_and_load(text: str, args, workdir: str) -> list:
    from bench.run import Result, fetch, free_port, measure, start, stop
    from codeyard.env import Environment
    from codeyard.wiki.model import WikiPage

    parent = os.path.join(workdir, "served")
    os.makedirs(parent)
    env = Environment.create(os.path.join(parent, "wiki"), [("logging", "log_type", "none")])
    page = WikiPage(env, PAGE)
    page.text = text
    page.save("bench")
    env.shutdown()
    results: list[Result] = []
    for label, size in (("page view, cache on", "256"), ("page view, cache off", "0")):
        env = Environment(os.path.join(parent, "wiki"))
        env.config.set("wiki", "render_cache_size", size)
        env.config.save()
        env.shutdown()
        port = free_port()
        proc = start([sys.executable, "-m", "codeyard", "serve", "--port", str(port),
                      "--workers", str(args.workers), "--no-access-log", "-e", parent],
                     port, os.path.join(workdir, f"serve-{size}.log"))
        try:
            path = f"/wiki/wiki/{PAGE}"
            for _ in range(2 * args.workers):
                fetch(port, "/wiki/about")  # open the project and compile templates first
            began = time.perf_counter()
            status, _body = fetch(port, path)
            first_ms = (time.perf_counter() - began) * 1000
            result = measure(label, port, path, args, workdir)
            result.first_ms = first_ms  # type: ignore[attr-defined]
            results.append(result)
        finally:
            stop(proc)
    return results


# ---------------------------------------------------------------------------
# Report


def report(pages: dict[str, str], ours: dict, trac: dict | None, views: list, args) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    text = pages[PAGE]
    lines = [
        "# Wiki: rendering against Trac 1.6, and page views",
        "",
        f"Measured {when} on {platform.machine()} with {cores} cores "
        f"({platform.python_implementation()} {platform.python_version()}), by "
        "`python -m bench.wiki` (part of `make bench`).",
        "",
        f"The pages: {PAGE}, {len(text.encode()):,} bytes, {text.count(chr(10)):,} lines of mixed "
        "wiki markup (headings, inline styles, nested and numbered lists, definition lists, "
        "tables, code and processor blocks, wiki/ticket/external links, macros); and "
        + " and ".join(TRAC_PAGES) + ", two of Trac's own default pages (the text Trac 1.6 "
        "ships" + ("" if trac else "; here codeyard's own pages, Trac being unavailable")
        + ").",
        "",
        "## Rendering a page to HTML (median of "
        f"{args.renders} renders of {PAGE}, {args.renders * SMALL_PAGE_RENDERS} of the others, "
        "after a warm-up, from the text: no rendered-page cache; same texts, same run)",
        "",
        "| Page | bytes | codeyard ms (median) | fastest | Trac 1.6 ms (median) | fastest "
        "| Trac / codeyard | fastest / fastest | same HTML |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, page_text in pages.items():
        mine = ours[name]
        theirs = (trac or {}).get(name)
        if theirs:
            same = "yes" if same_html(mine["html"], theirs["html"]) else "no"
            lines.append(f"| {name} | {len(page_text.encode()):,} | {mine['median_ms']:.1f} | "
                         f"{mine['min_ms']:.1f} | {theirs['median_ms']:.1f} | "
                         f"{theirs['min_ms']:.1f} | "
                         f"**{theirs['median_ms'] / mine['median_ms']:.2f}×** | "
                         f"{theirs['min_ms'] / mine['min_ms']:.2f}× | {same} |")
        else:
            lines.append(f"| {name} | {len(page_text.encode()):,} | {mine['median_ms']:.1f} | "
                         f"{mine['min_ms']:.1f} | – | – | – | – | – |")
    if trac:
        lines += ["", "Trac / codeyard is how many times faster codeyard renders the page "
                  "(Trac's median time over codeyard's; fastest / fastest: the same with each "
                  "side's fastest render, which a busy machine disturbs least). Same HTML "
                  "compares the two outputs as "
                  "the golden tests compare them (attribute order and whitespace between tags "
                  "aside); the default pages link to pages and features that exist on one side "
                  "only, so their HTML differs in places."]
    else:
        lines += ["", "Trac 1.6 was not available in this run: no comparison."]
    if views:
        lines += ["", f"## Viewing the page (`codeyard serve --workers {args.workers}`, "
                  f"{args.concurrency} connections, up to {args.requests} requests or "
                  f"{args.time_limit:.0f} s)", "",
                  "| Case | first view ms | Requests | Failed | req/s | p50 ms | p99 ms |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in views:
            lines.append(f"| {r.label} | {getattr(r, 'first_ms', 0.0):.0f} | {r.requests} | "
                         f"{r.failed} | {r.rps:,.1f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} |")
        if len(views) == 2 and views[1].rps:
            lines += ["", "The first view of a page renders it (and fills the cache); every "
                      f"later view is served from the cache at **{views[0].rps / views[1].rps:.1f}×** "
                      "the views per second of rendering every time. A cached entry is checked against the "
                      "shared generation counters on every view, so a page created or deleted "
                      "by any process is reflected on the next request."]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="codeyard wiki benchmark")
    parser.add_argument("--renders", type=int, default=10)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--time-limit", type=float, default=15.0)
    parser.add_argument("--client", choices=("auto", "ab", "python"), default="auto")
    parser.add_argument("--no-serve", action="store_true", help="only time the formatters")
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    if args.client == "auto":
        args.client = "ab" if shutil.which("ab") else "python"
    workdir = tempfile.mkdtemp(prefix="codeyard-wiki-bench-")
    try:
        python = trac_python()
        pages = {PAGE: realistic_page(args.size), **trac_default_pages(python)}
        renders = {name: args.renders * (1 if name == PAGE else SMALL_PAGE_RENDERS)
                   for name in pages}
        print(f"Rendering {', '.join(pages)} with codeyard ...", flush=True)
        ours = time_codeyard(pages, renders, workdir)
        for name, result in ours.items():
            print(f"  codeyard {name}: {result['median_ms']:.1f} ms per render", flush=True)
        print("Rendering them with Trac 1.6 ...", flush=True)
        trac = time_trac(python, pages, renders, workdir)
        for name, result in (trac or {}).items():
            print(f"  Trac 1.6 {name}: {result['median_ms']:.1f} ms per render", flush=True)
        text = pages[PAGE]
        views = [] if args.no_serve else serve_and_load(text, args, workdir)
        out = report(pages, ours, trac, views, args)
        os.makedirs(os.path.dirname(args.output), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(out)
        print(out)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
