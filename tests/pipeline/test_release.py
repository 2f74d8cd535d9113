"""One version source for image tags: cd.yml pushes exactly the images the compiled pipelines
(and the predictor parameter) name, with the tag read from quizops/names.py."""

import re
import subprocess
from pathlib import Path

import yaml

from quizops import names

REPO = Path(__file__).resolve().parents[2]
CD = REPO / ".github" / "workflows" / "cd.yml"


def workflow() -> dict:
    return yaml.safe_load(CD.read_text())


def version_step_outputs() -> dict[str, str]:
    """Runs cd.yml's own step that reads the version (its shell line, in this checkout)."""
    steps = workflow()["jobs"]["version"]["steps"]
    (step,) = [s for s in steps if s.get("id") == "names"]
    command = step["run"].replace('>> "$GITHUB_OUTPUT"', "").strip()
    out = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True, text=True,
                         check=True, timeout=60).stdout  # fmt: skip
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def pushed_images() -> set[str]:
    outputs = version_step_outputs()
    job = workflow()["jobs"]["images"]
    template = next(s for s in job["steps"] if "build-push" in s.get("uses", ""))["with"]["tags"]
    pushed = set()
    for entry in job["strategy"]["matrix"]["include"]:
        assert (REPO / entry["file"]).is_file(), entry["file"]
        tag = template.replace("${{ matrix.name }}", entry["name"])
        tag = tag.replace("${{ needs.version.outputs.registry }}", outputs["registry"])
        tag = tag.replace("${{ needs.version.outputs.image_version }}", outputs["image_version"])
        assert "${{" not in tag, tag
        pushed.add(tag)
    return pushed


def compiled_images() -> set[str]:
    found = set()
    for path in (REPO / "compiled").glob("*.yaml"):
        spec = next(yaml.safe_load_all(path.read_text()))
        found |= {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
        parameters = spec["root"].get("inputDefinitions", {}).get("parameters", {})
        for definition in parameters.values():
            default = definition.get("defaultValue")
            if isinstance(default, str) and default.startswith(names.IMAGE_REGISTRY + "/"):
                found.add(default)  # the predictor image parameter
    return found


def test_the_version_step_reads_quizops_names():
    assert version_step_outputs() == {
        "registry": names.IMAGE_REGISTRY,
        "image_version": names.IMAGE_VERSION,
    }


def test_cd_pushes_exactly_the_images_the_compiled_pipelines_name():
    assert pushed_images() == compiled_images()
    assert names.PREDICTOR_IMAGE in compiled_images()
    assert {names.CORE_IMAGE, names.VALIDATION_IMAGE} <= compiled_images()


def test_a_tag_that_disagrees_with_the_version_stops_the_release():
    steps = workflow()["jobs"]["version"]["steps"]
    guard = next(s for s in steps if "must be v" in s.get("name", ""))
    assert (
        'test "${{ github.ref_name }}" = "v${{ steps.names.outputs.image_version }}"'
        in guard["run"]
    )
    assert workflow()["jobs"]["images"]["needs"] == "version"


def test_nothing_else_in_the_repository_pins_another_image_tag():
    pattern = re.compile(re.escape(names.IMAGE_REGISTRY) + r"/quizops-[a-z]+:([\w.-]+)")
    stale = []
    for path in [*REPO.glob("*.md"), *REPO.glob("components/**/*.md"), *REPO.glob("kserve/*"),
                 *REPO.glob("images/*"), *REPO.glob("manifests/**/*.yaml")]:  # fmt: skip
        if path.is_file():
            for tag in pattern.findall(path.read_text(errors="replace")):
                if tag != names.IMAGE_VERSION:
                    stale.append(f"{path.relative_to(REPO)}: {tag}")
    assert not stale


def test_the_predictor_image_installs_the_serving_extra_only():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    serving, core = set(extras["serving"]), set(extras["core"])
    assert serving <= core  # the same pins as the core image: one resolution
    names_only = {re.split(r"[=<>\[ ]", r, maxsplit=1)[0].lower() for r in serving}
    assert not names_only & {"mlflow", "kfp", "kfp-kubernetes", "kubernetes", "catsim"}
    assert {"kserve", "scikit-learn"} <= names_only
    syncs = re.findall(r"uv sync [^\n]*", (REPO / "kserve" / "Dockerfile").read_text())
    assert syncs and all("--extra serving" in s and "--extra core" not in s for s in syncs)
