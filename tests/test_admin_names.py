"""The admin speaks Chinese: every app and model header of its index is Chinese, the portal's own and
the third-party ones (login attempts, API tokens, users and groups)."""

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.utils import translation

ASCII_LETTER = re.compile(r"[A-Za-z]")


def _headers(html):
    """The app captions and the model names of the admin index's tables."""
    captions = re.findall(r"<caption>\s*<a[^>]*>(.*?)</a>\s*</caption>", html, re.S)
    models = re.findall(r'<th scope="row"[^>]*>\s*(?:<a[^>]*>)?(.*?)(?:</a>)?\s*</th>', html, re.S)
    return [c.strip() for c in captions], [m.strip() for m in models]


@pytest.mark.django_db
def test_the_admin_index_shows_no_english_app_or_model_header(client, world):
    client.force_login(world.admin)
    html = client.get("/admin/").content.decode()
    captions, models = _headers(html)
    registered_apps = {model._meta.app_label for model in admin.site._registry}
    assert len(captions) == len(registered_apps) and len(models) == len(admin.site._registry)
    english = [name for name in captions + models if ASCII_LETTER.search(name)]
    assert not english, f"English headers on the admin index: {english}"


def test_every_app_and_model_of_the_portal_has_a_chinese_name():
    """Beyond the index: every installed app and every model (verbose_name and its plural), also those
    not registered in the admin, as they appear in the admin's history, permissions and messages."""
    english = []
    with translation.override("zh-hans"):
        for config in apps.get_app_configs():
            if not list(config.get_models()):
                continue  # an app without models (csp, staticfiles) is named nowhere
            if ASCII_LETTER.search(str(config.verbose_name)):
                english.append(f"app {config.label}: {config.verbose_name}")
            for model in config.get_models():
                for name in (model._meta.verbose_name, model._meta.verbose_name_plural):
                    if ASCII_LETTER.search(str(name)):
                        english.append(f"model {model._meta.label}: {name}")
    assert not english, "English names:\n" + "\n".join(english)


@pytest.mark.django_db
def test_the_admin_is_named_after_the_portal_and_its_screen_reader_headers_are_chinese(client, world):
    client.force_login(world.admin)
    html = client.get("/admin/").content.decode()
    assert "Django" not in html
    assert "产改打卡管理系统" in html and "<title>管理后台 | 产改打卡管理系统</title>" in html
    headers = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', html)
    assert headers and not [h for h in headers if ASCII_LETTER.search(h)], headers
