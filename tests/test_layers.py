"""The layers contract in pyproject.toml bites: an import up the ladder of apps fails
`lint-imports` (run on a copy of the source tree), and the contract names every app."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONFIG = tomllib.loads((BASE_DIR / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
LADDER = next(c for c in CONFIG["contracts"] if c["id"] == "ladder")


def layer_elements():
    return {name.strip() for layer in LADDER["layers"] for name in layer.replace(":", "|").split("|")}


@pytest.fixture
def source_copy(tmp_path):
    """The project's packages (their .py files) and pyproject.toml, copied to tmp_path."""
    for package in CONFIG["root_packages"]:
        for path in (BASE_DIR / package).rglob("*.py"):
            target = tmp_path / path.relative_to(BASE_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    shutil.copyfile(BASE_DIR / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def lint_imports(root):
    """lint-imports run in `root`: (exit code, its report without colours)."""
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


def test_the_source_tree_keeps_the_contract(source_copy):
    code, output = lint_imports(source_copy)
    assert code == 0, output
    assert "The ladder of apps: a lower app never imports a higher one KEPT" in output


def test_an_import_up_the_ladder_breaks_the_contract(source_copy):
    models = source_copy / "enterprises" / "models.py"
    models.write_text(models.read_text(encoding="utf-8") + "\nimport api.views\n", encoding="utf-8")
    code, output = lint_imports(source_copy)
    assert code != 0
    assert "The ladder of apps: a lower app never imports a higher one BROKEN" in output
    assert "enterprises is not allowed to import api" in output
    assert "enterprises.models -> api.views" in output


def test_an_infrastructure_module_may_not_import_an_app(source_copy):
    storage = source_copy / "chanjgai_portal" / "storage.py"
    storage.write_text(storage.read_text(encoding="utf-8") + "\nimport tasks.models\n", encoding="utf-8")
    code, output = lint_imports(source_copy)
    assert code != 0
    assert "chanjgai_portal.storage is not allowed to import tasks" in output


def test_the_contract_names_every_app_of_the_project():
    """import-linter checks exhaustiveness only inside a container: this holds the ladder equal
    to the project's own apps in INSTALLED_APPS (and to the packages lint-imports reads)."""
    project_apps = {
        config.name for config in apps.get_app_configs() if Path(config.path).resolve().parent == BASE_DIR.resolve()
    }
    assert project_apps <= layer_elements()
    assert set(CONFIG["root_packages"]) == project_apps | {"chanjgai_portal"}
