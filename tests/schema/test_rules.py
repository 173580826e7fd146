"""The business-rule language: parsing, errors, three-valued evaluation, repair, pandera."""

from __future__ import annotations

import pickle
import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from synthtab.schema.rules import (
    Arithmetic,
    Between,
    BoolOp,
    ColumnRef,
    Comparison,
    Constant,
    FunctionCall,
    Implies,
    InList,
    IsNull,
    Matches,
    Negate,
    Not,
    RuleError,
    RuleNode,
    RuleSyntaxError,
    RuleTypeError,
    UnknownColumnError,
    compile_rule,
    evaluate_rule,
    evaluate_truth,
    format_rule,
    parse_rule,
    quote_column,
    referenced_columns,
    repair_rule,
    to_pandera_check,
)

DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def col(name: str) -> ColumnRef:
    return ColumnRef(name)


def const(value: object) -> Constant:
    return Constant(value)  # type: ignore[arg-type]


@pytest.fixture()
def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": pd.array([10, 20, None, 15, 40], dtype="Int64"),
            "income": [0.0, 100.0, 5.0, 7.0, np.nan],
            "name": pd.Series(["ann", "Bob", None, "x1", "eve"], dtype="str"),
            "born": pd.to_datetime(["2014-03-02", "2004-12-31", None, "2009-06-15", "1984-01-01"]),
            "active": pd.array([True, False, None, True, False], dtype="boolean"),
        }
    )


# ---------------------------------------------------------------------------------------------
# parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("age >= 18", Comparison(">=", col("age"), const(18))),
        ("age = 18", Comparison("==", col("age"), const(18))),
        ("age <> 18", Comparison("!=", col("age"), const(18))),
        ("x != -2.5e3", Comparison("!=", col("x"), const(-2500.0))),
        ("`capital-gain` > 0", Comparison(">", col("capital-gain"), const(0))),
        ("`odd``name` is null", IsNull(col("odd`name"))),
        ("x IS NOT NULL", IsNull(col("x"), negated=True)),
        ("s in ['a', \"b\", null]", InList(col("s"), (const("a"), const("b"), const(None)))),
        ("n not in [1, -2]", InList(col("n"), (const(1), const(-2)), negated=True)),
        ("x between 1 and y + 1", Between(col("x"), const(1), Arithmetic("+", col("y"), const(1)))),
        ("x NOT BETWEEN 1 AND 2", Between(col("x"), const(1), const(2), negated=True)),
        ("s not matches 'a.*'", Matches(col("s"), "a.*", negated=True)),
        ("s matches '\\d{3}'", Matches(col("s"), r"\d{3}")),
        ("s == 'it\\'s'", Comparison("==", col("s"), const("it's"))),
        (
            "a + b * c == 7",
            Comparison(
                "==", Arithmetic("+", col("a"), Arithmetic("*", col("b"), col("c"))), const(7)
            ),
        ),
        (
            "(a - b) % 2 == 0",
            Comparison(
                "==", Arithmetic("%", Arithmetic("-", col("a"), col("b")), const(2)), const(0)
            ),
        ),
        (
            "a or b and not c",
            BoolOp("or", (col("a"), BoolOp("and", (col("b"), Not(col("c")))))),
        ),
        ("not not a", Not(Not(col("a")))),
        ("-x < 3", Comparison("<", Negate(col("x")), const(3))),
        ("abs(x) < 3", Comparison("<", FunctionCall("abs", (col("x"),)), const(3))),
        ("d >= date('2020-01-31')", Comparison(">=", col("d"), const(pd.Timestamp("2020-01-31")))),
        ("flag == TRUE", Comparison("==", col("flag"), const(True))),
        (
            "If age < 18 Then income == 0",
            Implies(
                Comparison("<", col("age"), const(18)), Comparison("==", col("income"), const(0))
            ),
        ),
    ],
)
def test_parse_builds_the_expected_tree(text: str, expected: object) -> None:
    assert parse_rule(text).body == expected


