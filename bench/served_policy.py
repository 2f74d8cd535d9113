"""The policy a local pipeline run served, judged in the true world of the third course.

After ``make run DATA=<course C logs>.csv FORMAT=assistments`` (logs from
``python -m bench.course_c``; or course D's, from ``python -m bench.course_d --out``, with
``--course d``) with ``QUIZOPS_HOME`` set, this loads the registered champion of
that home (``QuizPolicy.load`` on the registry's copy, what ``make serve`` serves) and lets it,
every baseline built from its own tracer and the world's oracle teach the same fresh students
of course C's true world 20 questions (common random numbers)::

    python -m bench.served_policy --home /tmp/home [--students 2000]

With ``--url http://127.0.0.1:8080`` (``make serve`` running on that home), the same students
are also taught by the served predictor over HTTP (v1 protocol, stateless: each request carries
the student's whole history), the path a user's quiz engine takes.

Not part of ``make bench`` (it needs a finished pipeline run); the README reports its figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

STEPS = 20
#: Instances per predictor request (the predictor's default limit is 256).
BATCH = 200


class HttpChooser:
    """Students taught by a running predictor: one v1 request per step and batch of students.

    Attributes:
        name: Name in reports.
        url: The predictor's base URL (``http://127.0.0.1:PORT``).
    """

    def __init__(self, url: str, name: str = "served over HTTP") -> None:
        """Points at a predictor.

        Args:
            url: Base URL of the predictor.
            name: Name in reports.
        """
        self.url = url.rstrip("/")
        self.name = name
        self._histories: list[list[dict]] = []

    def start(self, context: object) -> None:
        """Starts a cohort with empty histories."""
        self._histories = [[] for _ in range(context.n_students)]  # type: ignore[attr-defined]

    def choose(self) -> tuple[list[str], np.ndarray]:
        """Asks the predictor for every student's next item.

        Returns:
            The items and the propensities the predictor reported.

        Raises:
            RuntimeError: The predictor answered with an error status.
        """
        from quizops.names import MODEL_NAME
        from quizops.serving import http_json

        items: list[str] = []
        propensities: list[float] = []
        for low in range(0, len(self._histories), BATCH):
            batch = self._histories[low : low + BATCH]
            body = {
                "instances": [
                    {"student_id": f"bench-{low + k}", "history": history}
                    for k, history in enumerate(batch)
                ]
            }
            status, answer = http_json(
                "POST", f"{self.url}/v1/models/{MODEL_NAME}:predict", body, timeout=60.0
            )
            if status != 200:
                raise RuntimeError(f"predictor answered {status}: {answer}")
            items.extend(p["item_id"] for p in answer["predictions"])
            propensities.extend(float(p["propensity"]) for p in answer["predictions"])
        return items, np.asarray(propensities)

    def observe(self, item_ids: list[str], correct: np.ndarray) -> None:
        """Appends each student's answer to their history."""
        for history, item, ok in zip(self._histories, item_ids, correct, strict=True):
            history.append({"item_id": str(item), "correct": int(ok)})


def served_rows(
    home: Path,
    students: int = 2000,
    course: str = "c",
    url: str | None = None,
    course_seed: int = 42,
    multi_skill: float = 0.0,
    world_name: str = "default",
) -> list[dict]:
    """Skills mastered by the home's champion and the baselines in a course's true world.

    Args:
        home: The local home of the pipeline run.
        students: New students taught.
        course: ``c`` (``bench.course_c``) or ``d`` (``bench.course_d``, default course seed).
        url: A running predictor serving that champion (None: in-process only).
        course_seed: Course D's seed (``bench.course_d --seed``).
        multi_skill: Course D's multi-skill share (``bench.course_d --multi-skill``).
        world_name: Course D's world (``bench.course_d --world``).

    Returns:
        One row per chooser.
    """
    import mlflow
    from threadpoolctl import threadpool_limits

    from bench.course_c import make_course_c
    from quizops.home import local_home
    from quizops.policy import QuizPolicy
    from quizops.simulation.baselines import OracleChooser, baseline_choosers, best_mastery_chooser
    from quizops.simulation.rollouts import simulate
    from quizops.tracking import download_policy, version_by_alias

    uri = local_home(home).mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)  # the registry copy is read through the process-wide URIs
    mlflow.set_registry_uri(uri)
    version = version_by_alias("champion", uri)
    if version is None:
        raise SystemExit(f"{home}: no champion registered (the run did not bless a policy)")
    with tempfile.TemporaryDirectory() as folder:
        policy = QuizPolicy.load(download_policy(version, folder))
    if course == "d":
        from bench.course_d import make_course_d

        world = make_course_d(course_seed, multi_skill=multi_skill, world=world_name)[1]
    else:
        world = make_course_c()
    with threadpool_limits(1):
        choosers = [
            *baseline_choosers(policy.tracer, horizon=STEPS),
            best_mastery_chooser(
                policy.tracer, world, students=students // 4, steps=STEPS, seed=99
            ),
            OracleChooser(),
            policy.as_chooser(f"served champion v{version.version}"),
        ]
        if url is not None:
            choosers.append(HttpChooser(url, f"served champion v{version.version} over HTTP"))
        results = {
            c.name: simulate(
                c, world, students=students, steps=STEPS, seed=12345
            ).mastered_interval()
            for c in choosers
        }
    oracle, random = results["oracle"][0], results["random"][0]
    rows = []
    for name, (mean, low, high) in results.items():
        regret = (oracle - mean) / (oracle - random)
        rows.append(
            {
                "benchmark": f"course {course.upper()} true world / {name}",
                "measured": round(mean, 3),
                "unit": f"skills mastered after {STEPS} (n={students})",
                "target": "",
                "anchor": f"95% CI [{low:.3f}, {high:.3f}]; regret {regret:.3f}",
            }
        )
    return rows


def main(argv: list[str]) -> int:
    """Prints the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--course", choices=("c", "d"), default="c", help="the logs' course")
    parser.add_argument("--url", help="a running predictor (make serve) to teach the students too")
    parser.add_argument("--course-seed", type=int, default=42, help="course D's --seed")
    parser.add_argument("--multi-skill", type=float, default=0.0, help="course D's --multi-skill")
    parser.add_argument("--world", default="default", help="course D's --world")
    args = parser.parse_args(argv)
    rows = served_rows(
        args.home,
        args.students,
        args.course,
        args.url,
        args.course_seed,
        args.multi_skill,
        args.world,
    )
    for row in rows:
        print(f"{row['benchmark']}: {row['measured']} {row['unit']} | {row['anchor']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
