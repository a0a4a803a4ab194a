"""A WSGI app that reports what it read, under ``codeyard serve``'s gunicorn settings.

``python -m tests.support.echo_server PORT REQUEST_TIMEOUT SPOOL_THRESHOLD``
"""

from __future__ import annotations

import hashlib
import sys
import time


def application(environ, start_response):
    digest, size = hashlib.sha256(), 0
    while True:
        data = environ["wsgi.input"].read(65536)
        if not data:
            break
        digest.update(data)
        size += len(data)
    if environ["PATH_INFO"] == "/sleep":  # a long answer: /sleep?SECONDS
        time.sleep(float(environ.get("QUERY_STRING") or 1))
    if environ["PATH_INFO"] == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"line %d\n" % i for i in range(20000))
    body = (f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} {size} "
            f"{digest.hexdigest()}\n").encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


def main() -> None:
    from codeyard.web.server import gunicorn_options, run_gunicorn
    from codeyard.web.server_worker import BufferingWorker

    port, timeout, spool = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    options = gunicorn_options(host="127.0.0.1", port=port, workers=1, access_log=False,
                               request_timeout=timeout)
    options["worker_class"] = BufferingWorker.configured(timeout, spool)
    run_gunicorn(lambda: application, options)


if __name__ == "__main__":
    main()
