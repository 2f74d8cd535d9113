import json

import pytest

from quizops.errors import RequestContractError, RequestTooLargeError
from quizops_predictor.contract import (
    MAX_INSTANCES,
    ContractError,
    Limits,
    parse_instance,
    parse_v1,
    parse_v2_elements,
)

BANK = frozenset({"p1", "p2", "p3"})


def test_parse_v1_reads_history_and_candidates():
    [instance] = parse_v1(
        {
            "instances": [
                {
                    "student_id": "s-17",
                    "history": [{"item_id": "p1", "correct": 1}, {"item_id": "p2", "correct": 0}],
                    "candidates": ["p3", "p2"],
                }
            ]
        },
        BANK,
    )
    assert instance.student_id == "s-17"
    assert instance.history == (("p1", 1), ("p2", 0))
    assert instance.candidates == ("p3", "p2")


def test_items_outside_the_bank_are_counted_and_left_out_of_the_candidates():
    [stateless, stateful] = parse_v1(
        {
            "instances": [
                {
                    "student_id": "a",
                    "history": [{"item_id": "p9", "correct": 1}, {"item_id": "p1", "correct": 0},
                                {"item_id": "p8", "correct": 0}],
                    "candidates": ["p7", "p3", "p1"],
                },
                {"student_id": "b", "answer": {"item_id": "p9", "correct": 1}},
            ]
        },
        BANK,
    )  # fmt: skip
    # the history is kept whole (the tracer skips what it does not know, as offline)
    assert stateless.history == (("p9", 1), ("p1", 0), ("p8", 0))
    assert (stateless.unknown_history, stateless.unknown_candidates) == (2, 1)
    assert stateless.candidates == ("p3", "p1")
    assert stateful.answer == ("p9", 1)
    assert (stateful.unknown_history, stateful.unknown_candidates) == (1, 0)


def test_items_training_left_out_are_counted_apart_among_the_unknown():
    body = {
        "instances": [
            {
                "student_id": "a",
                "history": [{"item_id": "p9", "correct": 1}, {"item_id": "p1", "correct": 0},
                            {"item_id": "p8", "correct": 0}, {"item_id": "p9", "correct": 0}],
                "candidates": ["p7", "p3", "p8", "p1"],
            },
            {"student_id": "b", "answer": {"item_id": "p8", "correct": 1}},
            {"student_id": "c", "answer": {"item_id": "p9", "correct": 1}},
        ]
    }  # fmt: skip
    # p8 was left out by training (an untraceable skill); p9 and p7 are merely new. An item in
    # the bank is never counted, whatever the left-out list says.
    a, b, c = parse_v1(body, BANK, left_out=frozenset({"p8", "p1"}))
    assert (a.unknown_history, a.left_out_history) == (3, 1)
    assert (a.unknown_candidates, a.left_out_candidates) == (2, 1)
    assert a.candidates == ("p3", "p1")
    assert (b.unknown_history, b.left_out_history) == (1, 1)
    assert (c.unknown_history, c.left_out_history) == (1, 0)
    # Without the list, as before: every unknown item is new.
    assert [i.left_out_history + i.left_out_candidates for i in parse_v1(body, BANK)] == [0, 0, 0]


def test_integer_ids_read_as_their_decimal_string():
    [instance] = parse_v1(
        {"instances": [{"student_id": 17, "request_id": 5,
                        "history": [{"item_id": 12, "correct": 1}], "candidates": [3, "4"]}]}
    )  # fmt: skip
    assert (instance.student_id, instance.request_id) == ("17", "5")
    assert instance.history == (("12", 1),)
    assert instance.candidates == ("3", "4")


def test_integral_float_correct_is_the_same_answer():
    # JSON has one number type: a client that writes 1.0 (numpy floats, JavaScript-free
    # serializers) sends the same answer as one that writes 1.
    text = (
        '{"instances": [{"student_id": "a", "history": [{"item_id": "p1", "correct": %s},'
        ' {"item_id": "p2", "correct": %s}]}, {"student_id": "b", "answer":'
        ' {"item_id": "p9", "correct": %s}}]}'
    )
    as_floats = parse_v1(json.loads(text % ("1.0", "0.0", "1.0")), BANK)
    as_ints = parse_v1(json.loads(text % ("1", "0", "1")), BANK)
    assert as_floats == as_ints
    assert as_floats[0].history == (("p1", 1), ("p2", 0))
    assert as_floats[1].answer == ("p9", 1)


