"""SynthTab's business-rule language: parse, type-check, evaluate over a DataFrame, repair.

A rule is one line of text such as ``if age < 18 then `capital-gain` == 0``. It is parsed by a
hand-written tokenizer and recursive-descent parser into an immutable AST (never ``eval``), and
evaluated column-at-a-time with numpy/pandas.

Null semantics follow SQL ``CHECK`` constraints: a row violates a rule only when the rule is
FALSE; a null operand makes a comparison UNKNOWN, which passes. ``and``/``or``/``not`` use Kleene
three-valued logic, ``x is null`` is never unknown, and ``if A then B`` means ``not A or B``.

Grammar (keywords are case-insensitive)::

    rule      := 'if' expr 'then' expr | expr
    expr      := and ('or' and)*
    and       := not ('and' not)*
    not       := 'not' not | predicate
    predicate := arith [ compop arith | ['not'] 'in' '[' literal (',' literal)* ']'
                       | 'is' ['not'] 'null' | ['not'] 'matches' STRING
                       | ['not'] 'between' arith 'and' arith ]
    compop    := == | != | < | <= | > | >= | = | <>
    arith     := term (('+'|'-') term)*
    term      := unary (('*'|'/'|'%') unary)*
    unary     := '-' unary | primary
    primary   := NUMBER | STRING | true | false | null | IDENT | `quoted name`
               | func '(' args ')' | '(' expr ')'

Functions: abs, len, lower, upper, year, month, day, and date('2020-01-31') for date literals
(or date(text_column) to read text as dates). ``date - date`` is a number of days.

Strings use '...' or "..."; a backslash escapes only the quote character and itself, so a
regular expression needs no doubled backslashes: ``zip matches '\\d{5}'``. ``matches`` is a full
match. Comparing with ``null`` (``x == null``) is rejected: it is never true; use ``is null``.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from synthtab.schema.model import StorageType

if TYPE_CHECKING:
    import pandera.pandas as pa

__all__ = [
    "Arithmetic",
    "Between",
    "BoolOp",
    "ColumnRef",
    "Comparison",
    "Constant",
    "Expr",
    "FunctionCall",
    "Implies",
    "InList",
    "IsNull",
    "Matches",
    "Negate",
    "Not",
    "RuleError",
    "RuleNode",
    "RuleSyntaxError",
    "RuleTypeError",
    "UnknownColumnError",
    "compile_rule",
    "evaluate_rule",
    "evaluate_truth",
    "format_rule",
    "parse_rule",
    "quote_column",
    "referenced_columns",
    "repair_rule",
    "to_pandera_check",
]

# ---------------------------------------------------------------------------------------------
# errors


class RuleError(ValueError):
    """A rule that cannot be used; ``str()`` shows the expression with a caret at ``position``."""

    def __init__(
        self, message: str, expression: str, position: int, rule_name: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.position = max(0, min(position, len(expression)))
        self.rule_name = rule_name

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.expression, self.position, self.rule_name))

    def __str__(self) -> str:
        where = f"rule {self.rule_name!r}: " if self.rule_name else ""
        line_start = self.expression.rfind("\n", 0, self.position) + 1
        line_end = self.expression.find("\n", self.position)
        line = self.expression[line_start : len(self.expression) if line_end < 0 else line_end]
        # tabs would shift the caret; one space per character keeps it under the right spot
        line = line.replace("\t", " ")
        caret = " " * (self.position - line_start) + "^"
        return f"{where}{self.message} (at position {self.position})\n  {line}\n  {caret}"


class RuleSyntaxError(RuleError):
    """The text is not a rule of the grammar (or holds an invalid regex or date)."""


class RuleTypeError(RuleError):
    """The rule is well formed but compares or combines values of incompatible kinds."""


class UnknownColumnError(RuleError):
    """The rule names a column the table does not have."""

    def __init__(
        self,
        message: str,
        expression: str,
        position: int,
        rule_name: str | None = None,
        column: str = "",
        suggestion: str | None = None,
    ) -> None:
        super().__init__(message, expression, position, rule_name)
        self.column = column
        self.suggestion = suggestion

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.message, self.expression, self.position, self.rule_name)
        return (type(self), (*args, self.column, self.suggestion))


# ---------------------------------------------------------------------------------------------
# AST

ConstantValue: TypeAlias = bool | int | float | str | pd.Timestamp | None


@dataclass(frozen=True, slots=True)
class Constant:
    value: ConstantValue
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ColumnRef:
    name: str
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Expr
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Arithmetic:
    op: Literal["+", "-", "*", "/", "%"]
    left: Expr
    right: Expr
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class FunctionCall:
    name: str
    args: tuple[Expr, ...]
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Comparison:
    op: Literal["==", "!=", "<", "<=", ">", ">="]
    left: Expr
    right: Expr
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class InList:
    operand: Expr
    values: tuple[Constant, ...]
    negated: bool = False
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class IsNull:
    operand: Expr
    negated: bool = False
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Matches:
    operand: Expr
    pattern: str
    negated: bool = False
    position: int = field(default=0, compare=False)
    # compiled once at parse time; equality and repr go by the pattern text
    regex: re.Pattern[str] = field(default=re.compile(""), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Between:
    operand: Expr
    low: Expr
    high: Expr
    negated: bool = False
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: Literal["and", "or"]
    operands: tuple[Expr, ...]
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Implies:
    condition: Expr
    consequence: Expr
    position: int = field(default=0, compare=False)


Expr: TypeAlias = (
    Constant
    | ColumnRef
    | Negate
    | Arithmetic
    | FunctionCall
    | Comparison
    | InList
    | IsNull
    | Matches
    | Between
    | Not
    | BoolOp
    | Implies
)


@dataclass(frozen=True, slots=True)
class RuleNode:
    """A parsed rule: its AST plus the text (and name) errors point into."""

    body: Expr
    expression: str = field(default="", compare=False)
    name: str | None = field(default=None, compare=False)


def _children(expr: Expr) -> tuple[Expr, ...]:
    match expr:
        case Constant() | ColumnRef():
            return ()
        case Negate(operand=o) | Not(operand=o) | IsNull(operand=o) | Matches(operand=o):
            return (o,)
        case Arithmetic(left=a, right=b) | Comparison(left=a, right=b):
            return (a, b)
        case FunctionCall(args=args):
            return args
        case InList(operand=o, values=values):
            return (o, *values)
        case Between(operand=o, low=lo, high=hi):
            return (o, lo, hi)
        case BoolOp(operands=operands):
            return operands
        case Implies(condition=c, consequence=q):
            return (c, q)
    raise TypeError(f"not a rule expression: {expr!r}")


def _walk(expr: Expr) -> Iterator[Expr]:
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(_children(node)))


def _body(node: RuleNode | Expr) -> Expr:
    return node.body if isinstance(node, RuleNode) else node


def referenced_columns(node: RuleNode | Expr) -> set[str]:
    """Names of every column the rule reads."""
    return {n.name for n in _walk(_body(node)) if isinstance(n, ColumnRef)}


# ---------------------------------------------------------------------------------------------
# tokenizer

_KEYWORDS = frozenset(
    {"if", "then", "and", "or", "not", "in", "is", "null", "matches", "between", "true", "false"}
)
_OPERATORS = ("==", "!=", "<>", "<=", ">=", "<", ">", "=", "+", "-", "*", "/", "%")
_PUNCTUATION = ("(", ")", "[", "]", ",")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INT64_MAX = np.iinfo(np.int64).max
# the parser recurses per nesting level; these keep Python's stack safe on hostile input
_MAX_NESTING = 60
_MAX_TREE_DEPTH = 200
_WORD_CONSTANTS: dict[str, bool | None] = {"true": True, "false": False, "null": None}

TokenKind: TypeAlias = Literal["number", "string", "ident", "quoted", "op", "end"]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: TokenKind
    text: str
    value: Any
    position: int

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.lower() in words

    def is_op(self, *ops: str) -> bool:
        return self.kind == "op" and self.text in ops

    def describe(self) -> str:
        return "end of rule" if self.kind == "end" else repr(self.text)


def _is_identifier_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_"


def _is_identifier_part(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif (ch.isdigit() or ch == ".") and _NUMBER.match(text, i):
            tokens.append(_number_token(text, i))
            i += len(tokens[-1].text)
        elif ch in "'\"":
            token = _string_token(text, i)
            tokens.append(token)
            i += len(token.text)
        elif ch == "`":
            token = _quoted_identifier_token(text, i)
            tokens.append(token)
            i += len(token.text)
        elif _is_identifier_start(ch):
            j = i + 1
            while j < n and _is_identifier_part(text[j]):
                j += 1
            tokens.append(_Token("ident", text[i:j], text[i:j], i))
            i = j
        else:
            op = next((o for o in (*_OPERATORS, *_PUNCTUATION) if text.startswith(o, i)), None)
            if op is None:
                hint = " (use 'not' or '!=')" if ch == "!" else ""
                raise RuleSyntaxError(f"unexpected character {ch!r}{hint}", text, i)
            tokens.append(_Token("op", op, op, i))
            i += len(op)
    tokens.append(_Token("end", "", None, n))
    return tokens


def _number_token(text: str, start: int) -> _Token:
    match = _NUMBER.match(text, start)
    assert match is not None  # the caller saw a digit or '.digit'
    raw = match.group()
    end = match.end()
    if end < len(text) and _is_identifier_part(text[end]):
        raise RuleSyntaxError(f"invalid number {text[start : end + 1]!r}", text, start)
    value: int | float
    try:
        if any(c in raw for c in ".eE"):
            value = float(raw)
        else:
            value = int(raw)
            if value > _INT64_MAX:
                value = float(value)
    except (ValueError, OverflowError) as exc:
        raise RuleSyntaxError(f"number {raw!r} is out of range", text, start) from exc
    if not math.isfinite(value):
        raise RuleSyntaxError(f"number {raw!r} is out of range", text, start)
    return _Token("number", raw, value, start)


def _string_token(text: str, start: int) -> _Token:
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            chars.append(text[i + 1])
            i += 2
        elif ch == quote:
            return _Token("string", text[start : i + 1], "".join(chars), start)
        else:
            chars.append(ch)
            i += 1
    raise RuleSyntaxError("unterminated string", text, start)


def _quoted_identifier_token(text: str, start: int) -> _Token:
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        if text[i] == "`":
            if text.startswith("``", i):  # a doubled backquote stands for one
                chars.append("`")
                i += 2
                continue
            if not chars:
                raise RuleSyntaxError("empty column name", text, start)
            return _Token("quoted", text[start : i + 1], "".join(chars), start)
        chars.append(text[i])
        i += 1
    raise RuleSyntaxError("unterminated `quoted column name`", text, start)


# ---------------------------------------------------------------------------------------------
# parser

_COMPARISON_OPS: dict[str, Literal["==", "!=", "<", "<=", ">", ">="]] = {
    "==": "==",
    "=": "==",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
# name -> number of arguments
_FUNCTIONS: dict[str, int] = {
    "abs": 1,
    "len": 1,
    "lower": 1,
    "upper": 1,
    "year": 1,
    "month": 1,
    "day": 1,
    "date": 1,
}


def _parse_date_text(text: str) -> pd.Timestamp | None:
    """An ISO 8601 date or datetime as a naive (UTC) timestamp; None when it is not one."""
    try:
        parsed = datetime.fromisoformat(text.strip())
        stamp = pd.Timestamp(parsed)
    except (ValueError, TypeError, OverflowError):
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokenize(expression)
        self.index = 0
        self.nesting = 0

    # -- token helpers
    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> _Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.current
        if token.kind != "end":
            self.index += 1
        return token

    def error(self, message: str, token: _Token | None = None) -> RuleSyntaxError:
        token = token or self.current
        return RuleSyntaxError(message, self.expression, token.position)

    def expect_op(self, op: str, context: str) -> _Token:
        if not self.current.is_op(op):
            raise self.error(f"expected '{op}' {context}, found {self.current.describe()}")
        return self.advance()

    def expect_keyword(self, word: str, context: str) -> _Token:
        if not self.current.is_keyword(word):
            raise self.error(f"expected '{word}' {context}, found {self.current.describe()}")
        return self.advance()

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            raise self.error("rule is nested too deeply")

    # -- grammar
    def parse(self) -> Expr:
        if self.current.kind == "end":
            raise self.error("empty rule")
        if self.current.is_keyword("if"):
            start = self.advance()
            condition = self.expression_()
            self.expect_keyword("then", "after the condition of 'if'")
            consequence = self.expression_()
            body: Expr = Implies(condition, consequence, start.position)
        else:
            body = self.expression_()
        if self.current.kind != "end":
            raise self.error(f"unexpected {self.current.describe()}")
        return body

    def expression_(self) -> Expr:
        self.enter()
        operands = [self.and_()]
        position = self.current.position
        while self.current.is_keyword("or"):
            self.advance()
            operands.append(self.and_())
        self.nesting -= 1
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands), position)

    def and_(self) -> Expr:
        operands = [self.not_()]
        position = self.current.position
        while self.current.is_keyword("and"):
            self.advance()
            operands.append(self.not_())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands), position)

    def not_(self) -> Expr:
        if self.current.is_keyword("not"):
            token = self.advance()
            self.enter()
            operand = self.not_()
            self.nesting -= 1
            return Not(operand, token.position)
        return self.predicate()

    def predicate(self) -> Expr:
        left = self.arith()
        token = self.current
        if token.kind == "op" and token.text in _COMPARISON_OPS:
            self.advance()
            return Comparison(_COMPARISON_OPS[token.text], left, self.arith(), token.position)
        negated = False
        if token.is_keyword("not"):
            following = self.peek()
            if not following.is_keyword("in", "matches", "between"):
                raise self.error(
                    f"expected 'in', 'matches' or 'between' after 'not', found "
                    f"{following.describe()}",
                    following,
                )
            self.advance()
            negated = True
            token = self.current
        if token.is_keyword("in"):
            self.advance()
            return InList(left, self.literal_list(), negated, token.position)
        if token.is_keyword("matches"):
            self.advance()
            return self.matches(left, negated, token.position)
        if token.is_keyword("between"):
            self.advance()
            low = self.arith()
            self.expect_keyword("and", "between the bounds of 'between'")
            high = self.arith()
            return Between(left, low, high, negated, token.position)
        if token.is_keyword("is"):
            self.advance()
            is_not = False
            if self.current.is_keyword("not"):
                self.advance()
                is_not = True
            self.expect_keyword("null", "after 'is'" if not is_not else "after 'is not'")
            return IsNull(left, is_not, token.position)
        return left

    def literal_list(self) -> tuple[Constant, ...]:
        opening = self.current
        if not opening.is_op("[", "("):
            raise self.error(f"expected '[' after 'in', found {opening.describe()}")
        closing = "]" if opening.text == "[" else ")"
        self.advance()
        values = [self.literal()]
        while self.current.is_op(","):
            self.advance()
            values.append(self.literal())
        self.expect_op(closing, "to close the list")
        return tuple(values)

    def literal(self) -> Constant:
        token = self.current
        if token.is_op("-") and self.peek().kind == "number":
            self.advance()
            number = self.advance()
            return Constant(-number.value, token.position)
        if token.kind in ("number", "string"):
            self.advance()
            return Constant(token.value, token.position)
        if token.is_keyword("true", "false", "null"):
            self.advance()
            return Constant(_WORD_CONSTANTS[token.text.lower()], token.position)
        if token.is_keyword("date") and self.peek().is_op("("):
            call = self.primary()
            if isinstance(call, Constant):
                return call
        raise self.error(f"expected a literal value in the list, found {token.describe()}", token)

    def matches(self, operand: Expr, negated: bool, position: int) -> Matches:
        token = self.current
        if token.kind != "string":
            raise self.error(f"expected a quoted pattern after 'matches', found {token.describe()}")
        self.advance()
        try:
            regex = re.compile(token.value)
        except (re.error, RecursionError, OverflowError, ValueError) as exc:
            offset = getattr(exc, "pos", None) or 0
            where = min(token.position + 1 + offset, token.position + len(token.text) - 1)
            detail = getattr(exc, "msg", str(exc))
            raise RuleSyntaxError(
                f"invalid regular expression: {detail}", self.expression, where
            ) from exc
        return Matches(operand, token.value, negated, position, regex)

    def arith(self) -> Expr:
        left = self.term()
        while self.current.is_op("+", "-"):
            op = self.advance()
            left = Arithmetic(op.text, left, self.term(), op.position)  # type: ignore[arg-type]
        return left

    def term(self) -> Expr:
        left = self.unary()
        while self.current.is_op("*", "/", "%"):
            op = self.advance()
            left = Arithmetic(op.text, left, self.unary(), op.position)  # type: ignore[arg-type]
        return left

    def unary(self) -> Expr:
        if self.current.is_op("-"):
            token = self.advance()
            self.enter()
            operand = self.unary()
            self.nesting -= 1
            # fold "-5" into a constant so that "x >= -5" reads as a column-vs-constant bound
            if isinstance(operand, Constant) and type(operand.value) in (int, float):
                return Constant(-operand.value, token.position)  # type: ignore[operator]
            return Negate(operand, token.position)
        return self.primary()

    def primary(self) -> Expr:
        token = self.current
        if token.kind in ("number", "string"):
            self.advance()
            return Constant(token.value, token.position)
        if token.kind == "quoted":
            self.advance()
            return ColumnRef(token.value, token.position)
        if token.kind == "ident":
            word = token.text.lower()
            if word in ("true", "false", "null"):
                self.advance()
                return Constant(_WORD_CONSTANTS[word], token.position)
            if word in _KEYWORDS:
                raise self.error(f"unexpected keyword {token.text!r}")
            if self.peek().is_op("("):
                return self.function_call()
            self.advance()
            return ColumnRef(token.text, token.position)
        if token.is_op("("):
            self.advance()
            inner = self.expression_()
            self.expect_op(")", "to close '('")
            return inner
        if token.kind == "end":
            raise self.error("unexpected end of rule: expected a value, a column or '('")
        raise self.error(f"unexpected {token.describe()}: expected a value, a column or '('")

    def function_call(self) -> Expr:
        name_token = self.advance()
        name = name_token.text.lower()
        if name not in _FUNCTIONS:
            close = difflib.get_close_matches(name, list(_FUNCTIONS), n=1)
            hint = f"; did you mean {close[0]}()?" if close else ""
            known = ", ".join(sorted(_FUNCTIONS))
            message = f"unknown function {name_token.text!r}{hint} (known: {known})"
            raise self.error(message, name_token)
        self.advance()  # '('
        args: list[Expr] = []
        if not self.current.is_op(")"):
            args.append(self.expression_())
            while self.current.is_op(","):
                self.advance()
                args.append(self.expression_())
        self.expect_op(")", f"to close {name}(")
        if len(args) != _FUNCTIONS[name]:
            raise self.error(
                f"{name}() takes {_FUNCTIONS[name]} argument, got {len(args)}", name_token
            )
        if name == "date" and isinstance(args[0], Constant) and isinstance(args[0].value, str):
            stamp = _parse_date_text(args[0].value)
            if stamp is None:
                raise self.error(
                    f"invalid date {args[0].value!r}: write ISO 8601, e.g. '2020-01-31'",
                    self.tokens[self.index - 2],
                )
            return Constant(stamp, name_token.position)
        return FunctionCall(name, tuple(args), name_token.position)


def _check_tree_depth(body: Expr, expression: str) -> None:
    # long operator chains ("a+a+a+...") build deep left-leaning trees without deep parsing
    stack: list[tuple[Expr, int]] = [(body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_TREE_DEPTH:
            raise RuleSyntaxError("rule is too long or nested too deeply", expression, 0)
        stack.extend((child, depth + 1) for child in _children(node))


def parse_rule(expression: str) -> RuleNode:
    """Parse rule text into its AST; any problem raises a RuleSyntaxError with a position."""
    if not isinstance(expression, str):
        raise RuleSyntaxError(f"a rule is text, got {type(expression).__name__}", "", 0)
    body = _Parser(expression).parse()
    _check_tree_depth(body, expression)
    return RuleNode(body, expression)


# ---------------------------------------------------------------------------------------------
# formatting


def quote_column(name: str) -> str:
    """The column as the rule language spells it: bare when it can be, else in backquotes."""
    plain = (
        bool(name)
        and _is_identifier_start(name[0])
        and all(_is_identifier_part(c) for c in name)
        and name.lower() not in _KEYWORDS
    )
    return name if plain else "`" + name.replace("`", "``") + "`"


def _quote_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _format_constant(value: ConstantValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        text = value.date().isoformat() if value == value.normalize() else value.isoformat()
        return f"date('{text}')"
    if isinstance(value, str):
        return _quote_string(value)
    return repr(value)


# binding strength, loosest first; a child looser than its slot gets parentheses
_PREC_IMPLIES, _PREC_OR, _PREC_AND, _PREC_NOT, _PREC_PREDICATE = 0, 1, 2, 3, 4
_PREC_ADD, _PREC_MUL, _PREC_UNARY, _PREC_ATOM = 5, 6, 7, 8


def _format(expr: Expr) -> tuple[str, int]:
    def wrap(child: Expr, minimum: int) -> str:
        text, prec = _format(child)
        return f"({text})" if prec < minimum else text

    match expr:
        case Constant(value=v):
            negative = type(v) in (int, float) and v < 0  # type: ignore[operator]
            return _format_constant(v), _PREC_UNARY if negative else _PREC_ATOM
        case ColumnRef(name=name):
            return quote_column(name), _PREC_ATOM
        case Negate(operand=o):
            return f"-{wrap(o, _PREC_UNARY)}", _PREC_UNARY
        case Arithmetic(op=op, left=a, right=b):
            prec = _PREC_ADD if op in "+-" else _PREC_MUL
            return f"{wrap(a, prec)} {op} {wrap(b, prec + 1)}", prec
        case FunctionCall(name=name, args=args):
            return f"{name}({', '.join(_format(a)[0] for a in args)})", _PREC_ATOM
        case Comparison(op=op, left=a, right=b):
            return f"{wrap(a, _PREC_ADD)} {op} {wrap(b, _PREC_ADD)}", _PREC_PREDICATE
        case InList(operand=o, values=values, negated=neg):
            items = ", ".join(_format_constant(c.value) for c in values)
            return f"{wrap(o, _PREC_ADD)} {'not in' if neg else 'in'} [{items}]", _PREC_PREDICATE
        case IsNull(operand=o, negated=neg):
            return f"{wrap(o, _PREC_ADD)} is {'not null' if neg else 'null'}", _PREC_PREDICATE
        case Matches(operand=o, pattern=p, negated=neg):
            keyword = "not matches" if neg else "matches"
            return f"{wrap(o, _PREC_ADD)} {keyword} {_quote_string(p)}", _PREC_PREDICATE
        case Between(operand=o, low=lo, high=hi, negated=neg):
            keyword = "not between" if neg else "between"
            text = f"{wrap(o, _PREC_ADD)} {keyword} {wrap(lo, _PREC_ADD)} and {wrap(hi, _PREC_ADD)}"
            return text, _PREC_PREDICATE
        case Not(operand=o):
            return f"not {wrap(o, _PREC_NOT)}", _PREC_NOT
        case BoolOp(op=op, operands=operands):
            prec = _PREC_OR if op == "or" else _PREC_AND
            return f" {op} ".join(wrap(o, prec + 1) for o in operands), prec
        case Implies(condition=c, consequence=q):
            return f"if {wrap(c, _PREC_OR)} then {wrap(q, _PREC_OR)}", _PREC_IMPLIES
    raise TypeError(f"not a rule expression: {expr!r}")


def format_rule(node: RuleNode | Expr) -> str:
    """Canonical text of a rule; parsing it gives back an equal AST."""
    return _format(_body(node))[0]


# ---------------------------------------------------------------------------------------------
# types

Kind: TypeAlias = Literal["number", "string", "boolean", "datetime", "null", "any"]

_STORAGE_KINDS: dict[str, Kind] = {
    StorageType.integer.value: "number",
    StorageType.float.value: "number",
    StorageType.string.value: "string",
    StorageType.boolean.value: "boolean",
    StorageType.datetime.value: "datetime",
    "number": "number",
}


def _declared_kind(declared: Any) -> Kind:
    if isinstance(declared, str) and declared.lower() in _STORAGE_KINDS:
        return _STORAGE_KINDS[declared.lower()]
    try:
        dtype = pd.api.types.pandas_dtype(declared)
    except (TypeError, ValueError):
        return "any"
    return _dtype_kind(dtype)


def _dtype_kind(dtype: Any) -> Kind:
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    return "any"


def _constant_kind(value: ConstantValue) -> Kind:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, pd.Timestamp):
        return "datetime"
    return "string"


def _compatible(a: Kind, b: Kind) -> bool:
    if a == b or "any" in (a, b) or "null" in (a, b):
        return True
    # booleans count as 0/1; ISO strings are read as dates next to a datetime
    return {a, b} in ({"number", "boolean"}, {"string", "datetime"})


def _kind_name(kind: Kind) -> str:
    return {"any": "a value", "null": "null"}.get(kind, f"a {kind}")


class _TypeChecker:
    def __init__(self, rule: RuleNode, kinds: Mapping[str, Kind]) -> None:
        self.rule = rule
        self.kinds = kinds

    def error(self, message: str, position: int) -> RuleTypeError:
        return RuleTypeError(message, self.rule.expression, position, self.rule.name)

    def require(self, kind: Kind, allowed: tuple[Kind, ...], what: str, position: int) -> None:
        if kind not in (*allowed, "any", "null"):
            expected = " or ".join(allowed)
            raise self.error(f"{what} needs {expected}, got {_kind_name(kind)}", position)

    def check_rule(self) -> None:
        kind = self.infer(self.rule.body)
        if kind not in ("boolean", "any", "null"):
            raise self.error(
                f"a rule must be a condition (true or false), got {_kind_name(kind)}",
                _first_position(self.rule.body),
            )

    def infer(self, expr: Expr) -> Kind:
        match expr:
            case Constant(value=v):
                return _constant_kind(v)
            case ColumnRef(name=name):
                return self.kinds.get(name, "any")
            case Negate(operand=o, position=pos):
                self.require(self.infer(o), ("number", "boolean"), "'-'", pos)
                return "number"
            case Arithmetic(op=op, left=a, right=b, position=pos):
                ka, kb = self.infer(a), self.infer(b)
                if op == "-" and {ka, kb} <= {"datetime", "any"} and "datetime" in (ka, kb):
                    return "number"  # a difference of dates, in days
                for k in (ka, kb):
                    if k not in ("number", "boolean", "any", "null"):
                        raise self.error(
                            f"'{op}' needs numbers, got {_kind_name(ka)} and {_kind_name(kb)}",
                            pos,
                        )
                return "number"
            case FunctionCall(name=name, args=args, position=pos):
                return self.infer_function(name, [self.infer(a) for a in args], pos)
            case Comparison(op=op, left=a, right=b, position=pos):
                ka, kb = self.infer(a), self.infer(b)
                if any(isinstance(side, Constant) and side.value is None for side in (a, b)):
                    raise self.error(
                        f"'{op} null' is never true or false; write 'is null' or 'is not null'",
                        pos,
                    )
                if not _compatible(ka, kb):
                    raise self.error(f"cannot compare {_kind_name(ka)} with {_kind_name(kb)}", pos)
                return "boolean"
            case InList(operand=o, values=values):
                ko = self.infer(o)
                for c in values:
                    kc = _constant_kind(c.value)
                    if not _compatible(ko, kc):
                        raise self.error(
                            f"list value {_format_constant(c.value)} is {_kind_name(kc)}, "
                            f"but the tested value is {_kind_name(ko)}",
                            c.position,
                        )
                return "boolean"
            case IsNull(operand=o):
                self.infer(o)
                return "boolean"
            case Matches(operand=o, position=pos):
                self.require(self.infer(o), ("string",), "'matches'", pos)
                return "boolean"
            case Between(operand=o, low=lo, high=hi, position=pos):
                ko = self.infer(o)
                for bound in (lo, hi):
                    kb = self.infer(bound)
                    if not _compatible(ko, kb):
                        raise self.error(
                            f"'between' bound is {_kind_name(kb)}, but the tested value is "
                            f"{_kind_name(ko)}",
                            pos,
                        )
                return "boolean"
            case Not(operand=o, position=pos):
                self.require(self.infer(o), ("boolean",), "'not'", pos)
                return "boolean"
            case BoolOp(op=op, operands=operands):
                for o in operands:
                    self.require(self.infer(o), ("boolean",), f"'{op}'", _first_position(o))
                return "boolean"
            case Implies(condition=c, consequence=q):
                self.require(self.infer(c), ("boolean",), "'if'", _first_position(c))
                self.require(self.infer(q), ("boolean",), "'then'", _first_position(q))
                return "boolean"
        raise TypeError(f"not a rule expression: {expr!r}")

    def infer_function(self, name: str, kinds: list[Kind], position: int) -> Kind:
        (kind,) = kinds
        if name == "abs":
            self.require(kind, ("number", "boolean"), "abs()", position)
            return "number"
        if name == "len":
            self.require(kind, ("string",), "len()", position)
            return "number"
        if name in ("lower", "upper"):
            self.require(kind, ("string",), f"{name}()", position)
            return "string"
        if name in ("year", "month", "day"):
            self.require(kind, ("datetime", "string"), f"{name}()", position)
            return "number"
        if name == "date":
            self.require(kind, ("datetime", "string"), "date()", position)
            return "datetime"
        raise self.error(f"unknown function {name!r}", position)


def _first_position(expr: Expr) -> int:
    return min(node.position for node in _walk(expr))


def _check_columns(rule: RuleNode, columns: Iterable[str]) -> None:
    known = list(dict.fromkeys(columns))
    known_set = set(known)
    refs = sorted(
        (n for n in _walk(rule.body) if isinstance(n, ColumnRef)), key=lambda n: n.position
    )
    for ref in refs:
        if ref.name in known_set:
            continue
        by_lower = {c.lower(): c for c in known}
        suggestion = by_lower.get(ref.name.lower())
        if suggestion is None:
            close = difflib.get_close_matches(ref.name, known, n=1, cutoff=0.6)
            suggestion = close[0] if close else None
        message = f"unknown column {ref.name!r}"
        if suggestion is not None:
            message += f"; did you mean {quote_column(suggestion)}?"
            if quote_column(suggestion) != suggestion:
                message += " (names with spaces or dashes go in `backquotes`)"
        raise UnknownColumnError(
            message, rule.expression, ref.position, rule.name, ref.name, suggestion
        )


def compile_rule(
    expression: str,
    columns: Iterable[str],
    name: str | None = None,
    dtypes: Mapping[str, Any] | None = None,
) -> RuleNode:
    """Parse a rule and check it against a table's columns (and, when given, their types).

    ``dtypes`` maps column names to a StorageType (or its value) or a pandas dtype; with it,
    comparing a text column with a number is a RuleTypeError now rather than at run time.
    Every error carries the rule's name and the position it refers to.
    """
    try:
        rule = RuleNode(parse_rule(expression).body, expression, name)
        _check_columns(rule, columns)
        kinds = {c: _declared_kind(t) for c, t in (dtypes or {}).items()}
        _TypeChecker(rule, kinds).check_rule()
    except RuleError as err:
        err.rule_name = name
        raise
    return rule


# ---------------------------------------------------------------------------------------------
# evaluation
#
# A value is (kind, data, null). data is a numpy array of length n (numbers, booleans, datetimes)
# or a RangeIndex'ed pandas string Series, or a scalar when it comes from constants only; null is
# a bool array or a bool. Data under a null is arbitrary but harmless.


@dataclass(frozen=True, slots=True)
class _Value:
    kind: Kind
    data: Any
    null: Any


def _to_datetime_array(series: pd.Series) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format" for messy text
        try:
            parsed = pd.to_datetime(series, errors="coerce")
        except (ValueError, TypeError, OverflowError):
            parsed = pd.to_datetime(series, errors="coerce", utc=True)
    if not pd.api.types.is_datetime64_any_dtype(parsed.dtype):
        parsed = pd.to_datetime(parsed, errors="coerce", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.to_numpy()


def _column_value(series: pd.Series) -> _Value:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _column_value(series.astype(object))
    if pd.api.types.is_bool_dtype(dtype):
        return _Value(
            "boolean", series.to_numpy(dtype=bool, na_value=False), series.isna().to_numpy()
        )
    if pd.api.types.is_integer_dtype(dtype):
        null = series.isna().to_numpy()
        try:
            return _Value("number", series.to_numpy(dtype=np.int64, na_value=0), null)
        except (OverflowError, ValueError, TypeError):  # uint64 beyond int64
            pass
    if pd.api.types.is_numeric_dtype(dtype):
        data = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return _Value("number", data, np.isnan(data))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        data = series.to_numpy()
        return _Value("datetime", data, np.isnat(data))
    if pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred == "empty":
            return _Value("null", None, True)
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            return _column_value(pd.to_numeric(series, errors="coerce"))
        if inferred == "boolean":
            return _column_value(series.astype("boolean"))
        if inferred in ("datetime", "datetime64", "date"):
            return _column_value(pd.Series(_to_datetime_array(series)))
    text = series.astype("string").reset_index(drop=True)
    return _Value("string", text, text.isna().to_numpy())


def _constant_value(value: ConstantValue) -> _Value:
    kind = _constant_kind(value)
    if kind == "null":
        return _Value("null", None, True)
    if isinstance(value, pd.Timestamp):
        return _Value("datetime", value.to_datetime64(), False)
    return _Value(kind, value, False)


def _or(a: Any, b: Any) -> Any:
    return np.logical_or(a, b)


def _to_bool(raw: Any) -> Any:
    if isinstance(raw, pd.Series):
        return raw.to_numpy(dtype=bool, na_value=False)
    if isinstance(raw, np.ndarray):
        return raw.astype(bool, copy=False)
    return bool(raw) if raw is not pd.NA else False


def _unknown() -> _Value:
    return _Value("boolean", False, True)


_COMPARATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


class _Evaluator:
    def __init__(self, rule: RuleNode, frame: pd.DataFrame) -> None:
        self.rule = rule
        self.rows = len(frame)
        missing = referenced_columns(rule) - set(frame.columns)
        if missing:
            _check_columns(rule, [str(c) for c in frame.columns])
        self.columns = {name: _column_value(frame[name]) for name in referenced_columns(rule)}
        kinds = {name: value.kind for name, value in self.columns.items()}
        _TypeChecker(rule, kinds).check_rule()

    def error(self, message: str, position: int) -> RuleTypeError:
        return RuleTypeError(message, self.rule.expression, position, self.rule.name)

    def truth(self) -> tuple[np.ndarray, np.ndarray]:
        """(value, unknown) arrays of the whole rule."""
        result = self.eval(self.rule.body)
        if result.kind == "null":
            result = _unknown()
        data = np.broadcast_to(np.asarray(result.data, dtype=bool), (self.rows,))
        null = np.broadcast_to(np.asarray(result.null, dtype=bool), (self.rows,))
        return data.copy(), null.copy()

    # -- dispatch
    def eval(self, expr: Expr) -> _Value:
        match expr:
            case Constant(value=v):
                return _constant_value(v)
            case ColumnRef(name=name):
                return self.columns[name]
            case Negate(operand=o):
                value = self.as_number(self.eval(o))
                return _Value("number", -value.data, value.null)
            case Arithmetic(op=op, left=a, right=b, position=pos):
                return self.arithmetic(op, self.eval(a), self.eval(b), pos)
            case FunctionCall(name=name, args=(arg,), position=pos):
                return self.function(name, self.eval(arg), pos)
            case Comparison(op=op, left=a, right=b, position=pos):
                return self.compare(op, self.eval(a), self.eval(b), pos)
            case InList(operand=o, values=values, negated=neg, position=pos):
                return self.in_list(self.eval(o), values, neg, pos)
            case IsNull(operand=o, negated=neg):
                null = np.asarray(self.eval(o).null, dtype=bool)
                return _Value("boolean", ~null if neg else null, False)
            case Matches(operand=o, regex=regex, negated=neg):
                return self.matches(self.eval(o), regex, neg)
            case Between(operand=o, low=lo, high=hi, negated=neg, position=pos):
                value = self.eval(o)
                inside = self.kleene_and(
                    [
                        self.compare(">=", value, self.eval(lo), pos),
                        self.compare("<=", value, self.eval(hi), pos),
                    ]
                )
                return self.kleene_not(inside) if neg else inside
            case Not(operand=o):
                return self.kleene_not(self.as_condition(self.eval(o)))
            case BoolOp(op="and", operands=operands):
                return self.kleene_and([self.as_condition(self.eval(o)) for o in operands])
            case BoolOp(op="or", operands=operands):
                return self.kleene_or([self.as_condition(self.eval(o)) for o in operands])
            case Implies(condition=c, consequence=q):
                condition = self.as_condition(self.eval(c))
                return self.kleene_or([self.kleene_not(condition), self.as_condition(self.eval(q))])
        raise TypeError(f"not a rule expression: {expr!r}")

    # -- logic
    @staticmethod
    def as_condition(value: _Value) -> _Value:
        return _unknown() if value.kind == "null" else value

    @staticmethod
    def kleene_not(value: _Value) -> _Value:
        return _Value("boolean", np.logical_not(value.data), value.null)

    @staticmethod
    def kleene_and(values: list[_Value]) -> _Value:
        known_false: Any = False
        all_true: Any = True
        for v in values:
            known_false = known_false | (~np.asarray(v.data, dtype=bool) & ~np.asarray(v.null))
            all_true = all_true & (np.asarray(v.data, dtype=bool) & ~np.asarray(v.null))
        return _Value("boolean", all_true, ~known_false & ~all_true)

    @staticmethod
    def kleene_or(values: list[_Value]) -> _Value:
        known_true: Any = False
        all_false: Any = True
        for v in values:
            known_true = known_true | (np.asarray(v.data, dtype=bool) & ~np.asarray(v.null))
            all_false = all_false & (~np.asarray(v.data, dtype=bool) & ~np.asarray(v.null))
        return _Value("boolean", known_true, ~known_true & ~all_false)

    # -- values
    def as_number(self, value: _Value) -> _Value:
        if value.kind == "boolean":
            return _Value("number", np.asarray(value.data, dtype=np.int64), value.null)
        if value.kind == "null":
            return _Value("number", 0, True)
        return value

    def as_datetime(self, value: _Value, position: int) -> _Value:
        if value.kind != "string":
            return value
        if isinstance(value.data, pd.Series):
            data = _to_datetime_array(value.data)
            return _Value("datetime", data, _or(value.null, np.isnat(data)))
        stamp = _parse_date_text(value.data)
        if stamp is None:
            raise self.error(f"cannot read {value.data!r} as a date (write ISO 8601)", position)
        return _Value("datetime", stamp.to_datetime64(), value.null)

    def align(self, left: _Value, right: _Value, position: int) -> tuple[_Value, _Value]:
        kinds = {left.kind, right.kind}
        if kinds == {"number", "boolean"}:
            return self.as_number(left), self.as_number(right)
        if kinds == {"string", "datetime"}:
            return self.as_datetime(left, position), self.as_datetime(right, position)
        if left.kind != right.kind:
            raise self.error(
                f"cannot compare {_kind_name(left.kind)} with {_kind_name(right.kind)}", position
            )
        return left, right

    def compare(self, op: str, left: _Value, right: _Value, position: int) -> _Value:
        if left.kind == "null" or right.kind == "null":
            return _unknown()
        left, right = self.align(left, right, position)
        with np.errstate(all="ignore"):
            raw = _COMPARATORS[op](left.data, right.data)
        return _Value("boolean", _to_bool(raw), _or(left.null, right.null))

    def arithmetic(self, op: str, left: _Value, right: _Value, position: int) -> _Value:
        if left.kind == "datetime" or right.kind == "datetime":
            if op != "-" or "null" in (left.kind, right.kind):
                return _Value("number", 0.0, True)
            left, right = self.as_datetime(left, position), self.as_datetime(right, position)
            days = (left.data - right.data) / np.timedelta64(1, "D")
            return _Value("number", days, _or(_or(left.null, right.null), np.isnan(days)))
        left, right = self.as_number(left), self.as_number(right)
        null = _or(left.null, right.null)
        with np.errstate(all="ignore"):
            if op in ("/", "%"):
                # division by zero is unknown, as in SQL, rather than inf
                zero = np.asarray(right.data) == 0
                divisor = np.where(zero, 1, right.data)
                divide = np.true_divide if op == "/" else np.mod
                data = divide(left.data, divisor)
                null = _or(null, zero)
            else:
                data = {"+": np.add, "-": np.subtract, "*": np.multiply}[op](left.data, right.data)
        if np.asarray(data).dtype.kind == "f":
            null = _or(null, np.isnan(data))
        return _Value("number", data, null)

    def function(self, name: str, arg: _Value, position: int) -> _Value:
        if arg.kind == "null":
            # placeholders keep later operators working; the null mask is what counts
            if name in ("lower", "upper"):
                return _Value("string", "", True)
            if name == "date":
                return _Value("datetime", np.datetime64("NaT"), True)
            return _Value("number", 0, True)
        if name == "abs":
            value = self.as_number(arg)
            return _Value("number", np.abs(value.data), value.null)
        if name in ("len", "lower", "upper"):
            if isinstance(arg.data, pd.Series):
                if name == "len":
                    lengths = arg.data.str.len().to_numpy(dtype=np.int64, na_value=0)
                    return _Value("number", lengths, arg.null)
                return _Value("string", getattr(arg.data.str, name)(), arg.null)
            text: str = arg.data
            result = len(text) if name == "len" else getattr(text, name)()
            return _Value("number" if name == "len" else "string", result, arg.null)
        value = self.as_datetime(arg, position)
        if name == "date":
            return value
        stamps = np.asarray(value.data)
        # NaT converts to a huge negative number; swap it for a harmless date first
        stamps = np.where(np.isnat(stamps), np.datetime64("1970-01-01"), stamps)
        if name == "year":
            parts = stamps.astype("datetime64[Y]").astype(np.int64) + 1970
        elif name == "month":
            parts = stamps.astype("datetime64[M]").astype(np.int64) % 12 + 1
        else:
            month_start = stamps.astype("datetime64[M]")
            parts = (stamps - month_start).astype("timedelta64[D]").astype(np.int64) + 1
        return _Value("number", parts, value.null)

    def in_list(
        self, value: _Value, constants: tuple[Constant, ...], negated: bool, position: int
    ) -> _Value:
        if value.kind == "null":
            return _unknown()
        items = [c.value for c in constants if c.value is not None]
        has_null = len(items) < len(constants)
        if value.kind == "string" and any(isinstance(v, pd.Timestamp) for v in items):
            value = self.as_datetime(value, position)  # text tested against dates reads as dates
        if value.kind == "string":
            texts = [v for v in items if isinstance(v, str)]
            if isinstance(value.data, pd.Series):
                member: Any = value.data.isin(texts).to_numpy(dtype=bool, na_value=False)
            else:
                member = value.data in texts
        elif value.kind == "datetime":
            stamps = [self.as_datetime(_constant_value(v), position).data for v in items]
            member = np.isin(value.data, np.array(stamps, dtype="datetime64[ns]"))
        elif value.kind == "boolean":
            member = np.isin(value.data, [bool(v) for v in items])
        else:
            member = np.isin(value.data, [float(v) for v in items])  # type: ignore[arg-type]
        # SQL: "x in (1, null)" is unknown, not false, when x is not 1
        null = _or(value.null, np.logical_and(has_null, np.logical_not(member)))
        return _Value("boolean", np.logical_xor(member, negated), null)

    @staticmethod
    def matches(value: _Value, regex: re.Pattern[str], negated: bool) -> _Value:
        if value.kind == "null":
            return _unknown()
        if isinstance(value.data, pd.Series):
            hit: Any = value.data.str.fullmatch(regex).to_numpy(dtype=bool, na_value=False)
        else:
            hit = regex.fullmatch(str(value.data)) is not None
        return _Value("boolean", np.logical_xor(hit, negated), value.null)


def _as_rule(node: RuleNode | Expr) -> RuleNode:
    if isinstance(node, RuleNode):
        return node
    return RuleNode(node, format_rule(node))


def evaluate_truth(node: RuleNode | Expr, df: pd.DataFrame) -> pd.Series:
    """Three-valued result per row as a nullable boolean Series: NA where the rule is unknown."""
    data, null = _Evaluator(_as_rule(node), df).truth()
    values = pd.arrays.BooleanArray(data, null)
    return pd.Series(values, index=df.index, name=_as_rule(node).name)


def evaluate_rule(node: RuleNode | Expr, df: pd.DataFrame) -> pd.Series:
    """True where a row satisfies the rule; unknown (a null operand) counts as satisfied."""
    data, null = _Evaluator(_as_rule(node), df).truth()
    return pd.Series(data | null, index=df.index, name=_as_rule(node).name)


# ---------------------------------------------------------------------------------------------
# repair


@dataclass(frozen=True, slots=True)
class _Clip:
    """Bring a column inside [lower, upper] (inclusive bounds already adjusted to its dtype)."""

    column: str
    lower: Any
    upper: Any


@dataclass(frozen=True, slots=True)
class _SetValue:
    column: str
    value: Any


@dataclass(frozen=True, slots=True)
class _Swap:
    first: str
    second: str


_Fix: TypeAlias = _Clip | _SetValue | _Swap


@dataclass(frozen=True, slots=True)
class _Step:
    """A fix and the part of the rule whose failure calls for it."""

    fix: _Fix
    condition: Expr


def _dtype_family(dtype: Any) -> str | None:
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_dtype(dtype):  # naive only: aware ones need a zone decision
        return "datetime"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    return None


def _swap_family(dtype: Any) -> str | None:
    # ints and floats may trade values; a non-integral float refused by an int column
    # makes the repair fail as a whole (see repair_rule)
    family = _dtype_family(dtype)
    return "number" if family in ("integer", "float") else family


def _bound(value: ConstantValue, strict: bool, lower: bool, dtype: Any) -> Any:
    """The nearest allowed value on the right side of a bound, in the column's dtype."""
    family = _dtype_family(dtype)
    if family in ("integer", "float") and type(value) in (int, float):
        number = float(value)  # type: ignore[arg-type]
        if family == "integer":
            if lower:
                return math.floor(number) + 1 if strict else math.ceil(number)
            return math.ceil(number) - 1 if strict else math.floor(number)
        if strict:
            return float(np.nextafter(number, np.inf if lower else -np.inf))
        return number
    if family == "datetime" and isinstance(value, pd.Timestamp):
        unit = np.datetime_data(dtype)[0]
        stamp = value.to_datetime64().astype(f"datetime64[{unit}]")
        if strict:
            step = np.timedelta64(1, unit)
            stamp = stamp + step if lower else stamp - step
        return pd.Timestamp(stamp)
    return None