def test_literals_and_positions() -> None:
    rule = parse_rule("  year(born) > 1999")
    assert isinstance(rule.body, Comparison)
    assert rule.body.position == 13
    assert isinstance(rule.body.left, FunctionCall) and rule.body.left.position == 2
    matches = parse_rule("s matches '[a-z]+'").body
    assert isinstance(matches, Matches) and isinstance(matches.regex, re.Pattern)
    assert matches.regex.fullmatch("abc") and not matches.regex.fullmatch("ab1")


@pytest.mark.parametrize(
    "text",
    [
        "if age < 18 then `capital-gain` == 0",
        "a + b * c - -4 >= (d - e) / 2 and not f or g",
        "s not in ['a', 'b\\'c', null] and x between -1 and 2.5e-07",
        "lower(name) matches '[a-z]+\\\\d' or len(name) % 2 == 1",
        "born >= date('2020-01-01') and born < date('2020-01-01T12:30:00')",
        "not (a and b) and not (x < 1)",
        "`weird name` is not null and `if` == true",
        "-(a + b) > 0",
    ],
)
def test_format_round_trips(text: str) -> None:
    rule = parse_rule(text)
    assert parse_rule(format_rule(rule)) == rule


def test_referenced_columns_and_quoting() -> None:
    rule = parse_rule("if year(born) < 2000 then `capital-gain` + income > 0 or name is null")
    assert referenced_columns(rule) == {"born", "capital-gain", "income", "name"}
    assert quote_column("age") == "age"
    assert quote_column("capital-gain") == "`capital-gain`"
    assert quote_column("and") == "`and`"
    assert quote_column("a`b") == "`a``b`"


