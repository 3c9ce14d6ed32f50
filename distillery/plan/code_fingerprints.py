"""Code fingerprints for Snakemake rerun triggers.

Snakemake reruns a job when its script changes but cannot see the package modules that script
imports. Each rule therefore gets, as a param, the hash of the ``distillery`` modules its script
imports *and of every ``distillery`` module those import*, found by reading the import statements and
the ``"distillery.module:function"`` strings of modules loaded by name (nothing is imported, so
computing it while the Snakefile is parsed is cheap). A module's part is its syntax tree without
docstrings, so that a docstring, a comment or a reformatting reruns nothing; a change of behaviour does.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import lru_cache
from pathlib import Path

PACKAGE = "distillery"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
_LOADED_BY_NAME = re.compile(rf"^{PACKAGE}(\.\w+)+:\w+$")
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _module_path(module: str) -> Path:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        raise ValueError(f"{module!r} is not a {PACKAGE} module")
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    raise ValueError(f"no source file for module {module!r}")


def _imports_in(tree: ast.AST, package: str) -> set[str]:
    """The distillery modules a parsed source file imports; ``package`` resolves relative imports."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _LOADED_BY_NAME.match(node.value):
            names = [node.value.partition(":")[0]]  # "distillery.x:function", imported at run time
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from distillery import x` may import the submodule x.
            names = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] != PACKAGE:
                continue
            try:
                _module_path(name)
            except ValueError:
                continue
            found.add(name)
    return found


@lru_cache(maxsize=None)
def _parsed(module: str) -> ast.Module:
    """The module's syntax tree without docstrings, parsed once per workflow parse."""
    return without_docstrings(ast.parse(_module_path(module).read_text(encoding="utf-8")))


@lru_cache(maxsize=None)
def _direct_imports(module: str) -> tuple[str, ...]:
    package = module if _module_path(module).name == "__init__.py" else module.rpartition(".")[0]
    return tuple(sorted(_imports_in(_parsed(module), package) - {module}))


def module_closure(*modules: str) -> list[str]:
    """The modules and every distillery module they import, transitively."""
    seen: set[str] = set()
    stack = list(modules)
    while stack:
        module = stack.pop()
        if module not in seen:
            seen.add(module)
            stack.extend(_direct_imports(module))
    return sorted(seen)


def without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, _DOCUMENTED) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def meaning(source: str) -> str:
    """The source's syntax tree without docstrings, as text: what the code does, not how it reads."""
    return ast.dump(without_docstrings(ast.parse(source)), include_attributes=False)


@lru_cache(maxsize=None)
def _meaning_digest(module: str) -> bytes:
    return hashlib.blake2b(ast.dump(_parsed(module), include_attributes=False).encode(), digest_size=16).digest()


def code_hash(*modules: str) -> str:
    """A short fingerprint of what ``modules`` and all they import from the package do."""
    digest = hashlib.blake2b(digest_size=8)
    for module in module_closure(*modules):
        digest.update(module.encode())
        digest.update(_meaning_digest(module))
    return digest.hexdigest()


def script_code_hash(script: str | Path, *modules: str) -> str:
    """The fingerprint of the package code a workflow script runs: every module it imports, and
    ``modules`` (what it imports by a name it is given, e.g. the one figure it draws)."""
    tree = ast.parse(Path(script).read_text(encoding="utf-8"), filename=str(script))
    return code_hash(*sorted(_imports_in(tree, PACKAGE) | set(modules)))
