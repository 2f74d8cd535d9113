"""Simulator logs in the canonical layout, for the evaluation tests."""

import pandas as pd


def to_canonical(raw: pd.DataFrame) -> pd.DataFrame:
    """Minimal ASSISTments -> canonical mapping (the columns evaluation reads)."""
    return pd.DataFrame(
        {
            "interaction_id": raw["order_id"].astype(str),
            "student_id": raw["user_id"].astype(str),
            "item_id": raw["problem_id"].astype(str),
            "skill_id": raw["skill_id"].astype(str),
            "correct": raw["correct"],
            "timestamp": raw["order_id"],
            "propensity": raw["propensity"],
        }
    )
