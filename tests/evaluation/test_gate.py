"""The gate: refuses a worse challenger, one with too little overlap, one that harms a slice and
one evaluated while the registry fails; blesses a better one. Simulation evidence comes from
real rollouts in the hand-made world (paired students); OPE evidence from hand-made numbers."""

from dataclasses import replace

import numpy as np
import pytest

from quizops.errors import ConfigurationError
from quizops.evaluation.gate import FamilyEvidence, GateConfig, OPEEvidence, decide
from quizops.evaluation.ope import Interval, Overlap
from quizops.evaluation.simulation_eval import CHALLENGER, CHAMPION, evaluate_family
from quizops.simulation import make_world, simulate


class Uniform:
    """Picks any item uniformly."""

    name = "random"

    def start(self, context):
        self.context = context

    def choose(self):
        n, items = self.context.n_students, self.context.item_ids
        picks = self.context.rng.integers(0, len(items), n)
        return [items[i] for i in picks], np.full(n, 1.0 / len(items))

    def observe(self, item_ids, correct):
        pass


class Oracle(Uniform):
    """Knows the hidden state (an upper bound); with ``harm_below`` it serves students who
    started with at most that many skills one useless item instead."""

    name = "oracle"

    def __init__(self, harm_below=-1):
        self.harm_below = harm_below

    def start(self, context):
        super().start(context)
        self.prior = context.world.mastered(context.students).sum(axis=1)

    def choose(self):
        world, students = self.context.world, self.context.students
        best = world.oracle_scores(students).argmax(axis=1)
        useless = int(np.argmin(world.teach))
        picks = np.where(self.prior <= self.harm_below, useless, best)
        items = self.context.item_ids
        return [items[i] for i in picks], np.ones(len(picks))


def family(choosers, students=240, steps=15):
    return evaluate_family(
        "handmade",
        make_world(7),
        choosers,
        simulate=simulate,
        students=students,
        steps=steps,
        seed=11,
        resamples=200,
        bootstrap_seed=0,
    )


def good_ope():
    return OPEEvidence(
        reference="logging policy",
        difference=Interval(0.02, -0.01, 0.05),
        overlap=Overlap(800.0, 0.2, 12.0, 0.05, 0.97, 4000),
    )


def evidence(result):
    return FamilyEvidence(
        family=result.family,
        reference=result.reference,
        improvement=result.differences[result.reference],
        slices=result.slices,
        max_item_share=result.challenger_max_item_share,
    )


@pytest.fixture(scope="module")
def better():
    return family({CHALLENGER: lambda w: Oracle(), "random": lambda w: Uniform()})


def test_paired_simulation_is_paired_and_intervals_cover_the_means(better):
    # Same students for every policy: the prior is the same, so the paired difference equals
    # the difference of the means exactly.
    runs = better.runs
    diff = better.differences["random"]
    assert diff.estimate == pytest.approx(
        runs[CHALLENGER].mastered.estimate - runs["random"].mastered.estimate
    )
    for run in runs.values():
        assert run.mastered.low <= run.mastered.estimate <= run.mastered.high
        assert run.curve.shape == (16,)  # before the first item and after each of 15
        assert np.all(run.curve_low <= run.curve + 1e-12)
        assert run.item_share.sum() == pytest.approx(1.0)
    # The curve starts at the prior and ends at the final mastery.
    assert runs["random"].curve[0] == pytest.approx(runs[CHALLENGER].curve[0])
    assert runs[CHALLENGER].curve[-1] == pytest.approx(runs[CHALLENGER].mastered.estimate)
    assert better.reference == "random"


def test_gate_blesses_a_better_challenger(better):
    decision = decide(
        GateConfig(max_item_share=1.0),
        champion_version="",
        families=[evidence(better)],
        ope=good_ope(),
    )
    assert decision.blessed, decision.reasons
    assert better.differences["random"].low > 0


def test_gate_refuses_a_worse_challenger():
    worse = family({CHALLENGER: lambda w: Uniform(), CHAMPION: lambda w: Oracle()})
    assert worse.reference == CHAMPION
    decision = decide(
        GateConfig(max_item_share=1.0),
        champion_version="4",
        families=[evidence(worse)],
        ope=good_ope(),
    )
    assert not decision.blessed
    failed = [c.name for c in decision.checks if not c.passed]
    assert "simulation:handmade" in failed
    assert decision.champion_version == "4"


def test_gate_refuses_a_challenger_that_harms_a_slice():
    # Better than the random champion overall, but students who start with no skill get one
    # useless item over and over.
    harmful = family({CHALLENGER: lambda w: Oracle(harm_below=0), CHAMPION: lambda w: Uniform()})
    ev = evidence(harmful)
    assert ev.improvement.low > 0  # the overall comparison alone would bless it
    decision = decide(
        GateConfig(max_item_share=1.0), champion_version="4", families=[ev], ope=good_ope()
    )
    failed = [c.name for c in decision.checks if not c.passed]
    assert failed == ["slice:handmade:low_prior_mastery"], decision.reasons
    assert not decision.blessed