# ---------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("", 0, "empty rule"),
        ("age >", 5, "unexpected end"),
        ("age > 18 18", 9, "unexpected '18'"),
        ("if age < 18 income == 0", 12, "expected 'then'"),
        ("age ! 3", 4, "unexpected character '!'"),
        ("name == 'abc", 8, "unterminated string"),
        ("`capital-gain > 0", 0, "unterminated"),
        ("x in [1, 2", 10, "expected ']'"),
        ("x in 1", 5, "expected '['"),
        ("x in [y]", 6, "expected a literal"),
        ("foo(x) > 1", 0, "unknown function 'foo'"),
        ("abs(x, y) > 1", 0, "takes 1 argument"),
        ("x not 3", 6, "expected 'in', 'matches' or 'between'"),
        ("x is 3", 5, "expected 'null'"),
        ("x between 1 or 2", 12, "expected 'and'"),
        ("x matches 3", 10, "expected a quoted pattern"),
        ("s matches 'ab[c'", 13, "invalid regular expression"),
        ("d > date('2020-02-31')", 9, "invalid date"),
        ("12abc > 1", 0, "invalid number"),
        ("(a > 1", 6, "expected ')'"),
        ("a > 1 then", 6, "unexpected 'then'"),
    ],
)
def test_syntax_errors_carry_positions(text: str, position: int, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(text)
    err = caught.value
    assert err.position == position
    assert message in err.message
    assert err.expression == text
    # the caret sits under the reported position
    lines = str(err).splitlines()
    assert lines[-1].index("^") - 2 == position


def test_unknown_column_names_column_position_and_suggestion() -> None:
    columns = ["age", "capital-gain", "income"]
    with pytest.raises(UnknownColumnError) as caught:
        compile_rule("if agee < 18 then income == 0", columns, name="minors")
    err = caught.value
    assert (err.column, err.position, err.suggestion, err.rule_name) == ("agee", 3, "age", "minors")
    assert "did you mean age?" in str(err) and "rule 'minors'" in str(err)

    with pytest.raises(UnknownColumnError) as caught:
        compile_rule("age > 1 and capital-gain > 0", columns)
    assert caught.value.column == "capital" and caught.value.position == 12
    assert caught.value.suggestion == "capital-gain"
    assert "backquotes" in str(caught.value)

    with pytest.raises(UnknownColumnError) as caught:
        compile_rule("AGE > 1", columns)
    assert caught.value.suggestion == "age"


def test_type_errors_at_compile_time_with_dtypes() -> None:
    dtypes = {"name": "string", "age": "integer", "born": "datetime", "flag": "boolean"}
    columns = list(dtypes)
    with pytest.raises(RuleTypeError) as caught:
        compile_rule("name > 3", columns, name="r", dtypes=dtypes)
    assert caught.value.position == 5 and caught.value.rule_name == "r"
    with pytest.raises(RuleTypeError):
        compile_rule("age in ['a', 'b']", columns, dtypes=dtypes)
    with pytest.raises(RuleTypeError):
        compile_rule("age + 1", columns, dtypes=dtypes)  # not a condition
    with pytest.raises(RuleTypeError):
        compile_rule("age matches '1'", columns, dtypes=dtypes)
    with pytest.raises(RuleTypeError):
        compile_rule("name and flag", columns, dtypes=dtypes)
    with pytest.raises(RuleTypeError, match="is null"):
        compile_rule("age == null", columns, dtypes=dtypes)
    # dates compare with ISO text, booleans with numbers, pandas dtypes are accepted too
    compile_rule("born >= '2020-01-01' and flag == 1 and year(born) > 2000", columns, dtypes=dtypes)
    compile_rule("age > 3", ["age"], dtypes={"age": np.dtype("int64")})
    # without dtypes the same rule compiles; evaluation catches it
    rule = compile_rule("name > 3", columns)
    with pytest.raises(RuleTypeError):
        evaluate_rule(rule, pd.DataFrame({"name": ["a"]}))


def test_errors_pickle_and_are_value_errors() -> None:
    with pytest.raises(ValueError) as caught:
        compile_rule("agee > 1", ["age"], name="r")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(copy, UnknownColumnError)
    assert (copy.column, copy.position, copy.rule_name) == ("agee", 0, "r")


def test_pathological_nesting_is_a_syntax_error() -> None:
    with pytest.raises(RuleSyntaxError, match="nested too deeply"):
        parse_rule("(" * 500 + "a" + ")" * 500 + " > 1")
    with pytest.raises(RuleSyntaxError):
        parse_rule("not " * 500 + "a")
    with pytest.raises(RuleSyntaxError):
        parse_rule(" + ".join(["a"] * 400) + " > 1")


FUZZ_PIECES = [
    "age", "name", "`capital-gain`", "income", "(", ")", "[", "]", ",", "+", "-", "*", "/", "%",
    "==", "=", "!=", "<>", "<", "<=", ">", ">=", "and", "or", "not", "in", "is", "null", "if",
    "then", "matches", "between", "true", "false", "1", "2.5", "'a'", "'[a-z'", "'\\d+'", "abs(",
    "len(", "year(", "date('2020-01-01')", "date(", "lower(", "!", "`", "'", "\"", "1e999", "é",
]  # fmt: skip


def random_rule(rng: random.Random, depth: int = 0) -> str:
    """A rule from a small grammar: mostly well formed, with the odd type mismatch."""
    values = ["age", "name", "`capital-gain`", "income", "1", "-2.5", "'a'", "null", "true"]

    def value(d: int) -> str:
        choice = rng.random()
        if d < 2 and choice < 0.3:
            return f"{value(d + 1)} {rng.choice('+-*/%')} {value(d + 1)}"
        if d < 2 and choice < 0.4:
            return f"{rng.choice(['abs', 'len', 'lower', 'year'])}({value(d + 1)})"
        return rng.choice(values)

    def condition(d: int) -> str:
        choice = rng.random()
        if d < 2 and choice < 0.25:
            return f"({condition(d + 1)}) {rng.choice(['and', 'or'])} {condition(d + 1)}"
        if d < 2 and choice < 0.3:
            return f"not {condition(d + 1)}"
        if choice < 0.45:
            return f"{value(d)} is {rng.choice(['', 'not '])}null"
        if choice < 0.55:
            return f"{value(d)} in [{rng.choice(values[4:])}, {rng.choice(values[4:])}]"
        if choice < 0.6:
            return f"{value(d)} matches '[a-z]+\\d?'"
        if choice < 0.7:
            return f"{value(d)} between {value(d)} and {value(d)}"
        return f"{value(d)} {rng.choice(['==', '!=', '<', '<=', '>', '>='])} {value(d)}"

    text = condition(depth)
    return f"if {condition(depth)} then {text}" if rng.random() < 0.3 else text


def mutate(rng: random.Random, text: str) -> str:
    position = rng.randrange(len(text) + 1)
    if rng.random() < 0.5 and text:
        return text[:position] + text[position + 1 :]
    return text[:position] + rng.choice("()[]'`\"!<=-, x") + text[position:]


def test_parser_raises_only_rule_errors_on_random_input() -> None:
    rng = random.Random(7)
    frame = pd.DataFrame(
        {
            "age": [1, None, 30, 0],
            "name": ["a", None, "b1", ""],
            "capital-gain": [0, 5, None, 0],
            "income": [1.5, 0.0, None, -2.5],
        }
    )
    parsed = evaluated = 0
    for trial in range(3000):
        kind = trial % 4
        if kind == 0:
            text = "".join(rng.choice("ab()[]<>=!'\"`-+*/%., 0123456789\\") for _ in range(12))
        elif kind == 1:
            text = " ".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(1, 9)))
        elif kind == 2:
            text = random_rule(rng)
        else:
            text = mutate(rng, random_rule(rng))
        try:
            rule = parse_rule(text)
        except RuleError:
            continue
        parsed += 1
        assert parse_rule(format_rule(rule)) == rule
        try:
            result = evaluate_rule(compile_rule(text, frame.columns), frame)
        except RuleError:
            continue
        evaluated += 1
        assert result.dtype == bool and len(result) == len(frame)
        truth = evaluate_truth(rule, frame)
        assert (result == truth.fillna(True).astype(bool)).all()
    # the generators do produce valid rules, so every path is exercised
    assert parsed > 800 and evaluated > 200


