"""Brute-force protection of the token endpoint."""

import hashlib

from rest_framework.throttling import SimpleRateThrottle


class LoginFailureThrottle(SimpleRateThrottle):
    """Counts failed logins per username and client address (rate: DEFAULT_THROTTLE_RATES
    "login"); once exhausted, that pair gets 429 until the window passes.

    Keyed by username + address, never by address alone: a county office behind one NAT
    must not lock out its colleagues. Successful logins are not counted.
    """

    scope = "login"

    def get_cache_key(self, request, view):
        username = str(request.data.get("username", "") if hasattr(request.data, "get") else "")
        username = username.strip().lower()[:150]
        ident = hashlib.sha256(f"{username}\0{self.get_ident(request)}".encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return True

    def record_failure(self):
        """Called by the view after a refused login (after allow_request for the same request)."""
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)
