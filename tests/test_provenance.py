from distillery.plan import code_fingerprints as provenance
from distillery.plan.code_fingerprints import code_hash, module_closure, script_code_hash


def test_closure_follows_package_imports_transitively():
    closure = module_closure("distillery.queries.benchmark_items")
    # benchmarks -> sources -> canonical, schema
    assert {
        "distillery.queries.benchmark_items",
        "distillery.queries.sources",
        "distillery.core.canonical",
        "distillery.core.schema",
    } <= set(closure)
    assert "distillery.queries.filters" not in closure and "distillery.queries.embeddings" not in closure


def test_hash_changes_with_any_module_in_the_closure(tmp_path, monkeypatch):
    pkg = tmp_path / "distillery"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from distillery.b import f\n")
    (pkg / "b.py").write_text("from . import c\n")
    (pkg / "c.py").write_text("X = 1\n")
    (pkg / "d.py").write_text("Y = 1\n")
    monkeypatch.setattr(provenance, "PACKAGE_DIR", pkg)
    provenance._direct_imports.cache_clear()
    provenance._parsed.cache_clear()
    try:
        assert module_closure("distillery.a") == ["distillery", "distillery.a", "distillery.b", "distillery.c"]
        before = code_hash("distillery.a")
        (pkg / "d.py").write_text("Y = 2\n")
        assert code_hash("distillery.a") == before  # d is not imported by a
        (pkg / "c.py").write_text("X = 2\n")
        provenance._parsed.cache_clear()
        provenance._meaning_digest.cache_clear()
        assert code_hash("distillery.a") != before
    finally:
        provenance._direct_imports.cache_clear()
        provenance._parsed.cache_clear()
        provenance._meaning_digest.cache_clear()


def test_docstrings_comments_and_layout_are_not_meaning():
    from distillery.plan.code_fingerprints import meaning

    code = 'def f(x):\n    """Why."""\n    return x + 1\n\n\nclass C:\n    "Doc."\n'
    same = (
        '"""A module docstring."""\n# a comment\ndef f(x):  # inline\n    """Another why."""\n\n'
        "    return (x +\n            1)\nclass C:\n    pass\n"
    )
    assert meaning(code) == meaning(same)
    assert meaning(code) != meaning(code.replace("x + 1", "x + 2"))
    assert meaning(code) != meaning(code.replace('"""Why."""', 'print("Why.")'))  # a call is not a docstring
    assert meaning('def f():\n    "only a docstring"\n') == meaning("def f():\n    pass\n")


def test_script_hash_covers_what_the_script_imports(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(
        "import json\nfrom distillery.queries.dedup import dedup\nfrom distillery.core.artifacts import write_stage\n"
    )
    assert script_code_hash(script) == code_hash("distillery.queries.dedup", "distillery.core.artifacts")
    assert script_code_hash(script) != code_hash("distillery.queries.dedup")


def test_modules_loaded_by_name_are_in_the_closure():
    assert {
        "distillery.verify.math",
        "distillery.verify.code",
        "distillery.verify.sandbox",
        "distillery.verify.instructions",
    } <= set(module_closure("distillery.verify.pool"))
