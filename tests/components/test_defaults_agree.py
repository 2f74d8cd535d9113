"""One default per setting: the pipeline's parameter defaults, the components' signature defaults
(``inspect.signature`` of ``component.python_func``) and the library's config dataclasses agree.

KFP needs literal defaults in a component's signature (only the function's source travels to the
container), so the defaults are written in three places; this test is what keeps them one.
Pairs are found from the pipeline spec itself (every task input bound to a pipeline parameter),
so a new parameter is covered without editing this file.
"""

import ast
import dataclasses
import importlib
import inspect
from pathlib import Path

import pytest
from kfp.dsl import base_component

from pipelines.compile import PIPELINES

REPO = Path(__file__).resolve().parents[2]
MISSING = object()
#: (pipeline parameter, component input) pairs whose defaults differ on purpose, with the reason.
DIFFER_ON_PURPOSE = {
    ("mlflow_tracking_uri", "tracking_uri"): "a component's '' means MLFLOW_TRACKING_URI of the "
    "environment; the pipeline names the cluster's tracking server",
    ("predictor_image", "predictor_image"): "a component's default cannot name "
    "quizops.names.PREDICTOR_IMAGE (only its body travels to the container) and must not repeat "
    "the version; the pipeline's default is that constant",
}


def component_functions() -> dict[str, base_component.BaseComponent]:
    """Component name in the IR (``comp-<name>``) -> component, for every component folder."""
    found = {}
    for path in sorted((REPO / "components").glob("*/component.py")):
        module = importlib.import_module(f"components.{path.parent.name}.component")
        for value in vars(module).values():
            if isinstance(value, base_component.BaseComponent):
                found[value.name.replace("_", "-")] = value
    return found


def signature_defaults(component: base_component.BaseComponent) -> dict[str, object]:
    signature = inspect.signature(component.python_func)
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def pipeline_defaults(pipeline) -> dict[str, object]:
    signature = inspect.signature(pipeline.pipeline_func)
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def bindings(pipeline) -> list[tuple[str, str, str]]:
    """(pipeline parameter, component name, component input) for every bound task input."""
    spec = pipeline.pipeline_spec
    out = []

    def walk(dag, components):
        for task in dag.tasks.values():
            ref = task.component_ref.name
            for name, value in task.inputs.parameters.items():
                if value.component_input_parameter:
                    out.append((value.component_input_parameter, ref, name))
            inner = components[ref]
            if inner.HasField("dag"):
                walk(inner.dag, components)

    walk(spec.root.dag, spec.components)
    # Condition/exit-handler groups pass pipeline parameters under names such as
    # pipelinechannel--<parameter>; strip the prefix.
    return [(p.removeprefix("pipelinechannel--"), c, i) for p, c, i in out]


def dataclass_defaults_from_source(path: Path, class_name: str) -> dict[str, object]:
    """Literal field defaults of a dataclass read from its source (for modules that need TFDV,
    which the core environment lacks)."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            out = {}
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    try:
                        out[item.target.id] = ast.literal_eval(item.value)
                    except (ValueError, TypeError):
                        continue
            return out
    raise AssertionError(f"{class_name} not found in {path}")


def dataclass_defaults(cls) -> dict[str, object]:
    return {
        f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
    }


def config_defaults() -> dict[str, dict[str, object]]:
    """Component name -> defaults of the config dataclass it builds."""
    from quizops.evaluation import GateConfig
    from quizops.monitoring.stage import MonitoringConfig
    from quizops.policy import TrainingConfig

    return {
        "comp-monitor-serving": dataclass_defaults(MonitoringConfig),
        "comp-evaluate-policy": dataclass_defaults(GateConfig),
        "comp-train-policy": dataclass_defaults(TrainingConfig),
        "comp-data-validation": dataclass_defaults_from_source(
            REPO / "quizops" / "validation" / "gate.py", "ValidationConfig"
        ),
    }


def same(a: object, b: object) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return (a == b and type(a) is type(b)) or (isinstance(a, float) and a == b)


@pytest.mark.parametrize("stem", sorted(PIPELINES))
def test_pipeline_defaults_equal_component_defaults(stem):
    pipeline = PIPELINES[stem]
    components = component_functions()
    defaults = pipeline_defaults(pipeline)
    problems = []
    checked = 0
    for parameter, ref, name in bindings(pipeline):
        component = components.get(ref.removeprefix("comp-"))
        if component is None or parameter not in defaults:
            continue
        if (parameter, name) in DIFFER_ON_PURPOSE:
            continue
        own = signature_defaults(component).get(name, MISSING)
        if own is MISSING:
            continue
        checked += 1
        if not same(defaults[parameter], own):
            problems.append(f"{parameter}={defaults[parameter]!r} but {ref}.{name}={own!r}")
    assert not problems, "; ".join(problems)
    if stem == "training":
        assert checked >= 15  # the thresholds, the gate and the learner settings at least


def test_component_defaults_equal_config_dataclass_defaults():
    components = component_functions()
    problems = []
    checked = 0
    for ref, fields in config_defaults().items():
        own = signature_defaults(components[ref.removeprefix("comp-")])
        for name, value in own.items():
            if name in fields:
                checked += 1
                if not same(value, fields[name]):
                    problems.append(f"{ref}.{name}={value!r} but the config says {fields[name]!r}")
    assert not problems, "; ".join(problems)
    assert checked >= 20


def test_the_comparison_tells_unequal_defaults_apart():
    assert same(0.1, 0.1) and same([], ()) and not same(0.1, 0.05) and not same(1, True)