def test_gate_refuses_too_little_overlap(better):
    poor = OPEEvidence(
        reference="logging policy",
        difference=Interval(0.5, 0.2, 0.9),  # a glowing estimate that means nothing
        overlap=Overlap(12.0, 0.003, 900.0, 0.7, 0.97, 4000),
    )
    decision = decide(
        GateConfig(max_item_share=1.0), champion_version="", families=[evidence(better)], ope=poor
    )
    assert not decision.blessed
    failed = {c.name: c.detail for c in decision.checks if not c.passed}
    assert set(failed) == {"overlap", "ope"}
    assert "refused" in failed["ope"]
    # The refusal says which need is short, and what adds overlap.
    assert "effective sample below 30" in failed["ope"] and "support below" not in failed["ope"]
    assert "DECISIONS=" in failed["ope"]
    # Low support alone refuses as well, and says so alone.
    unsupported = OPEEvidence(
        "logging policy", Interval(0.0, -0.1, 0.1), Overlap(900.0, 0.2, 3.0, 0.02, 0.5, 4000)
    )
    alone = decide(
        GateConfig(max_item_share=1.0),
        champion_version="",
        families=[evidence(better)],
        ope=unsupported,
    )
    assert not alone.blessed
    ope_detail = next(c.detail for c in alone.checks if c.name == "ope")
    assert "support below 0.9" in ope_detail and "effective sample below" not in ope_detail


def test_gate_refuses_an_ope_value_worse_beyond_its_interval(better):
    worse = OPEEvidence(
        "champion", Interval(-0.08, -0.12, -0.03), Overlap(900.0, 0.2, 3.0, 0.02, 0.99, 4000)
    )
    decision = decide(
        GateConfig(max_item_share=1.0), champion_version="2", families=[evidence(better)], ope=worse
    )
    assert [c.name for c in decision.checks if not c.passed] == ["ope"]
    # Within its interval it passes.
    fine = OPEEvidence("champion", Interval(-0.02, -0.06, 0.01), worse.overlap)
    assert decide(
        GateConfig(max_item_share=1.0), champion_version="2", families=[evidence(better)], ope=fine
    ).blessed


def test_gate_fails_closed_when_the_registry_fails(better):
    decision = decide(
        GateConfig(max_item_share=1.0),
        champion_version="",
        registry_error="could not reach the tracking server (ConnectionError)",
        families=[evidence(better)],
        ope=good_ope(),
    )
    assert not decision.blessed
    assert decision.checks[0].name == "registry" and not decision.checks[0].passed
    assert "fails closed" in decision.reasons[0]


def test_gate_needs_every_family_and_caps_item_share(better):
    weak = FamilyEvidence("pfa", "random", Interval(0.1, -0.05, 0.3), {}, 0.1)
    decision = decide(
        GateConfig(max_item_share=1.0),
        champion_version="",
        families=[evidence(better), weak],
        ope=good_ope(),
    )
    assert [c.name for c in decision.checks if not c.passed] == ["simulation:pfa"]
    # The oracle drills a few items; a cap below its largest share refuses it.
    share = better.challenger_max_item_share
    capped = decide(
        GateConfig(max_item_share=share / 2),
        champion_version="",
        families=[evidence(better)],
        ope=good_ope(),
    )
    assert [c.name for c in capped.checks if not c.passed] == ["item_share"]
    assert not decide(GateConfig(), champion_version="", families=[], ope=good_ope()).blessed


def test_config_rejects_bad_settings():
    with pytest.raises(ConfigurationError, match="ope_estimator"):
        GateConfig(ope_estimator="logged")
    with pytest.raises(ConfigurationError, match="holdout_fraction"):
        GateConfig(holdout_fraction=1.5)


def test_slices_split_students_by_prior_mastery_and_skip_a_slice_of_everyone():
    from quizops.evaluation.simulation_eval import _slices

    prior = np.array([0, 0, 0, 1, 1, 2, 3, 3, 4])
    slices = _slices(prior)
    assert np.array_equal(slices["low_prior_mastery"], prior == 0)  # thirds: 0.67, 2.33
    assert np.array_equal(slices["high_prior_mastery"], prior >= 3)
    assert _slices(np.zeros(10)) == {}


def _unfit_pfa():
    """A family that predicts held-out answers worse than plain BKT, where the challenger loses."""
    return FamilyEvidence(
        "pfa",
        "max information",
        Interval(-0.4, -0.45, -0.35),
        {"low_prior_mastery": Interval(-0.4, -0.5, -0.3)},
        0.9,
        heldout_loglik=-0.61,
        plain_bkt_loglik=-0.59,
    )