# ---------------------------------------------------------------------------------------------
# evaluation


def kleene(values: list[bool | None]) -> pd.Series:
    return pd.Series(pd.array(values, dtype="boolean"))


def test_kleene_logic_tables() -> None:
    truth = [True, False, None]
    pairs = [(a, b) for a in truth for b in truth]
    frame = pd.DataFrame({"a": kleene([a for a, _ in pairs]), "b": kleene([b for _, b in pairs])})

    def expect(fn: object) -> list[object]:
        return [fn(a, b) for a, b in pairs]  # type: ignore[operator]

    def k_and(a: bool | None, b: bool | None) -> bool | None:
        if a is False or b is False:
            return False
        return None if a is None or b is None else True

    def k_or(a: bool | None, b: bool | None) -> bool | None:
        if a is True or b is True:
            return True
        return None if a is None or b is None else False

    def k_not(a: bool | None) -> bool | None:
        return None if a is None else not a

    cases = {
        "a and b": expect(k_and),
        "a or b": expect(k_or),
        "not a": expect(lambda a, b: k_not(a)),
        "if a then b": expect(lambda a, b: k_or(k_not(a), b)),
    }
    for text, expected in cases.items():
        got = evaluate_truth(parse_rule(text), frame)
        assert [None if v is pd.NA else bool(v) for v in got] == expected, text
        # unknown passes: only definite falsehood violates
        assert evaluate_rule(parse_rule(text), frame).tolist() == [v is not False for v in expected]


