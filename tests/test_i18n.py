"""The UI is Chinese: the zh_Hans catalog is complete and its compiled form is current."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

PO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

needs_msgfmt = pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext (msgfmt) is not installed")


@needs_msgfmt
def test_every_message_in_the_catalog_is_translated():
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(PO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr


@needs_msgfmt
def test_the_committed_mo_file_matches_the_catalog(tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(PO)], check=True)
    assert compiled.read_bytes() == MO.read_bytes(), "run `make messages` and commit locale/"


def test_the_default_language_shows_domain_words_in_chinese():
    assert settings.LANGUAGE_CODE == "zh-hans"
    with translation.override(settings.LANGUAGE_CODE):
        assert translation.gettext("Pending county review") == "待县区审核"
        assert translation.gettext("Pending city review") == "待市产改办审核"
        assert translation.gettext("Reform check-in portal") == "产改打卡管理系统"
