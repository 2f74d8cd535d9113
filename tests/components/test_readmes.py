"""Every component folder has a README from one template that names every input and output.

The template (issue 7): `## Consumes` (input artifacts), `## Produces` (outputs, the return
value as `Output`), `## Parameters` (input parameters), `## Fails on`. The names come from the
component spec KFP builds, so a new parameter without a README line fails here.
"""

import importlib
import re
from pathlib import Path

import pytest
from kfp.dsl import base_component

REPO = Path(__file__).resolve().parents[2]
SECTIONS = ("Consumes", "Produces", "Parameters", "Fails on")
FOLDERS = sorted(p for p in (REPO / "components").iterdir() if (p / "component.py").exists())


def sections(text: str) -> dict[str, str]:
    """Splits a README into its `## ` sections, keyed by the heading's leading words."""
    found: dict[str, str] = {}
    parts = re.split(r"^## +(.+)$", text, flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        for name in SECTIONS:
            if heading == name or heading.startswith(name + " "):
                found[name] = found.get(name, "") + body
    return found


def components_in(folder: Path) -> list[base_component.BaseComponent]:
    module = importlib.import_module(f"components.{folder.name}.component")
    return [v for v in vars(module).values() if isinstance(v, base_component.BaseComponent)]


def named(name: str, text: str) -> bool:
    return re.search(rf"`{re.escape(name)}`", text) is not None


def is_artifact(type_name: str) -> bool:
    return "." in type_name and "@" in type_name  # e.g. system.Dataset@0.0.1


def test_there_are_component_folders():
    assert {"ingest", "pii_scan", "data_validation", "deploy_kserve"} <= {f.name for f in FOLDERS}


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_readme_has_the_template_sections(folder):
    readme = folder / "README.md"
    assert readme.exists(), f"{readme.relative_to(REPO)} missing"
    found = sections(readme.read_text())
    missing = [s for s in SECTIONS if s not in found]
    assert not missing, f"{readme.relative_to(REPO)} lacks sections {missing}"


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_readme_names_every_input_and_output(folder):
    readme = folder / "README.md"
    if not readme.exists():
        pytest.fail(f"{readme.relative_to(REPO)} missing")
    found = sections(readme.read_text())
    problems = []
    for component in components_in(folder):
        spec = component.component_spec
        for name, item in (spec.inputs or {}).items():
            where = "Consumes" if is_artifact(item.type) else "Parameters"
            if not named(name, found.get(where, "")):
                problems.append(f"input `{name}` not named under ## {where}")
        for name in spec.outputs or {}:
            if not named(name, found.get("Produces", "")):
                problems.append(f"output `{name}` not named under ## Produces")
    assert not problems, f"{readme.relative_to(REPO)}: " + "; ".join(problems)


def test_the_check_catches_a_missing_parameter(tmp_path):
    # The section parser must not accept a README that only names inputs elsewhere.
    text = "## Consumes\n`data`\n## Produces\n`out`\n## Parameters\n`a`\n## Fails on\nx\n"
    found = sections(text)
    assert named("a", found["Parameters"]) and not named("b", found["Parameters"])
    assert not named("data", found["Parameters"])