def test_candidates_default_to_none_and_bool_correct_is_accepted():
    [instance] = parse_v1(
        {"instances": [{"student_id": "a", "history": [{"item_id": "p1", "correct": True}]}]}, BANK
    )
    assert instance.candidates is None
    assert instance.history == (("p1", 1),)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({}, "instances"),
        ({"instances": []}, "instances"),
        ({"instances": [{"history": []}]}, "instances[0].student_id"),
        (
            {"instances": [{"student_id": "a", "history": [], "answer": {"item_id": "p1"}}]},
            "instances[0].answer",
        ),
        (
            {"instances": [{"student_id": "a", "answer": {"item_id": "p1"}}]},
            "instances[0].answer.correct",
        ),
        (
            {"instances": [{"student_id": "a", "answer": {"item_id": 1.5, "correct": 1}}]},
            "instances[0].answer.item_id",
        ),
        ({"instances": [{"student_id": "a", "history": {}}]}, "instances[0].history"),
        (
            {"instances": [{"student_id": "a", "history": [{"item_id": "p1", "correct": 2}]}]},
            "instances[0].history[0].correct",
        ),
        (
            {"instances": [{"student_id": "a", "history": [{"item_id": "p1"}]}]},
            "instances[0].history[0].correct",
        ),
        (
            {"instances": [{"student_id": "a", "history": [{"correct": 1}]}]},
            "instances[0].history[0].item_id",
        ),
        (
            {"instances": [{"student_id": "a", "history": [{"item_id": True, "correct": 1}]}]},
            "instances[0].history[0].item_id",
        ),
        (
            {"instances": [{"student_id": "a", "history": [{"item_id": "p1", "correct": 0.5}]}]},
            "instances[0].history[0].correct",
        ),
        (
            {"instances": [{"student_id": "a", "history": [{"item_id": "p1", "extra": 1}]}]},
            "instances[0].history[0].extra",
        ),
        (
            {"instances": [{"student_id": "a", "history": [{"item_id": 3.0, "correct": 1}]}]},
            "instances[0].history[0].item_id",
        ),
        (
            {
                "instances": [
                    {
                        "student_id": "a",
                        "history": [{"item_id": "p1", "correct": 0}, {"item_id": "", "correct": 1}],
                    }
                ]
            },
            "instances[0].history[1].item_id",
        ),
        (
            {"instances": [{"student_id": "a", "history": [[("item_id", "p1"), ("correct", 1)]]}]},
            "instances[0].history[0]",
        ),
        (
            {"instances": [{"student_id": "a", "history": [], "candidates": []}]},
            "instances[0].candidates",
        ),
        (
            {"instances": [{"student_id": "a", "history": [], "candidates": ["p1", None]}]},
            "instances[0].candidates[1]",
        ),
        (
            {"instances": [{"student_id": "a", "history": [], "candidates": ["p1", "p1"]}]},
            "instances[0].candidates",
        ),
        (
            {"instances": [{"student_id": "a", "history": [], "candidate": []}]},
            "instances[0].candidate",
        ),
        (
            {"instances": [{"student_id": "a", "history": [], "candidates": ["p8", "p9"]}]},
            "instances[0].candidates",
        ),
    ],
)
def test_contract_errors_name_the_field(body, field):
    with pytest.raises(ContractError) as info:
        parse_v1(body, BANK)
    assert str(info.value).startswith(f"{field}:")


def test_too_many_instances_is_rejected():
    instance = {"student_id": "a", "history": []}
    with pytest.raises(RequestTooLargeError, match="instances: more than"):
        parse_v1({"instances": [instance] * (MAX_INSTANCES + 1)})


def test_limits_are_configurable():
    limits = Limits(max_instances=2, max_history=3, max_candidates=2)
    answer = {"item_id": "p1", "correct": 1}
    ok = {"student_id": "a", "history": [answer] * 3, "candidates": ["p1", "p2"]}
    assert len(parse_v1({"instances": [ok, ok]}, BANK, limits)) == 2
    with pytest.raises(RequestTooLargeError, match=r"^instances: more than 2"):
        parse_v1({"instances": [ok] * 3}, BANK, limits)
    with pytest.raises(RequestTooLargeError, match=r"^instances\[0\]\.history: more than 3"):
        parse_v1({"instances": [{**ok, "history": [answer] * 4}]}, BANK, limits)
    with pytest.raises(RequestTooLargeError, match=r"^instances\[0\]\.candidates: more than 2"):
        parse_v1({"instances": [{**ok, "candidates": ["p1", "p2", "p3"]}]}, BANK, limits)
    with pytest.raises(RequestTooLargeError, match=r"^request: more than 2 elements"):
        parse_v2_elements([b"{}"] * 3, BANK, limits)