def test_nulls_make_comparisons_unknown_but_is_null_is_never_unknown(
    people: pd.DataFrame,
) -> None:
    truth = evaluate_truth(parse_rule("age > 12"), people)
    assert truth.tolist()[:2] == [False, True] and truth.isna().tolist()[2]
    assert evaluate_rule(parse_rule("age > 12"), people).tolist() == [
        False, True, True, True, True,
    ]  # fmt: skip
    for text in ("age is null", "age is not null"):
        assert evaluate_truth(parse_rule(text), people).notna().all()
    assert evaluate_rule(parse_rule("age is null"), people).tolist() == [
        False, False, True, False, False,
    ]  # fmt: skip
    # x == x is unknown for a null x, not true
    assert evaluate_truth(parse_rule("age == age"), people).isna().tolist()[2]


def test_implication_on_nulls(people: pd.DataFrame) -> None:
    rule = parse_rule("if age < 18 then income == 0")
    # ann: 10 and 0 -> ok; bob: 20 -> ok; null age -> unknown -> ok; x1: 15 and 7 -> violates;
    # eve: 40 -> condition false -> ok
    assert evaluate_rule(rule, people).tolist() == [True, True, True, False, True]
    assert evaluate_rule(rule, people).index.equals(people.index)


def test_arithmetic_and_division_by_zero(people: pd.DataFrame) -> None:
    frame = pd.DataFrame({"a": [6, 7, 1, None], "b": [3, 0, 2, 1]})
    truth = evaluate_truth(parse_rule("a / b == 2"), frame)
    assert truth.tolist()[0] is True and truth.isna().tolist() == [False, True, False, True]
    assert evaluate_truth(parse_rule("a % b == 0"), frame).isna().tolist()[1]
    assert evaluate_rule(parse_rule("(a + b) * 2 - 1 == 17"), frame).tolist()[0]
    assert evaluate_rule(parse_rule("a / b < 1"), frame).tolist() == [False, True, True, True]
    assert evaluate_rule(parse_rule("-a < -5"), frame).tolist() == [True, True, False, True]
    assert evaluate_rule(parse_rule("abs(1 - a) == 5"), frame).tolist() == [
        True,
        False,
        False,
        True,
    ]


def test_in_between_and_matches(people: pd.DataFrame) -> None:
    assert evaluate_rule(parse_rule("age in [10, 40]"), people).tolist() == [
        True, False, True, False, True,
    ]  # fmt: skip
    assert evaluate_rule(parse_rule("age not in [10, 40]"), people).tolist() == [
        False, True, True, True, False,
    ]  # fmt: skip
    # a null in the list makes a miss unknown (so it passes), a hit stays true
    truth = evaluate_truth(parse_rule("age in [10, null]"), people)
    assert truth.tolist()[0] is True and truth.isna().tolist() == [False, True, True, True, True]
    assert evaluate_rule(parse_rule("age between 12 and 20"), people).tolist() == [
        False, True, True, True, False,
    ]  # fmt: skip
    assert evaluate_rule(parse_rule("age not between 12 and 20"), people).tolist() == [
        True, False, True, False, True,
    ]  # fmt: skip
    # full match, not search
    assert evaluate_rule(parse_rule("name matches '[a-z]+'"), people).tolist() == [
        True, False, True, False, True,
    ]  # fmt: skip
    assert evaluate_rule(parse_rule("name not matches '[a-z]+\\d'"), people).tolist() == [
        True, True, True, False, True,
    ]  # fmt: skip
    assert evaluate_rule(parse_rule("name in ['ann', 'eve']"), people).sum() == 3


