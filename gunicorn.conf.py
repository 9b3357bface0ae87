"""gunicorn settings for the web process (see docker-compose.yml); each can be set by env."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
threads = int(os.environ.get("GUNICORN_THREADS", 2))
# Evidence uploads of up to EVIDENCE_MAX_FILES × EVIDENCE_MAX_FILE_SIZE can take a while.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
graceful_timeout = 30
# nginx (docker-compose.yml) opens one upstream connection per request, so a recycled
# worker never drops a request sent on a kept-alive connection; a client that talks to
# gunicorn directly (bench/load.py) can turn keep-alive off the same way (0).
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
