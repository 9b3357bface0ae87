#!/usr/bin/env python3
"""Figures about the ladder of apps, read from the source tree with `ast` (nothing is imported):

- per pair of apps, how many import statements lead from one to the other, at module top and
  inside functions separately;
- the imports that run UP the ladder (and sideways between independent siblings), each listed;
- the import cycles between modules: strongly connected components of the module import graph,
  function-local imports included;
- the largest .py files.

Migrations and tests are left out, and so is everything outside the project's packages (bench/,
scripts/). The ladder is the `layers` contract in the pyproject.toml next to this script, so an
older checkout can be measured against today's ladder:

    python3 scripts/layers.py              # this checkout
    python3 scripts/layers.py /tmp/before  # another checkout (e.g. a `git worktree add`)
"""

import argparse
import ast
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
SKIPPED_DIRECTORIES = {"migrations", "tests", "__pycache__", ".venv", "bench", "scripts", "node_modules"}


def read_ladder(pyproject):
    """[(rank, module prefix, independent)] from the first layers contract: rank 0 is the bottom."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    ladder = []
    for rank, layer in enumerate(reversed(contract["layers"])):
        independent = ":" not in layer
        for name in layer.replace(":", "|").split("|"):
            ladder.append((rank, name.strip(), independent))
    return ladder


def layer_of(module, ladder):
    """(rank, layer element, independent) of the longest ladder entry that is `module` or a parent of it."""
    best = None
    for rank, prefix, independent in ladder:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[1]):
                best = (rank, prefix, independent)
    return best


def project_packages(root):
    """Top-level packages of the project (a folder with __init__.py), tests and tools left out."""
    return sorted(
        p.name for p in root.iterdir() if p.is_dir() and p.name not in SKIPPED_DIRECTORIES and (p / "__init__.py").exists()
    )


def source_files(root, packages):
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if not SKIPPED_DIRECTORIES.intersection(path.relative_to(root).parts[:-1]):
                yield path


def module_name(root, path):
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


class ImportCollector(ast.NodeVisitor):
    """Every import statement of a module: (line, imported names, is it inside a function)."""

    def __init__(self, module, is_package):
        self.module = module
        self.is_package = is_package
        self.depth = 0
        self.found = []

    def visit_FunctionDef(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node):
        self.found.append((node.lineno, [alias.name for alias in node.names], self.depth > 0))

    def visit_ImportFrom(self, node):
        base = node.module or ""
        if node.level:
            package = self.module.split(".")
            if not self.is_package:
                package = package[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([base] if base else []))
        # `from a import b` imports the module a.b when there is one, else a name from a.
        self.found.append((node.lineno, [base] + [f"{base}.{alias.name}" for alias in node.names], self.depth > 0))


def resolve(name, modules):
    """The project module `name` denotes (itself or its closest parent), or None outside the project."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def collect(root):
    packages = project_packages(root)
    files = {module_name(root, path): path for path in source_files(root, packages)}
    modules = set(files)
    imports = []  # (source module, target module, line, local)
    for module, path in files.items():
        collector = ImportCollector(module, path.name == "__init__.py")
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for line, names, local in collector.found:
            targets = set()
            if len(names) > 1 and names[0]:  # from-import: the submodules named, or the base module
                targets = {resolve(n, modules) for n in names[1:] if n in modules} or {resolve(names[0], modules)}
            else:
                targets = {resolve(n, modules) for n in names}
            for target in targets - {None, module}:
                imports.append((module, target, line, local))
    return packages, files, imports


def strongly_connected(graph):
    """Tarjan's algorithm, iteratively: the components with more than one module."""
    index, low, on_stack, stack, result, counter = {}, {}, set(), [], [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        result.append(sorted(component))
    return sorted(result, key=lambda c: (-len(c), c))


def report(root, ladder, largest=10):
    packages, files, imports = collect(root)
    app_of = {module: module.split(".")[0] for module in files}
    lines = [f"# Layers of {root}", "", f"Packages: {', '.join(packages)}; {len(files)} modules, {len(imports)} imports."]

    pairs = Counter()
    for source, target, _line, local in imports:
        if app_of[source] != app_of[target]:
            pairs[(app_of[source], app_of[target], local)] += 1
    lines += ["", "## Import statements between apps (module top / function-local)", ""]
    for source, target in sorted({(s, t) for s, t, _local in pairs}):
        lines.append(f"{source} -> {target}: {pairs[(source, target, False)]} / {pairs[(source, target, True)]}")

    up, sideways, unplaced = [], [], set()
    for source, target, line, local in imports:
        source_layer, target_layer = layer_of(source, ladder), layer_of(target, ladder)
        if source_layer is None or target_layer is None:
            unplaced.update(m for m, layer in ((source, source_layer), (target, target_layer)) if layer is None)
            continue
        entry = f"{source} -> {target}  ({files[source].relative_to(root)}:{line}, {'function-local' if local else 'module top'})"
        if target_layer[0] > source_layer[0]:
            up.append(entry)
        elif (
            target_layer[0] == source_layer[0]
            and target_layer[1] != source_layer[1]
            and source_layer[2]
        ):
            sideways.append(entry)
    lines += ["", f"## Imports that run up the ladder: {len(up)}", ""] + sorted(up)
    lines += ["", f"## Imports between independent siblings of one layer: {len(sideways)}", ""] + sorted(sideways)
    if unplaced:
        lines += ["", f"Modules in no layer of the ladder: {', '.join(sorted(unplaced))}"]

    graph = defaultdict(set)
    for module in files:
        graph[module]
    for source, target, _line, _local in imports:
        graph[source].add(target)
    cycles = strongly_connected(graph)
    lines += ["", f"## Import cycles between modules (function-local imports included): {len(cycles)}", ""]
    lines += [" <-> ".join(component) for component in cycles]

    sizes = sorted(((len(path.read_text(encoding="utf-8").splitlines()), path) for path in files.values()), reverse=True)
    lines += ["", f"## The {largest} largest .py files (lines)", ""]
    lines += [f"{count:5d}  {path.relative_to(root)}" for count, path in sizes[:largest]]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=str(HERE), help="the checkout to measure (default: this one)")
    parser.add_argument("--pyproject", default=str(HERE / "pyproject.toml"), help="where the ladder is read from")
    parser.add_argument("--largest", type=int, default=10)
    args = parser.parse_args(argv)
    print(report(Path(args.root).resolve(), read_ladder(Path(args.pyproject)), args.largest))


if __name__ == "__main__":
    sys.exit(main())