def test_functions_and_dates(people: pd.DataFrame) -> None:
    def rows(text: str) -> list[bool]:
        return evaluate_rule(parse_rule(text), people).tolist()

    assert rows("len(name) == 3") == [True, True, True, False, True]
    assert rows("lower(name) == 'bob'") == [False, True, True, False, False]
    assert rows("upper(name) in ['ANN', 'X1']") == [True, False, True, True, False]
    assert rows("year(born) >= 2005") == [True, False, True, True, False]
    assert rows("month(born) == 12 or day(born) == 2") == [True, True, True, False, False]
    assert rows("born < date('2005-01-01')") == [False, True, True, False, True]
    assert rows("born < '2005-01-01'") == rows("born < date('2005-01-01')")
    assert rows("born - date('2004-12-30') == 1") == [False, True, True, False, False]
    assert rows("active") == [True, False, True, True, False]
    assert rows("not active or age < 18") == [True, True, True, True, True]
    # a text column of dates can be read with date()
    text_dates = pd.DataFrame({"d": pd.Series(["2020-05-01", "garbage", None], dtype="str")})
    truth = evaluate_truth(parse_rule("year(date(d)) == 2020"), text_dates)
    assert truth.tolist()[0] is True and truth.isna().tolist() == [False, True, True]
    listed = evaluate_truth(parse_rule("d in [date('2020-05-01'), '2021-01-01']"), text_dates)
    assert listed.tolist()[0] is True and listed.isna().tolist() == [False, True, True]
    with pytest.raises(RuleTypeError):
        evaluate_rule(parse_rule("born > 'not a date'"), people)


def test_object_and_categorical_columns() -> None:
    frame = pd.DataFrame(
        {
            "n": pd.Series([1, 2.5, None], dtype=object),
            "c": pd.Categorical(["x", "y", None]),
            "empty": pd.Series([None, None, None], dtype=object),
        }
    )
    assert evaluate_rule(parse_rule("n > 2"), frame).tolist() == [False, True, True]
    assert evaluate_rule(parse_rule("c in ['x']"), frame).tolist() == [True, False, True]
    assert evaluate_rule(parse_rule("empty > 3 and len(empty) == 2"), frame).all()
    assert evaluate_rule(parse_rule("empty is not null"), frame).sum() == 0


def test_evaluate_names_unknown_columns_of_the_frame(people: pd.DataFrame) -> None:
    with pytest.raises(UnknownColumnError) as caught:
        evaluate_rule(parse_rule("agee > 1"), people)
    assert caught.value.suggestion == "age"


def test_evaluation_is_vectorised_on_100k_rows() -> None:
    rng = np.random.default_rng(0)
    n = 100_000
    frame = pd.DataFrame(
        {
            "a": rng.integers(0, 100, n),
            "b": rng.normal(size=n),
            "s": pd.Series(rng.choice(["ab", "cd", "e1"], n), dtype="str"),
        }
    )
    rule = parse_rule("if a < 18 then (b * 2 > -10 and s matches '[a-z]+') or s in ['e1']")
    result = evaluate_rule(rule, frame)
    expected = ~(frame["a"] < 18) | ((frame["b"] * 2 > -10) & frame["s"].str.fullmatch("[a-z]+"))
    expected |= frame["s"] == "e1"
    assert (result == expected).all()


# ---------------------------------------------------------------------------------------------
# repair


def repair(text: str, frame: pd.DataFrame) -> pd.DataFrame | None:
    rule = parse_rule(text)
    return repair_rule(rule, frame, ~evaluate_rule(rule, frame))


