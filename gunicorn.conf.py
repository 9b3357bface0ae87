"""gunicorn settings for the web process (see docker-compose.yml); each can be set by env.

Slow clients (issue 13, point 15). A county office may run the portal without nginx, so
gunicorn itself meets every client, including ones that send their headers and then stall the
body (a bad mobile link, or someone doing it on purpose). With the former threaded workers each
such client held a thread until it went away: four of them froze two workers × two threads
for everyone. Now:

- gevent workers (GUNICORN_WORKER_CLASS=gevent): every connection is a greenlet, so a stalled
  one costs a few kB and a socket, not a thread; up to GUNICORN_WORKER_CONNECTIONS per worker.
- GUNICORN_CLIENT_TIMEOUT: each read from (and write to) a client's socket waits at most this
  long, so a stalled body is dropped (the portal answers it with a 4xx if it still listens).
  Headers are bounded by GUNICORN_KEEPALIVE (gunicorn reads every request line and headers
  of a connection, the first included, under that timeout).
- PostgreSQL through psycopg2 yields to other greenlets while it waits (psycogreen), and a
  request's database connection is closed when the request ends (DB_CONN_MAX_AGE=0): a
  persistent connection belongs to one greenlet, so it would never be reused, only kept.
The price: a request that computes without waiting on I/O (a spreadsheet parsed in the
request, a small export written in it) holds its worker's other requests until it is done, as
greenlets only switch on I/O; the other workers go on. Hence several workers (WEB_CONCURRENCY).
bench/faults.py slow-clients measures it (bench/RESULTS.md "Issue 13: slow clients").
GUNICORN_WORKER_CLASS=gthread brings back the threaded workers (GUNICORN_THREADS each).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
GEVENT = "gevent" in worker_class.lower()  # gevent, gevent_pywsgi, gunicorn.workers.ggevent.*
# gevent: concurrent connections per worker (greenlets); gthread: connections a worker keeps.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", 1000))
threads = int(os.environ.get("GUNICORN_THREADS", 2))
# Evidence uploads of up to EVIDENCE_MAX_FILES × EVIDENCE_MAX_FILE_SIZE can take a while.
# (With gevent this is only the worker's heartbeat: a busy worker still beats between requests.)
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
# Seconds one read from or write to a client may wait; an upload that keeps sending never hits
# it, however long it takes in all.
client_timeout = float(os.environ.get("GUNICORN_CLIENT_TIMEOUT", 60))
graceful_timeout = 30
# nginx (docker-compose.yml) opens one upstream connection per request, so a recycled
# worker never drops a request sent on a kept-alive connection; a client that talks to
# gunicorn directly (bench/load.py) can turn keep-alive off the same way (0). With gevent,
# 0 also lifts the time limit on reading a request's headers: keep it above 0 when clients
# reach gunicorn directly.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
# Worker recycling is off by default: with threaded workers gunicorn 23 can still accept a
# connection after it decided to recycle and then reset it (benoitc/gunicorn#3038, open), which
# showed up as failed requests in bench/load.py. A deployment that wants recycling as a guard
# against a slow leak sets GUNICORN_MAX_REQUESTS (e.g. 5000) and accepts those rare resets.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 200))
accesslog = "-"
errorlog = "-"
# Only the reverse proxy in front (nginx in docker-compose.yml) reaches gunicorn.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

if GEVENT:
    # Read by chanjgai_portal/settings.py in the workers (forked from this process). An
    # explicit DB_CONN_MAX_AGE still wins.
    os.environ.setdefault("DB_CONN_MAX_AGE", "0")


def post_fork(server, worker):
    """In each gevent worker: psycopg2 waits for PostgreSQL cooperatively (psycogreen)."""
    if GEVENT:
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()


class _ClosingOnReadError:
    """A request body's reader that, once a read fails (timed out, reset), has the connection
    closed after the response instead of read on: gunicorn would otherwise wait out the
    client timeout a second time to skip the rest of the body, then log a traceback."""

    def __init__(self, reader, req):
        self.reader, self.req = reader, req

    def read(self, size):
        try:
            return self.reader.read(size)
        except OSError:
            self.req.must_close = True
            raise


def pre_request(worker, req):
    """Bound every later read of this request's body (and write of its response) by
    client_timeout: a client that stalls is dropped instead of holding its worker."""
    sock = getattr(req.unreader, "sock", None)
    if sock is not None:
        sock.settimeout(client_timeout)
    if req.body is not None:
        req.body.reader = _ClosingOnReadError(req.body.reader, req)


def post_request(worker, req, environ, resp):
    """The response is out: waiting for the connection's next request is bounded by keepalive
    (gunicorn's own timer, which closes quietly), not by client_timeout, whose expiry on an idle
    kept-alive connection gunicorn would log as a socket error."""
    sock = getattr(req.unreader, "sock", None)
    if sock is not None:
        sock.settimeout(None)
