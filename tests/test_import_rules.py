"""Import rules of the layout, checked on the syntax tree (a convention alone can drift).

- Nothing under ``quizops/`` imports kfp: the library runs and is tested without KFP.
- Nothing under ``components/`` imports ``pipelines``: components are reusable on their own.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imported_roots(source: str) -> set[str]:
    """Top-level package names a module imports (absolute imports, at any depth in the file)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def offenders(folder: str, forbidden: str) -> list[str]:
    found = []
    for path in sorted((REPO / folder).rglob("*.py")):
        if forbidden in imported_roots(path.read_text()):
            found.append(str(path.relative_to(REPO)))
    return found


@pytest.mark.parametrize(
    "source",
    [
        "import kfp",
        "from kfp import dsl",
        "import kfp.dsl as d",
        "def f():\n    from kfp.local import status\n",
        "import importlib\nimportlib.import_module('kfp.dsl')",
    ],
)
def test_the_checker_sees_every_form_of_import(source):
    assert "kfp" in imported_roots(source)


def test_the_checker_ignores_relative_imports_and_names():
    assert "kfp" not in imported_roots("from . import kfp_names\nkfp = 1\n")


def test_the_library_does_not_import_kfp():
    assert offenders("quizops", "kfp") == []


def test_components_do_not_import_pipelines():
    assert offenders("components", "pipelines") == []


def exception_classes(source: str) -> list[str]:
    """Classes a module defines that derive (by name) from an exception or error class."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(base).split(".")[-1] for base in node.bases]
            if any(b.endswith(("Error", "Exception", "Warning")) for b in bases):
                found.append(node.name)
    return found


def test_the_exception_checker_sees_error_subclasses():
    source = "class A(ValueError): ...\nclass B(errors.QuizopsError): ...\nclass C(dict): ..."
    assert exception_classes(source) == ["A", "B"]


def test_every_library_exception_lives_in_errors_py():
    import quizops.errors

    defined = {
        str(path.relative_to(REPO)): exception_classes(path.read_text())
        for path in sorted((REPO / "quizops").rglob("*.py"))
        if path.name != "errors.py"
    }
    assert {k: v for k, v in defined.items() if v} == {}
    errors_source = (REPO / "quizops" / "errors.py").read_text()
    for name in exception_classes(errors_source):
        cls = getattr(quizops.errors, name)
        assert issubclass(cls, quizops.errors.QuizopsError), name