def _column_and_constant(expr: Comparison) -> tuple[str, str, ConstantValue] | None:
    if isinstance(expr.left, ColumnRef) and isinstance(expr.right, Constant):
        return expr.left.name, expr.op, expr.right.value
    if isinstance(expr.left, Constant) and isinstance(expr.right, ColumnRef):
        return expr.right.name, _FLIPPED[expr.op], expr.left.value
    return None


def _settable(value: ConstantValue, dtype: Any) -> bool:
    family = _dtype_family(dtype)
    if value is None or family is None:
        return False
    if family == "integer":
        return type(value) in (int, float) and float(value).is_integer()  # type: ignore[arg-type]
    if family == "float":
        return type(value) in (int, float)
    if family == "datetime":
        return isinstance(value, pd.Timestamp)
    if family == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


def _plan(expr: Expr, frame: pd.DataFrame) -> list[_Step] | None:
    """The unique minimal fix for one part of a rule, or None when there is none."""
    if isinstance(expr, Not) and isinstance(expr.operand, Comparison):
        inner = expr.operand
        expr = Comparison(_NEGATED[inner.op], inner.left, inner.right, inner.position)  # type: ignore[arg-type]
    if isinstance(expr, Comparison):
        pair = _column_and_constant(expr)
        if pair is not None:
            column, op, value = pair
            if column not in frame.columns:
                return None
            dtype = frame[column].dtype
            if op == "==":
                return [_Step(_SetValue(column, value), expr)] if _settable(value, dtype) else None
            if op == "!=":
                return None
            lower = op in (">", ">=")
            bound = _bound(value, op in ("<", ">"), lower, dtype)
            if bound is None:
                return None
            clip = _Clip(column, bound, None) if lower else _Clip(column, None, bound)
            return [_Step(clip, expr)]
        if (
            isinstance(expr.left, ColumnRef)
            and isinstance(expr.right, ColumnRef)
            and expr.op in ("<", "<=", ">", ">=")
            and expr.left.name != expr.right.name
            and {expr.left.name, expr.right.name} <= set(frame.columns)
        ):
            families = {
                _swap_family(frame[expr.left.name].dtype),
                _swap_family(frame[expr.right.name].dtype),
            }
            if len(families) != 1 or None in families:
                return None
            return [_Step(_Swap(expr.left.name, expr.right.name), expr)]
        return None
    if (
        isinstance(expr, Between)
        and not expr.negated
        and isinstance(expr.operand, ColumnRef)
        and isinstance(expr.low, Constant)
        and isinstance(expr.high, Constant)
        and expr.operand.name in frame.columns
    ):
        dtype = frame[expr.operand.name].dtype
        low = _bound(expr.low.value, False, True, dtype)
        high = _bound(expr.high.value, False, False, dtype)
        if low is None or high is None or low > high:
            return None
        return [_Step(_Clip(expr.operand.name, low, high), expr)]
    if (
        isinstance(expr, InList)
        and not expr.negated
        and len(expr.values) == 1
        and isinstance(expr.operand, ColumnRef)
        and expr.operand.name in frame.columns
        and _settable(expr.values[0].value, frame[expr.operand.name].dtype)
    ):
        return [_Step(_SetValue(expr.operand.name, expr.values[0].value), expr)]
    if isinstance(expr, BoolOp) and expr.op == "and":
        return _plan_conjunction(expr, frame)
    return None


