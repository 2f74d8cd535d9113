from quizops.privacy import format_cell, suppress_small_cells


def test_small_cells_are_suppressed_with_a_complement():
    rows = [
        {"k": "a", "cells": 40, "students": 25},
        {"k": "b", "cells": 3, "students": 2},
        {"k": "c", "cells": 15, "students": 12},
    ]
    out = suppress_small_cells(rows, ("cells",))
    assert out[1]["cells"] is None and out[1]["students"] is None and out[1]["suppressed"]
    # the smallest other row is hidden too, so b cannot be recovered from a total
    assert out[2]["cells"] is None and out[2]["suppressed"]
    assert out[0] == {"k": "a", "cells": 40, "students": 25, "suppressed": False}
    assert rows[1]["cells"] == 3  # input untouched


def test_no_suppression_at_threshold_and_formatting():
    out = suppress_small_cells([{"cells": 10, "students": 10}], ("cells",))
    assert out[0]["cells"] == 10 and not out[0]["suppressed"]
    assert format_cell(None) == "<10" and format_cell(7) == "7"


def test_two_small_cells_need_no_complement():
    rows = [{"cells": 1, "students": 1}, {"cells": 2, "students": 2}, {"cells": 50, "students": 50}]
    out = suppress_small_cells(rows, ("cells",))
    assert [r["suppressed"] for r in out] == [True, True, False]
