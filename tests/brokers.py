"""Brokers that misbehave, for the fault tests: a Redis that accepts connections and never
answers (as a SIGSTOPped one does: the kernel still completes the TCP handshake), and a
switch that points the project's Celery app (and REDIS_URL) at such a broker."""

import contextlib
import os
import socket
import threading

from django.test import override_settings
from kombu import pools as kombu_pools

from chanjgai_portal import broker
from chanjgai_portal.celery import app as celery_app

from .conftest import set_celery_eager

# Ports of this test suite's own fake servers. TEST_FAKE_PORT_BASE moves them, so that two
# checkouts can run the suite side by side on one machine.
_PORT_BASE = int(os.environ.get("TEST_FAKE_PORT_BASE", "18520"))
HUNG_REDIS_PORT = _PORT_BASE
NOTHING_LISTENS_PORT = _PORT_BASE + 1


class HungRedis:
    """Accepts TCP connections on 127.0.0.1:port, reads nothing, answers nothing. Each
    connection is dropped after `drop_after` seconds, so a client without a socket timeout
    is not stuck forever (it still waits that long for every attempt)."""

    def __init__(self, port=HUNG_REDIS_PORT, drop_after=5.0):
        self.port = port
        self.drop_after = drop_after
        self.accepted = 0
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", port))
        self._server.listen(64)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/5"

    def _serve(self):
        while not self._closing.is_set():
            try:
                conn, _addr = self._server.accept()
            except OSError:
                return
            self.accepted += 1
            timer = threading.Timer(self.drop_after, conn.close)
            timer.daemon = True
            timer.start()

    def close(self):
        self._closing.set()
        try:
            self._server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._server.close()
        self._thread.join(timeout=5)


def _reset_pools():
    """Drop every pooled broker connection, so the next publish connects to the new URL."""
    kombu_pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextlib.contextmanager
def celery_broker(url):
    """Dispatch through the broker at `url` (not eagerly) inside the block; REDIS_URL too."""
    conf = celery_app.conf
    old_url = conf.broker_url
    old_eager = set_celery_eager(False)
    _reset_pools()
    conf.CELERY_BROKER_URL = conf.broker_url = url
    broker.reset()
    try:
        with override_settings(REDIS_URL=url):
            yield
    finally:
        _reset_pools()
        conf.CELERY_BROKER_URL = conf.broker_url = old_url
        set_celery_eager(old_eager)
        broker.reset()
