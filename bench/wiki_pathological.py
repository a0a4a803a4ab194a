"""Wiki rendering of hostile text: time per KB of every markup token repeated.

Each token of WikiFormatting is repeated into a text of 16, 64 and 256 KB (one long line,
or many lines for line-level tokens) and rendered with ``format_to_html``; the table gives
milliseconds per KB at each size and the ratio to plain prose of the same size. Linear
rendering shows as a flat time per KB across the sizes.

``python -m bench.wiki_pathological [--sizes 16,64,256] [--tokens T1,T2]``; results go to
``bench/results/wiki_pathological.md``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import random
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "wiki_pathological.md")

TOKENS = [
    "[[", "[", "]", "{", "{{{", "}}}", "'''", "''", "'''''", "**", "//", "__", "~~", "^", ",,",
    "!", "`", "@", "a.", "a-", "r1", "http://", "wiki:", "a:", "#1", "CamelCase", "../", "||",
    "||=", " * x\n", "> x\n", ">", "=", "= ", "== x ==\n", "::", " a:: b\n", "[=#anchor]", "[=#",
    "[1]", "[1/?#", "{1}", "[1:2]", "<", "<a:", "&", "\\\\", "['", "[wiki:", "[./",
    "[[WikiStart|", "|----\n", " ", "\t", "x@a.", "'''x", "{{{#!div\n",
]
WORDS = ("project server ticket milestone change source branch release review build test "
         "deploy option module page link table list value user team report query design").split()


def prose(size: int, seed: int = 7) -> str:
    """Plain paragraphs of words: the baseline."""
    rng = random.Random(seed)
    out: list[str] = []
    length = 0
    while length < size:
        line = " ".join(rng.choice(WORDS) for _ in range(12)) + "."
        out.append(line)
        length += len(line) + 1
        if rng.random() < 0.2:
            out.append("")
            length += 1
    return "\n".join(out)[:size]


def repeated(token: str, size: int) -> str:
    return token * (size // len(token))


def best_ms(render, text: str, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        began = time.perf_counter()
        render(text)
        best = min(best, time.perf_counter() - began)
    return best * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,64,256", help="text sizes in KB")
    parser.add_argument("--tokens", default="", help="comma-separated tokens (default: all)")
    parser.add_argument("--runs", type=int, default=2, help="renders per size (best kept)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    tokens = [t.encode().decode("unicode_escape") for t in args.tokens.split(",")] \
        if args.tokens else TOKENS

    from codeyard.env import Environment
    from codeyard.wiki.formatter import FormatContext, format_to_html

    workdir = tempfile.mkdtemp(prefix="codeyard-patho-")
    env = Environment.create(os.path.join(workdir, "env"),
                             [("logging", "log_type", "none"), ("wiki", "render_timeout", "0")])
    ctx = FormatContext(env)
    render = lambda text: format_to_html(ctx, text)  # noqa: E731
    try:
        render(prose(4096) + "".join(tokens))  # warm up (patterns, caches)
        base: dict[int, float] = {}
        rows = []
        head = " | ".join(f"{kb} KB ms/KB | x prose" for kb in sizes)
        print(f"{'token':14} | {head} | flat (max/min)", flush=True)
        for token in ["(prose)", *tokens]:
            per_kb = []
            for kb in sizes:
                text = prose(kb * 1024) if token == "(prose)" else repeated(token, kb * 1024)
                per_kb.append(best_ms(render, text, args.runs) / kb)
                base.setdefault(kb, per_kb[-1])  # the first row is prose
            flat = max(per_kb) / max(min(per_kb), 1e-9)
            rows.append((token, per_kb, flat))
            cells = " | ".join(f"{v:8.3f} | {v / base[kb]:7.1f}" for v, kb in zip(per_kb, sizes, strict=True))
            print(f"{token!r:14} | {cells} | {flat:5.1f}", flush=True)
    finally:
        env.shutdown()
    write_results(rows, sizes, base)
    return 0


def write_results(rows, sizes, base) -> None:
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    lines = [
        "# Wiki rendering of hostile text",
        "",
        f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, Python "
        f"{platform.python_version()} on {platform.machine()}; `python -m bench.wiki_pathological`.",
        "",
        "Each token repeated to the size shown and rendered with `format_to_html` (best of "
        "the runs). *ms/KB* is the time per KB of text; *x prose* the ratio to plain prose of "
        "the same size; *flat* the largest time per KB over the smallest (1.0 = linear).",
        "",
        "| token | " + " | ".join(f"{kb} KB ms/KB | x prose" for kb in sizes) + " | flat |",
        "|---|" + "---:|---:|" * len(sizes) + "---:|",
    ]
    for token, per_kb, flat in rows:
        shown = repr(token).replace("|", "\\|")
        cells = " | ".join(f"{v:.3f} | {v / base[kb]:.1f}" for v, kb in zip(per_kb, sizes, strict=True))
        lines.append(f"| `{shown}` | {cells} | {flat:.1f} |")
    with open(RESULTS, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"\nWrote {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