def _plan_conjunction(expr: BoolOp, frame: pd.DataFrame) -> list[_Step] | None:
    steps: list[_Step] = []
    for operand in expr.operands:
        part = _plan(operand, frame)
        if part is None:
            return None
        steps.extend(part)
    touched = [_fix_columns(step.fix) for step in steps]
    if all(isinstance(s.fix, _Clip) for s in steps) and len(set().union(*touched)) == 1:
        # several bounds on one column: clip once to their intersection
        clips = [s.fix for s in steps if isinstance(s.fix, _Clip)]
        lows = [c.lower for c in clips if c.lower is not None]
        highs = [c.upper for c in clips if c.upper is not None]
        low, high = (max(lows) if lows else None), (min(highs) if highs else None)
        if low is not None and high is not None and low > high:
            return None
        return [_Step(_Clip(clips[0].column, low, high), expr)]
    seen: set[str] = set()
    for columns in touched:
        if seen & columns:
            return None  # fixes that compete for a column have no unique answer
        seen |= columns
    return steps


def _fix_columns(fix: _Fix) -> set[str]:
    return {fix.first, fix.second} if isinstance(fix, _Swap) else {fix.column}


def _apply(fix: _Fix, frame: pd.DataFrame, rows: np.ndarray) -> None:
    if isinstance(fix, _Clip):
        values = frame.loc[rows, fix.column].clip(lower=fix.lower, upper=fix.upper)
        frame.loc[rows, fix.column] = values.array
    elif isinstance(fix, _SetValue):
        frame.loc[rows, fix.column] = fix.value
    else:
        first = frame.loc[rows, fix.first].array.copy()
        second = frame.loc[rows, fix.second].array.copy()
        frame.loc[rows, fix.first] = second
        frame.loc[rows, fix.second] = first


