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


def imported_subpackages(path):
    """The bssn_tf subpackages `path` imports, in any import form (ast, not regex)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            if node.module == "bssn_tf":  # from bssn_tf import layers, zoo
                modules = [f"bssn_tf.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {m.split(".")[1] for m in modules if m.startswith("bssn_tf.")}
    return found


def test_imported_subpackages_sees_every_import_form(tmp_path):
    source = tmp_path / "example.py"
    source.write_text(
        "import bssn_tf.layers\nfrom bssn_tf import zoo, io\n"
        "from bssn_tf.metrics.frechet import x\nif True:\n    from bssn_tf import data\n"
    )
    assert imported_subpackages(source) == {"layers", "zoo", "io", "metrics", "data"}


SUBPACKAGES = {
    "analysis",
    "data",
    "extractors",
    "io",
    "layers",
    "metrics",
    "models",
    "training",
    "workflows",
    "zoo",
}


def test_deps_cover_the_subpackages_they_import():
    """A target whose files import `bssn_tf.<pkg>` must depend on `:<pkg>` directly."""
    for rule in ("py_library", "py_binary"):
        for name, srcs, deps in build_targets_with_deps().get(rule, []):
            imported = set()
            for src in srcs:
                imported |= imported_subpackages(ROOT / src)
            missing = sorted(
                f":{pkg}" for pkg in imported & SUBPACKAGES - {name} if f":{pkg}" not in deps
            )
            assert not missing, f"{name} imports {missing} without depending on them"


# Each library may depend only on those listed before it: no import runs back up. The
# folders are these floors: the zoo package is the verified loader of generator exports
# (it needs only io), extractors are the networks the metrics measure with, and
# workflows are the jobs that compose the rest (publishing to the zoo among them).
LAYERING = (
    "layers",
    "io",
    "zoo",
    "data",
    "models",
    "extractors",
    "metrics",
    "training",
    "analysis",
    "workflows",
)


def test_libraries_respect_the_layering():
    libraries = {name: deps for name, _, deps in build_targets_with_deps()["py_library"]}
    for position, name in enumerate(LAYERING):
        allowed = {f":{below}" for below in LAYERING[:position]}
        upward = sorted(dep for dep in libraries[name] if dep.lstrip(":") in SUBPACKAGES)
        assert set(upward) <= allowed, f"{name} depends on {sorted(set(upward) - allowed)}"
    assert libraries["layers"] == [] and libraries["io"] == []


def test_every_package_has_a_floor():
    packages = {path.parent.name for path in (ROOT / "bssn_tf").glob("*/__init__.py")}
    assert packages == set(LAYERING) == SUBPACKAGES


def test_no_module_imports_a_package_on_a_floor_above_its_own():
    """The folders show the layering too, lazy imports inside functions included."""
    for position, name in enumerate(LAYERING):
        allowed = set(LAYERING[: position + 1])
        for path in sorted((ROOT / "bssn_tf" / name).rglob("*.py")):
            above = sorted(imported_subpackages(path) & SUBPACKAGES - allowed)
            assert not above, f"{path.relative_to(ROOT)} imports {above}, above {name}"
