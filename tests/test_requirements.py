"""`make run` installs only requirements.txt: every package the portal imports must come with it,
pinned there or required by a package pinned there. The test venv also has the dev tools
(requirements-dev.txt), so a module that only a dev tool brings (cryptography came with moto)
imports fine under pytest and fails on a fresh demo machine; this test finds it."""

import ast
import re
import sys
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from django.conf import settings
from packaging.requirements import Requirement

BASE = Path(settings.BASE_DIR)
PORTAL_PACKAGES = {
    "chanjgai_portal", "enterprises", "idempotency", "notifications", "accounts", "tasks", "scoring",
    "notices", "spreadsheets", "demo", "dashboards", "api",
}


def _name(dist):
    return re.sub(r"[-_.]+", "-", dist).lower()


def _runtime_requirements():
    lines = (BASE / "requirements.txt").read_text().splitlines()
    return [Requirement(line.split("#")[0].strip()) for line in lines if line.split("#")[0].strip()]


def _closure(requirements):
    """The distributions installing requirements.txt brings: the pinned ones, their extras and
    everything they require (markers evaluated for this interpreter)."""
    seen, todo = set(), [(req, frozenset(req.extras)) for req in requirements]
    while todo:
        req, extras = todo.pop()
        name = _name(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            dependencies = requires(req.name) or []
        except PackageNotFoundError:
            continue
        for line in dependencies:
            dependency = Requirement(line)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if dependency.marker is None or any(dependency.marker.evaluate(env) for env in environments):
                todo.append((dependency, frozenset(dependency.extras)))
    return seen


def _imported_modules():
    modules = {}
    for package in PORTAL_PACKAGES:
        for path in (BASE / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in PORTAL_PACKAGES:
                        modules.setdefault(top, path.relative_to(BASE).as_posix())
    return modules


def test_every_imported_package_is_installed_by_requirements_txt():
    installed = _closure(_runtime_requirements())
    providers = packages_distributions()
    missing = {
        module: where
        for module, where in _imported_modules().items()
        if not any(_name(dist) in installed for dist in providers.get(module, []))
    }
    assert not missing, f"imported but not brought by requirements.txt (pin them there): {missing}"


def test_the_check_sees_what_only_a_dev_tool_brings():
    # moto (requirements-dev.txt) brings responses; requirements.txt does not.
    assert "responses" not in _closure(_runtime_requirements())
    assert "django" in _closure(_runtime_requirements()) and "kombu" in _closure(_runtime_requirements())