def repair_rule(
    node: RuleNode | Expr, df: pd.DataFrame, violating: pd.Series | np.ndarray
) -> pd.DataFrame | None:
    """A repaired copy when the rule has a unique minimal fix, else None.

    Unique fixes: ``col OP constant`` clips the column to the bound (``==`` sets it);
    ``col between a and b`` clips; ``colA <= colB`` (and <, >, >=) swaps the two values; an
    ``and`` of such parts on separate columns (or bounds on one column) applies each. Only rows
    that are in ``violating`` *and* fail the rule change; the input is never mutated.
    """
    rule = _as_rule(node)
    if isinstance(violating, pd.Series):
        if not violating.index.equals(df.index):
            violating = violating.reindex(df.index, fill_value=False)
        wanted = violating.to_numpy(dtype=bool, na_value=False)
    else:
        wanted = np.asarray(violating, dtype=bool)
    steps = _plan(rule.body, df)
    if steps is None:
        return None
    failing = wanted & ~evaluate_rule(rule, df).to_numpy()
    repaired = df.copy()
    if not failing.any():
        return repaired
    for step in steps:
        part = RuleNode(step.condition, rule.expression, rule.name)
        rows = failing & ~evaluate_rule(part, repaired).to_numpy()
        if not rows.any():
            continue
        try:
            _apply(step.fix, repaired, rows)
        except (TypeError, ValueError):
            return None  # the value does not fit the column's dtype (e.g. a category)
    return repaired


