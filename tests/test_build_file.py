"""The Bazel BUILD file lists exactly the Python files that exist.

Bazel itself cannot resolve its rules offline here, so this test keeps BUILD
honest by parsing it as the Python-syntax Starlark it is.
"""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGED_DIRS = ("bssn_tf", "train", "benchmarks", "tests")


def build_targets():
    """Returns {rule: [(name, srcs)]} for every rule call in BUILD."""
    tree = ast.parse((ROOT / "BUILD").read_text())
    targets = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            kwargs = {k.arg: k.value for k in node.keywords}
            if "srcs" not in kwargs:
                continue
            srcs = [elt.value for elt in kwargs["srcs"].elts]
            targets.setdefault(node.func.id, []).append((kwargs["name"].value, srcs))
    return targets


def listed_files():
    return {src for rules in build_targets().values() for _, srcs in rules for src in srcs}


def test_every_python_file_is_listed():
    on_disk = {
        str(path.relative_to(ROOT))
        for folder in PACKAGED_DIRS
        for path in (ROOT / folder).rglob("*.py")
        if ".ci" not in path.parts
    }
    missing = sorted(on_disk - listed_files())
    assert not missing, f"not in BUILD: {missing}"


def test_every_listed_file_exists():
    absent = sorted(src for src in listed_files() if not (ROOT / src).is_file())
    assert not absent, f"listed in BUILD but absent: {absent}"


def test_every_test_module_is_a_py_test():
    tests = {srcs[0] for _, srcs in build_targets().get("py_test", [])}
    on_disk = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")}
    assert tests == on_disk
