import numpy as np
import pytest
from scipy import stats

from quizops.errors import InputDataError
from quizops.features import fit_tracer
from quizops.simulation import (
    Chooser,
    CurriculumChooser,
    MasteryChooser,
    OracleChooser,
    RandomChooser,
    ZPDESChooser,
    canonical_from_simulated,
    simulate,
    simulate_logs,
)
from quizops.simulation.base import RolloutContext


@pytest.fixture(scope="module")
def tracer(world):
    return fit_tracer(canonical_from_simulated(simulate_logs(world, 20_000, seed=3)))


def test_common_random_numbers_same_students_and_draws_for_any_chooser(world, tracer):
    a = simulate(RandomChooser(tracer), world, students=300, steps=10, seed=4)
    b = simulate(MasteryChooser(tracer), world, students=300, steps=10, seed=4)
    again = simulate(RandomChooser(tracer), world, students=300, steps=10, seed=4)
    np.testing.assert_array_equal(a.prior_mastered, b.prior_mastered)  # same students
    np.testing.assert_array_equal(a.chosen, again.chosen)
    np.testing.assert_array_equal(a.final_mastered, again.final_mastered)
    assert a == again
    other = simulate(RandomChooser(tracer), world, students=300, steps=10, seed=5)
    assert not np.array_equal(a.prior_mastered, other.prior_mastered)


def test_result_shapes_and_interval_match_an_independent_computation(world, tracer):
    result = simulate(CurriculumChooser(tracer, 12), world, students=500, steps=12, seed=1)
    assert result.chosen.shape == result.propensities.shape == (12, 500)
    assert len(result.curve) == 12
    assert result.curve[-1] == pytest.approx(result.final_mastered.mean() / world.n_skills)
    mean, low, high = result.mastered_interval()
    values = result.final_mastered.astype(float)
    ref = stats.norm.interval(0.95, loc=values.mean(), scale=stats.sem(values))
    assert (low, high) == pytest.approx(ref, abs=1e-9)
    assert mean == pytest.approx(values.mean())


def test_oracle_beats_random_and_every_chooser_is_a_chooser(world, tracer):
    choosers = [RandomChooser(tracer), MasteryChooser(tracer), ZPDESChooser(tracer),
                CurriculumChooser(tracer), OracleChooser()]  # fmt: skip
    assert all(isinstance(c, Chooser) for c in choosers)
    oracle = simulate(OracleChooser(), world, students=400, steps=20, seed=2)
    random = simulate(RandomChooser(tracer), world, students=400, steps=20, seed=2)
    assert oracle.mastered_interval()[1] > random.mastered_interval()[2]


def test_reported_propensities_match_choice_frequencies(world, tracer):
    # ZPDES mixes a learning-progress bandit over skills with uniform items: its reported
    # propensity must be the frequency with which the same state yields the same item.
    chooser = ZPDESChooser(tracer)
    n = 20_000
    chooser.start(RolloutContext(n, list(world.item_ids), np.random.default_rng(0)))
    first = world.item_ids[0]
    chooser.observe([first] * n, np.ones(n, dtype=int))
    items, propensity = chooser.choose()
    items = np.array(items)
    for item in np.unique(items)[:5]:
        mask = items == item
        assert mask.mean() == pytest.approx(propensity[mask][0], abs=4 * np.sqrt(0.25 / n))


def test_a_chooser_picking_outside_the_world_is_an_input_error(world, tracer):
    class Stray(RandomChooser):
        name = "stray"

        def choose(self):
            return ["not-an-item"] * self.n, np.ones(self.n)

    with pytest.raises(InputDataError, match="chooser stray: item_id 'not-an-item'"):
        simulate(Stray(tracer), world, students=3, steps=1, seed=0)
