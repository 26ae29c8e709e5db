"""The Bazel BUILD file lists exactly the Python files that exist.

Bazel itself cannot resolve its rules offline here, so this test keeps BUILD
honest by parsing it as the Python-syntax Starlark it is.
"""

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGED_DIRS = ("bssn_tf", "train", "benchmarks", "tests")


def build_targets():
    """Returns {rule: [(name, srcs)]} for every rule call in BUILD."""
    return {
        rule: [(name, srcs) for name, srcs, _ in entries]
        for rule, entries in build_targets_with_deps().items()
    }


def build_targets_with_deps():
    """Returns {rule: [(name, srcs, deps)]} for every rule call in BUILD."""
    tree = ast.parse((ROOT / "BUILD").read_text())
    targets = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            kwargs = {k.arg: k.value for k in node.keywords}
            if "srcs" not in kwargs:
                continue
            srcs = [elt.value for elt in kwargs["srcs"].elts]
            deps = [elt.value for elt in kwargs["deps"].elts] if "deps" in kwargs else []
            targets.setdefault(node.func.id, []).append((kwargs["name"].value, srcs, deps))
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


def test_library_deps_cover_the_subpackages_they_import():
    """`bssn_tf/<pkg>` importing `bssn_tf.<other>` must depend on `:<other>`."""
    for name, srcs, deps in build_targets_with_deps()["py_library"]:
        imported = set()
        for src in srcs:
            text = (ROOT / src).read_text()
            imported |= set(re.findall(r"^\s*(?:from|import) bssn_tf\.(\w+)", text, re.M))
        missing = sorted(f":{pkg}" for pkg in imported - {name} if f":{pkg}" not in deps)
        assert not missing, f"{name} imports {missing} without depending on them"


def test_layers_depend_on_nothing_else_in_the_package():
    layers = [deps for name, _, deps in build_targets_with_deps()["py_library"] if name == "layers"]
    assert layers == [[]]