# ---------------------------------------------------------------------------------------------
# pandera


def to_pandera_check(node: RuleNode | Expr, name: str | None = None) -> pa.Check | None:
    """A pandera Check for the single column the rule reads, where pandera can say it.

    Covers column-vs-constant comparisons, ``in`` / ``not in``, ``between``, ``matches`` and
    ``is [not] null``; anything else returns None. Pandera skips nulls in column checks, which
    matches the rule language's "unknown passes" (except for the null checks themselves).
    """
    import pandera.pandas as pa  # deferred: pandera is slow to import and only needed here

    body = _body(node)
    label = name or (node.name if isinstance(node, RuleNode) else None) or format_rule(body)
    if isinstance(body, Not) and isinstance(body.operand, Comparison):
        inner = body.operand
        body = Comparison(_NEGATED[inner.op], inner.left, inner.right, inner.position)  # type: ignore[arg-type]
    if isinstance(body, Comparison):
        pair = _column_and_constant(body)
        if pair is None or pair[2] is None:
            return None
        _, op, value = pair
        builders = {
            "==": pa.Check.eq,
            "!=": pa.Check.ne,
            "<": pa.Check.lt,
            "<=": pa.Check.le,
            ">": pa.Check.gt,
            ">=": pa.Check.ge,
        }
        return builders[op](value, name=label)
    if not isinstance(getattr(body, "operand", None), ColumnRef):
        return None
    if isinstance(body, InList):
        values = [c.value for c in body.values]
        if None in values:
            return None
        builder = pa.Check.notin if body.negated else pa.Check.isin
        return builder(values, name=label)
    if isinstance(body, Between):
        if body.negated or not (isinstance(body.low, Constant) and isinstance(body.high, Constant)):
            return None
        return pa.Check.in_range(body.low.value, body.high.value, name=label)
    if isinstance(body, Matches):
        if body.negated:
            return None
        # str_matches anchors at the start only; \Z makes it a full match like the rule's
        return pa.Check.str_matches(re.compile(f"(?:{body.pattern})\\Z"), name=label)
    if isinstance(body, IsNull):
        if body.negated:
            return pa.Check(lambda s: s.notna(), ignore_na=False, name=label)
        return pa.Check(lambda s: s.isna(), ignore_na=False, name=label)
    return None
