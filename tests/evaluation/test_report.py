"""The evaluation report's charts, read as a user reads them: one colour per policy throughout."""

import re

import numpy as np

from quizops.evaluation.gate import GateConfig
from quizops.evaluation.ope import Interval
from quizops.evaluation.report import figures
from quizops.evaluation.simulation_eval import CHALLENGER, FamilyResult, PolicyRun


def _run(name: str, level: float) -> PolicyRun:
    curve = np.linspace(0.0, level, 6)
    return PolicyRun(
        name=name,
        mastered=Interval(level, level - 0.1, level + 0.1),
        curve=curve,
        curve_low=curve - 0.1,
        curve_high=curve + 0.1,
        item_share=np.array([0.5, 0.3, 0.2]),
        final=np.full(10, level),
    )


def test_each_paired_difference_has_the_colour_of_its_policy_in_the_curves():
    names = [CHALLENGER, "random", "fixed curriculum", "mastery 0.95", "oracle"]
    runs = {n: _run(n, float(k + 1)) for k, n in enumerate(names)}
    others = ["random", "fixed curriculum", "mastery 0.95", "oracle"]
    family = FamilyResult(
        family="bkt",
        runs=runs,
        reference="fixed curriculum",
        differences={n: Interval(1.0, 0.5, 1.5) for n in others},
        slices={"low_prior_mastery": Interval(0.4, 0.1, 0.7)},
        slice_sizes={"low_prior_mastery": 3},
        item_ids=["q1", "q2", "q3"],
        students=10,
    )
    charts = figures([family], None, GateConfig())
    # The curves chart's legend: a coloured stroke, then the policy's name.
    entry = r"stroke='(#[0-9a-f]{6})' stroke-width='3'/><text[^>]*>([^<]+)<"
    legend = {name: colour for colour, name in re.findall(entry, charts["curves_bkt"])}
    assert set(legend) == set(names) and len(set(legend.values())) == len(names)
    # The differences chart: a row's label, its whisker, then its point.
    row = (
        r">([^<]+)</text><line [^>]*stroke='(#[0-9a-f]{6})'[^>]*/>"
        r"<circle [^>]*fill='(#[0-9a-f]{6})'"
    )
    rows = re.findall(row, charts["differences_bkt"])
    assert [label for label, _, _ in rows] == [
        *(f"vs {n}" for n in others),
        "slice low_prior_mastery vs fixed curriculum",
    ]
    for label, whisker, point in rows[:-1]:
        assert whisker == point == legend[label.removeprefix("vs ")]
    slice_colour = rows[-1][2]
    assert slice_colour not in legend.values()