def test_repair_clips_to_constant_bounds_respecting_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "i": np.array([10, 20, 30], dtype=np.int64),
            "n": pd.array([1, None, 30], dtype="Int64"),
            "f": [1.0, 2.0, 3.0],
        }
    )
    before = frame.copy()
    out = repair("i > 15", frame)
    assert out is not None and out["i"].tolist() == [16, 20, 30] and out["i"].dtype == np.int64
    assert repair("i < 15.5", frame)["i"].tolist() == [10, 15, 15]  # type: ignore[index]
    assert repair("15 >= i", frame)["i"].tolist() == [10, 15, 15]  # type: ignore[index]
    assert repair("not (i > 15)", frame)["i"].tolist() == [10, 15, 15]  # type: ignore[index]
    strict = repair("f < 2", frame)
    assert strict is not None and strict["f"].tolist()[0] == 1.0
    assert strict["f"].tolist()[1] == np.nextafter(2.0, -np.inf) < 2.0
    out = repair("n <= 2", frame)
    assert out is not None and out["n"].dtype == "Int64"
    assert out["n"].tolist()[0] == 1 and out["n"].isna().tolist()[1] and out["n"].tolist()[2] == 2
    out = repair("i == 7", frame)
    assert out is not None and out["i"].tolist() == [7, 7, 7]
    out = repair("i between 12 and 25", frame)
    assert out is not None and out["i"].tolist() == [12, 20, 25]
    out = repair("i >= 12 and i <= 25", frame)
    assert out is not None and out["i"].tolist() == [12, 20, 25]
    pd.testing.assert_frame_equal(frame, before)  # the input is never mutated


def test_repair_dates_and_text() -> None:
    frame = pd.DataFrame(
        {
            "d": pd.to_datetime(["2019-05-01", "2021-01-01"]),
            "s": pd.Series(["a", "b"], dtype="str"),
        }
    )
    out = repair("d >= date('2020-01-01')", frame)
    assert out is not None and out["d"].tolist() == [pd.Timestamp("2020-01-01"), frame["d"][1]]
    out = repair("d > date('2020-01-01')", frame)
    assert out is not None and out["d"][0] > pd.Timestamp("2020-01-01")
    assert evaluate_rule(parse_rule("d > date('2020-01-01')"), out).all()
    out = repair("s == 'b'", frame)
    assert out is not None and out["s"].tolist() == ["b", "b"]
    out = repair("s in ['z']", frame)
    assert out is not None and out["s"].tolist() == ["z", "z"]
    assert repair("s < 'b'", frame) is None  # no nearest string


def test_repair_swaps_inverted_column_pairs() -> None:
    frame = pd.DataFrame({"lo": [1, 5, 3, None], "hi": [2, 4, 3, 1]})
    out = repair("lo <= hi", frame)
    assert out is not None
    assert out["lo"].tolist()[:3] == [1, 4, 3] and out["hi"].tolist() == [2, 5, 3, 1]
    out = repair("hi > lo", frame)
    assert out is not None
    # equal values cannot be fixed by swapping: that row still violates the strict rule
    assert (~evaluate_rule(parse_rule("hi > lo"), out)).tolist() == [False, False, True, False]
    # booleans compare with numbers, but swapping them would change a column's meaning
    assert repair("flag <= n", pd.DataFrame({"flag": [True], "n": [0]})) is None


def test_repair_conjunctions_and_non_unique_rules() -> None:
    frame = pd.DataFrame({"a": [1, 50], "b": [9.0, 0.5], "c": [1, 2]})
    out = repair("a >= 10 and b <= 1", frame)
    assert out is not None and out["a"].tolist() == [10, 50] and out["b"].tolist() == [1.0, 0.5]
    for text in (
        "a > 10 or b < 1",  # which side?
        "if a < 10 then b == 0",  # change a or b?
        "a != 1",  # any other value
        "a == 1.5",  # no integer fits
        "a >= 10 and a <= 5",  # unsatisfiable
        "a <= c and c >= 3",  # two fixes compete for c
        "a + c > 3",
        "a between 1 and c",
        "a == c",
    ):
        assert repair(text, frame) is None, text


def test_repair_touches_only_the_rows_it_is_given() -> None:
    frame = pd.DataFrame({"x": [100, 200, 5]})
    rule = parse_rule("x <= 10")
    only_first = pd.Series([True, False, True], index=frame.index)
    out = repair_rule(rule, frame, only_first)
    assert out is not None and out["x"].tolist() == [10, 200, 5]
    nothing = repair_rule(rule, frame, pd.Series(False, index=frame.index))
    assert nothing is not None and nothing.equals(frame)


