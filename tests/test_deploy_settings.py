"""Production settings pass `manage.py check --deploy` with only the variables a deployment
must set; DEBUG (make run, the tests) keeps plain http working."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from chanjgai_portal.settings import env_bool

BASE_DIR = Path(settings.BASE_DIR)
# What a deployment sets; everything else is left to the defaults under test.
KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


def production_env(**extra):
    env = {key: os.environ[key] for key in KEEP if key in os.environ}
    env.update(SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="chanjgai.example.cn")
    env.update(extra)
    return env


def check_deploy(env):
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_under(env, *names):
    """The named settings as chanjgai_portal/settings.py computes them under `env`."""
    code = (
        "import json, chanjgai_portal.settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {list(names)!r}}}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(result.stdout)


def test_check_deploy_is_clean_with_production_defaults():
    result = check_deploy(production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_notices_a_setting_turned_off():
    """The check above can fail: turning the HTTPS redirect off is reported."""
    result = check_deploy(production_env(SECURE_SSL_REDIRECT="0"))
    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr


def test_production_defaults_are_safe():
    values = settings_under(
        production_env(),
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "REFUSE_DEMO_PASSWORD",
        "SECURE_PROXY_SSL_HEADER",
        "AXES_FAILURE_LIMIT",
        "AXES_LOCKOUT_PARAMETERS",
    )
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["REFUSE_DEMO_PASSWORD"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] is None  # trusted only when BEHIND_TLS_PROXY=1
    assert values["AXES_FAILURE_LIMIT"] == 10
    assert values["AXES_LOCKOUT_PARAMETERS"] == [["username", "ip_address"]]


def test_behind_the_tls_proxy_the_forwarded_headers_are_trusted_one_hop():
    values = settings_under(
        production_env(BEHIND_TLS_PROXY="1"),
        "SECURE_PROXY_SSL_HEADER",
        "AXES_IPWARE_META_PRECEDENCE_ORDER",
        "AXES_IPWARE_PROXY_COUNT",
        "REST_FRAMEWORK",
    )
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["AXES_IPWARE_META_PRECEDENCE_ORDER"] == ["HTTP_X_FORWARDED_FOR"]
    assert values["AXES_IPWARE_PROXY_COUNT"] == 0
    assert values["REST_FRAMEWORK"]["NUM_PROXIES"] == 1


def test_debug_keeps_plain_http_for_make_run():
    env = {key: os.environ[key] for key in KEEP if key in os.environ}
    env["DEBUG"] = "1"
    values = settings_under(
        env, "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", "REFUSE_DEMO_PASSWORD"
    )
    assert values == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SESSION_COOKIE_SECURE": False,
        "REFUSE_DEMO_PASSWORD": False,
    }


@pytest.mark.parametrize(
    "value, expected",
    [("1", True), ("true", True), ("Yes", True), (" ON ", True), ("0", False), ("FALSE", False), ("no", False),
     ("off", False), ("", False)],
)
def test_a_switch_reads_the_usual_words_for_on_and_off(monkeypatch, value, expected):
    monkeypatch.setenv("SOME_SWITCH", value)
    assert env_bool("SOME_SWITCH", default=not expected) is expected


def test_an_unset_switch_takes_its_default(monkeypatch):
    monkeypatch.delenv("SOME_SWITCH", raising=False)
    assert env_bool("SOME_SWITCH", default=True) is True
    assert env_bool("SOME_SWITCH", default=False) is False


def test_a_switch_with_an_unknown_value_stops_the_start_naming_the_variable_and_the_value():
    """DEBUG=maybe used to mean off without a word; now the settings refuse to load."""
    env = production_env(DEBUG="maybe")
    result = subprocess.run(
        [sys.executable, "-c", "import chanjgai_portal.settings"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DEBUG='maybe' is not a boolean" in result.stderr