def test_with_exclusion_off_every_fitted_family_is_gated_even_one_that_fits_worse(better):
    unfit = _unfit_pfa()
    config = GateConfig(max_item_share=1.0, exclude_unfit_families=False)
    decision = decide(
        config, champion_version="", families=[evidence(better), unfit], ope=good_ope()
    )
    # Gated by default: the loss refuses the challenger, and the check warns about the fit.
    assert not decision.blessed
    checks = {c.name: c for c in decision.checks}
    pfa = checks["simulation:pfa"]
    assert pfa.gated and not pfa.passed and pfa.result == "FAIL"
    assert "worse than plain BKT" in pfa.warning and "-0.6100, plain BKT -0.5900" in pfa.warning
    assert not checks["slice:pfa:low_prior_mastery"].passed
    assert "family_exclusion" not in checks
    # The well-fitting family carries no warning.
    assert checks["simulation:handmade"].passed and not checks["simulation:handmade"].warning
    # A win in the unfit family passes like any other.
    winning = FamilyEvidence(
        "pfa", "max information", Interval(0.3, 0.2, 0.4), {}, 0.1, -0.61, -0.59
    )
    assert decide(
        config, champion_version="", families=[evidence(better), winning], ope=good_ope()
    ).blessed
    # A margin wide enough makes it fit: no warning.
    lenient = decide(
        GateConfig(max_item_share=1.0, family_fit_margin=0.05, exclude_unfit_families=False),
        champion_version="",
        families=[evidence(better), unfit],
        ope=good_ope(),
    )
    assert not lenient.blessed
    assert not next(c for c in lenient.checks if c.name == "simulation:pfa").warning


def test_excluding_unfit_families_is_explicit_and_said_in_the_decision(better):
    unfit = _unfit_pfa()
    config = GateConfig(max_item_share=1.0, exclude_unfit_families=True)
    decision = decide(
        config, champion_version="", families=[evidence(better), unfit], ope=good_ope()
    )
    assert decision.blessed, decision.reasons
    pfa = next(c for c in decision.checks if c.name == "simulation:pfa")
    assert "not gated" in pfa.detail and pfa.warning and pfa.result == "not gated"
    assert any(line.startswith("not gated simulation:pfa") for line in decision.reasons)
    assert not any(c.name.startswith("slice:pfa") for c in decision.checks)
    exclusion = next(c for c in decision.checks if c.name == "family_exclusion")
    assert not exclusion.gated and "exclude_unfit_families is on" in exclusion.detail
    assert "(pfa)" in exclusion.detail
    # A family that fits is gated even then.
    fits = FamilyEvidence(
        "pfa", "max information", Interval(-0.4, -0.45, -0.35), {}, 0.1, -0.58, -0.59
    )
    assert not decide(
        config, champion_version="", families=[evidence(better), fits], ope=good_ope()
    ).blessed
    # With every family excluded, nothing can be blessed.
    alone = decide(config, champion_version="", families=[unfit], ope=good_ope())
    assert not alone.blessed
    assert any(c.name == "simulation" and not c.passed for c in alone.checks)


def test_a_family_the_held_out_students_rule_out_against_another_is_not_gated(better):
    # pfa predicts better than plain BKT, but significantly worse than the best fitted family
    # (upper bound of the paired gap below 0): with exclusion on, it is shown, not gated.
    ruled_out = FamilyEvidence(
        "pfa",
        "mastery 0.95",
        Interval(-0.7, -0.8, -0.6),
        {},
        0.1,
        heldout_loglik=-0.571,
        plain_bkt_loglik=-0.625,
        fit_gap_high=-0.0065,
    )
    decision = decide(
        GateConfig(max_item_share=1.0),
        champion_version="",
        families=[evidence(better), ruled_out],
        ope=good_ope(),
    )
    assert decision.blessed, decision.reasons
    pfa = next(c for c in decision.checks if c.name == "simulation:pfa")
    assert not pfa.gated and "another fitted family" in pfa.detail and "-0.0065" in pfa.detail
    # Not ruled out (the interval reaches 0): gated, and the loss refuses the challenger.
    plausible = replace(ruled_out, fit_gap_high=0.001)
    assert not decide(
        GateConfig(max_item_share=1.0),
        champion_version="",
        families=[evidence(better), plausible],
        ope=good_ope(),
    ).blessed
    # A margin as wide as the gap keeps it in the gate too.
    assert not decide(
        GateConfig(max_item_share=1.0, family_fit_margin=0.01),
        champion_version="",
        families=[evidence(better), ruled_out],
        ope=good_ope(),
    ).blessed