# ---------------------------------------------------------------------------------------------
# pandera


def pandera_failures(check: pa.Check, values: list[object], dtype: str | None = None) -> list[int]:
    frame = pd.DataFrame({"v": pd.Series(values, dtype=dtype)})
    schema = pa.DataFrameSchema({"v": pa.Column(checks=[check], nullable=True, coerce=False)})
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        return sorted(int(i) for i in err.failure_cases["index"].dropna().unique())
    return []


def test_pandera_checks_accept_and_reject_the_right_rows() -> None:
    cases: list[tuple[str, list[object], str | None, list[int]]] = [
        ("v >= 18", [10, 18, 30, None], "Float64", [0]),
        ("18 > v", [10, 18, 30], None, [1, 2]),
        ("v != 3", [3, 4], None, [0]),
        ("not (v < 5)", [3, 5], None, [0]),
        ("v in ['a', 'b']", ["a", "c", None], "str", [1]),
        ("v not in [1, 2]", [1, 3], None, [0]),
        ("v between 1 and 5", [0, 1, 5, 6], None, [0, 3]),
        ("v matches '[a-z]+\\d'", ["ab1", "ab1x", "1", None], "str", [1, 2]),
        ("v is not null", [1.0, None], None, [1]),
        ("v is null", [1.0, None], None, [0]),
    ]
    for text, values, dtype, failing in cases:
        check = to_pandera_check(parse_rule(text), name="r")
        assert check is not None, text
        assert pandera_failures(check, values, dtype) == failing, text
        # and the rule itself agrees with pandera
        frame = pd.DataFrame({"v": pd.Series(values, dtype=dtype)})
        assert np.flatnonzero(~evaluate_rule(parse_rule(text), frame)).tolist() == failing, text


def test_pandera_check_is_none_where_pandera_cannot_say_it() -> None:
    for text in (
        "a <= b",
        "a + 1 > 2",
        "if a > 1 then b > 1",
        "a > 1 and a < 5",
        "s not matches 'x'",
    ):
        assert to_pandera_check(parse_rule(text), name="r") is None, text
    check = to_pandera_check(compile_rule("age > 1", ["age"], name="adult"))
    assert check is not None and check.name == "adult"


# ---------------------------------------------------------------------------------------------
# real data


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    path = DATASETS / "adult.parquet"
    if not path.exists():
        pytest.skip("shared datasets are not available")
    return pd.read_parquet(path).sample(3000, random_state=1).reset_index(drop=True)


def test_rules_on_adult(adult: pd.DataFrame) -> None:
    rule = compile_rule(
        "if age < 18 then `capital-gain` == 0", adult.columns, "minors", dict(adult.dtypes)
    )
    assert isinstance(rule, RuleNode) and rule.name == "minors"
    ok = evaluate_rule(rule, adult)
    expected = (adult["age"] >= 18) | (adult["capital-gain"] == 0)
    assert (ok == expected).all()
    # workclass has nulls: the rule is unknown there and passes
    check = compile_rule("workclass in ['Private', 'Self-emp-not-inc']", adult.columns)
    verdict = evaluate_rule(check, adult)
    assert verdict[adult["workclass"].isna()].all()
    assert (~verdict).sum() == (adult["workclass"].notna() & ~adult["workclass"].isin(
        ["Private", "Self-emp-not-inc"]
    )).sum()  # fmt: skip
    with pytest.raises(RuleTypeError):
        compile_rule("education > 3", adult.columns, dtypes=dict(adult.dtypes))
    # a violating row is repaired by clipping the bound rule, and only that row changes
    broken = adult.copy()
    broken.loc[0, "educational-num"] = 40
    bound = parse_rule("`educational-num` <= 16")
    out = repair_rule(bound, broken, ~evaluate_rule(bound, broken))
    assert out is not None and out.loc[0, "educational-num"] == 16
    pd.testing.assert_frame_equal(out.iloc[1:], broken.iloc[1:])
