"""The baseline: a hello-world WSGI app under the same gunicorn settings as ``codeyard serve``.

``python -m bench.hello --port P --workers N``
"""

from __future__ import annotations

import argparse

BODY = b"Hello, world!\n"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


def main() -> None:
    from codeyard.web.server import gunicorn_options, run_gunicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args()
    options = gunicorn_options(host="127.0.0.1", port=args.port, workers=args.workers,
                               access_log=args.access_log, ready_message="hello-world ready")
    run_gunicorn(lambda: application, options)


if __name__ == "__main__":
    main()