def test_contract_error_is_the_library_error_with_its_builtin_parent():
    assert ContractError is RequestContractError
    assert issubclass(ContractError, ValueError)
    assert issubclass(RequestTooLargeError, ContractError)


CANARY = "jane.canary@example.org"


@pytest.mark.parametrize(
    "instance",
    [
        {"student_id": CANARY, "answer": {"item_id": [CANARY], "correct": 1}},
        {"student_id": "a", "answer": {"item_id": "p1", "correct": CANARY}},
        {"student_id": 5, "history": [], CANARY: 1},
        {"student_id": "a", "history": [{"item_id": {"id": CANARY}, "correct": 1}]},
        {"student_id": "a", "history": [{"item_id": "p1", "correct": CANARY}]},
        {"student_id": "a", "history": [{"item_id": "p1", "correct": 1, CANARY: 0}]},
        {"student_id": "a", "history": CANARY},
        {"student_id": "a", "history": [CANARY]},
        {"student_id": "a", "history": [], "candidates": [CANARY]},
        {"student_id": "a", "history": [], "candidates": [CANARY, CANARY]},
        {"student_id": ["x", CANARY], "history": []},
        {"student_id": "a", "history": [], "request_id": {"v": CANARY}},
    ],
)
def test_messages_never_hold_a_request_value(instance):
    with pytest.raises(ContractError) as info:
        parse_v1({"instances": [instance]}, BANK)
    assert "canary" not in str(info.value).lower()
    assert info.value.__cause__ is None
    with pytest.raises(ContractError) as info:
        parse_v2_elements([json.dumps(instance)], BANK)
    assert "canary" not in str(info.value).lower()


def test_deep_nesting_in_a_v2_element_is_a_contract_error():
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ContractError, match=r"^request\[0\]: JSON nested too deeply"):
        parse_v2_elements([deep], BANK)
    nested = json.dumps({"student_id": "a", "history": [[[[{"item_id": "p1"}]]]]})
    with pytest.raises(ContractError, match=r"^request\[0\]\.history\[0\]: must be an object"):
        parse_v2_elements([nested], BANK)


def test_request_id_is_read():
    [instance] = parse_v1({"instances": [{"student_id": "a", "history": [], "request_id": "r7"}]})
    assert instance.request_id == "r7"


def test_unknown_items_pass_without_a_bank():
    instance = parse_instance({"student_id": "a", "history": [], "candidates": ["zz"]}, "x")
    assert instance.candidates == ("zz",)


def test_parse_v2_elements_decodes_bytes_and_names_the_element():
    good = json.dumps({"student_id": "a", "history": []}).encode()
    assert parse_v2_elements([good, good.decode()], BANK)[1].student_id == "a"
    with pytest.raises(ContractError, match=r"^request\[1\]: not valid JSON"):
        parse_v2_elements([good, b"{nope"], BANK)
    with pytest.raises(ContractError, match=r"^request\[0\]\.student_id:"):
        parse_v2_elements([b'{"history": []}'], BANK)
    with pytest.raises(ContractError, match=r"^request\[0\]: not UTF-8"):
        parse_v2_elements([b"\xff\xfe"], BANK)


def test_the_stateful_form_has_no_history():
    """Issue 13: only student_id, optionally the answer to the previous question and a request
    id; the state comes from the feature store (the model rejects it when it has none)."""
    (bare,) = parse_v1({"instances": [{"student_id": "a"}]}, BANK)
    assert bare.stateful and bare.answer is None and bare.history == ()
    (full,) = parse_v2_elements(
        [json.dumps({"student_id": "a", "answer": {"item_id": "p1", "correct": True},
                     "request_id": "r-1", "candidates": ["p2"]})],
        BANK,
    )  # fmt: skip
    assert full.stateful and full.answer == ("p1", 1) and full.request_id == "r-1"
    assert full.candidates == ("p2",)
    (plain,) = parse_v1({"instances": [{"student_id": "a", "history": []}]}, BANK)
    assert not plain.stateful and plain.answer is None


def test_stateless_instance_has_no_stateful_answer():
    [instance] = parse_v1(
        {"instances": [{"student_id": "a", "history": [{"item_id": "p1", "correct": 1}]}]}, BANK
    )
    assert instance.answer is None
    assert instance.stateful is False
