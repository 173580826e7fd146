"""The report's plain-language summary, written by the LLM and checked before anyone reads it.

The LLM is given a compact list of the report's facts, each number exactly as the report rounds
it, and the pass/fail verdict of every thresholded check. Its 3-5 sentences are then verified
deterministically: every number in them must be one of the facts (the same number, or the same
number rounded to fewer decimals, or written as a percentage), and no sentence may give a check
the opposite verdict, or privacy another risk level. One retry with the problems listed; after
that, or when no LLM can be reached, the deterministic template (``summarize_report``) is used and
the report says why (``summary_source``, ``summary_rejections``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, Field

from synthtab.agents.progress import emit_progress
from synthtab.llm import (
    ChatMessage,
    ChatModel,
    LLMOutputError,
    LLMUnavailable,
    get_chat_model,
    render_prompt,
    structured,
)
from synthtab.tools.summary import (
    WEAK_COLUMN_MARGIN,
    summarize_report,
    thresholds_of,
    weak_columns,
)

NODE = "reporter"
SummarySource = Literal["llm", "template"]
# one answer plus one retry with the problems listed: each attempt costs ~10-20 s on the CPU
MAX_ATTEMPTS = 2
MAX_SUMMARY_TOKENS = 256
MAX_SENTENCE_CHARS = 240
MIN_SENTENCE_WORDS = 4
# verified but not listed in the prompt: shown the detection score's verdict, the model wrote it
# under the AUC's name ("Detection AUC is 0.935 and meets its 0.50 threshold") in 4 of 6 reports
UNPROMPTED_CHECKS = frozenset({"detection_score"})
# a number rounded to fewer decimals than the fact still has to keep this many (0.959 -> 0.96 is
# the same figure; 0.959 -> 1 is not)
MIN_REROUNDED_DECIMALS = 2


class SummaryFact(BaseModel):
    """One figure the summary may quote, as the report prints it."""

    name: str
    value: str


class SummaryCheck(BaseModel):
    """A check with a threshold and its verdict; the summary may not turn the verdict around."""

    key: str = Field(description="what the check measures: a key of CHECK_TOPICS")
    name: str
    value: str
    threshold: str
    passed: bool


class SummaryFacts(BaseModel):
    facts: list[SummaryFact]
    checks: list[SummaryCheck]
    privacy_risk: str | None = None
    column_names: list[str] = Field(
        default_factory=list, description="names whose digits are not numbers (e.g. 'col_2')"
    )
    labelled: dict[str, list[str]] = Field(
        default_factory=dict,
        description="a metric's name -> the values a number right after that name may have",
    )


class SummaryDraft(BaseModel):
    """What the LLM is asked for: one plain sentence per topic. Keys per topic guide a small
    model better than a free list (given a list it put the whole text in one item, then began
    again); the length caps reach the decoding grammar, so an answer cannot run on."""

    fidelity: str = Field(max_length=MAX_SENTENCE_CHARS)
    utility: str = Field(max_length=MAX_SENTENCE_CHARS)
    checks: str = Field(max_length=MAX_SENTENCE_CHARS)
    privacy: str = Field(max_length=MAX_SENTENCE_CHARS)

    def sentences(self) -> list[str]:
        return [self.fidelity, self.utility, self.checks, self.privacy]


class WrittenSummary(BaseModel):
    text: str
    source: SummarySource
    model: str | None = None
    rejections: list[str] = Field(default_factory=list)
    seconds: float = 0.0


# ---- the facts ---------------------------------------------------------------------------------


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _score(value: object) -> str | None:
    # the report's rounding: scores to 3 decimals (summary.py and report_html.py agree)
    return f"{value:.3f}" if isinstance(value, int | float) else None


def _count(value: object) -> str | None:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else None


def report_facts(report: Mapping[str, Any]) -> SummaryFacts:
    """The facts and verdicts a summary of ``report`` may state (a pure function of the report).

    The verdicts are the HTML scorecard's: a score passes at or above its threshold.
    """
    facts: list[SummaryFact] = []
    checks: list[SummaryCheck] = []
    thresholds = thresholds_of(report)

    def fact(name: str, value: str | None) -> None:
        if value is not None:
            facts.append(SummaryFact(name=name, value=value))

    def check(key: str, name: str, value: object) -> None:
        shown = _score(value)
        if shown is None or not isinstance(value, int | float):
            return
        threshold = thresholds[key]
        checks.append(
            SummaryCheck(
                key=key,
                name=name,
                value=shown,
                threshold=f"{threshold:.2f}",
                passed=value >= threshold,
            )
        )

    summary = _mapping(report.get("summary"))
    quality = _mapping(report.get("quality"))
    validation = _mapping(report.get("validation"))
    privacy = _mapping(report.get("privacy"))
    fact("real rows", _count(summary.get("rows_real")))
    fact("synthetic rows delivered", _count(summary.get("rows_delivered")))
    fact("synthetic rows", _count(summary.get("rows_synthetic")))
    column_names: list[str] = []
    if quality:
        reference = _mapping(quality.get("holdout_reference"))
        fact("overall fidelity", _score(quality.get("overall_score")))
        fact("column shapes score", _score(quality.get("column_shape_score")))
        fact("pair trends score", _score(quality.get("pair_trend_score")))
        fact(
            "real holdout's overall fidelity (the ceiling)", _score(reference.get("overall_score"))
        )
        check("overall_score", "overall fidelity", quality.get("overall_score"))
        check("column_shape_score", "column shapes", quality.get("column_shape_score"))
        check("pair_trend_score", "pair trends", quality.get("pair_trend_score"))
        weak = weak_columns(quality)
        for name, score, ceiling in weak:
            fact(f"weak column {name}: score (holdout score)", f"{score:.3f} ({ceiling:.3f})")
        if not weak and quality.get("columns"):
            fact(f"columns more than {WEAK_COLUMN_MARGIN:.2f} below their holdout score", "none")
        column_names = [str(_mapping(c).get("column")) for c in quality.get("columns") or []]
        utility = _mapping(quality.get("utility"))
        if utility.get("status") == "ok" and utility.get("ratio") is not None:
            fact(
                f"TSTR ratio ({utility.get('primary_metric')} of a model trained on synthetic "
                f"rows / trained on real rows, predicting {utility.get('target')})",
                _score(utility.get("ratio")),
            )
            check("tstr_ratio", "TSTR ratio", utility.get("ratio"))
        detection = _mapping(quality.get("detection"))
        if detection.get("auc") is not None:
            fact(
                "detection AUC (a classifier telling synthetic from real rows; 0.5: it cannot)",
                _score(detection["auc"]),
            )
            fact("detection AUC of real holdout rows", _score(detection.get("holdout_auc")))
            check("detection_score", "detection score", detection.get("score"))
    if validation:
        rows, violating = validation.get("rows"), validation.get("violating_rows")
        listed = len(validation.get("checks") or [])
        if isinstance(rows, int) and isinstance(violating, int):
            # one phrase the LLM can copy: separate counts got mixed up ("39 violating rows")
            value = (
                f"all {rows:,} rows pass all {listed:,} constraint checks"
                if violating == 0
                else f"{violating:,} of {rows:,} rows break at least one of {listed:,} "
                "constraint checks"
            )
            checks.append(
                SummaryCheck(
                    key="constraints",
                    name="constraint checks",
                    value=value,
                    threshold="0",
                    passed=violating == 0,
                )
            )
    risk = privacy.get("risk") if isinstance(privacy.get("risk"), str) else None
    if privacy:
        fact("privacy risk", risk)
        fact("DCR share (0.5 is ideal)", _score(privacy.get("dcr_share")))
        fact("exact-copy rate", _score(privacy.get("exact_copy_rate")))
        fact("exact copies removed", _count(privacy.get("exact_copies_removed")))
    history = [_mapping(h) for h in report.get("quality_history") or []]
    if len(history) > 1:
        fact("feedback rounds", _count(len(history) - 1))
        fact("overall fidelity before feedback", _score(history[0].get("overall")))
        fact("overall fidelity after the last round", _score(history[-1].get("overall")))
    labelled: dict[str, list[str]] = {}
    for label, values in (
        (
            "overall fidelity",
            [
                quality.get("overall_score"),
                _mapping(quality.get("holdout_reference")).get("overall_score"),
                *(h.get("overall") for h in history),
            ],
        ),
        ("AUC", [_mapping(quality.get("detection")).get(k) for k in ("auc", "holdout_auc")]),
        ("detection score", [_mapping(quality.get("detection")).get("score")]),
        ("TSTR ratio", [_mapping(quality.get("utility")).get("ratio")]),
        ("DCR share", [privacy.get("dcr_share")]),
    ):
        shown = [v for v in map(_score, values) if v is not None]
        if shown:
            labelled[label] = shown
    return SummaryFacts(
        facts=facts,
        checks=checks,
        privacy_risk=risk,
        column_names=sorted(set(column_names)),
        labelled=labelled,
    )


# ---- the verification --------------------------------------------------------------------------

# a number: digits with optional thousands commas and decimals, optionally a percentage; not part
# of a word ("Qwen2", "col_1") nor of a longer number
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)?(\.\d+)?(\s?%)?(?![\w])")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_PARENTHESES = re.compile(r"\([^()]*\)")
_CLAUSE_BREAK = re.compile(r"[;,:]|\s(?:but|while|whereas|although|though|yet)\s", re.I)
# what a clause is about: the checks it can give a verdict on
CHECK_TOPICS: Mapping[str, re.Pattern[str]] = {
    "overall_score": re.compile(r"\boverall\b|\bfidelity\b", re.I),
    "column_shape_score": re.compile(r"column[- ]shapes?", re.I),
    "pair_trend_score": re.compile(r"pair(?:wise)?[- ]trends?", re.I),
    "tstr_ratio": re.compile(r"\bTSTR\b|\butility\b|trained on (?:the )?synthetic", re.I),
    "detection_score": re.compile(r"\bdetection\b|\bclassifier\b|\bdistinguish", re.I),
    "constraints": re.compile(r"\bchecks?\b|\bconstraints?\b|\brules?\b|\bviolat", re.I),
}
_PRIVACY_TOPIC = re.compile(r"\bprivacy\b|\brisk\b", re.I)
_PASS_WORDS = re.compile(
    r"\bpass(?:es|ed|ing)?\b|\bmeets?\b|\bmet\b|\bexceeds?\b|\bexceeded\b|\bsatisf\w*"
    r"|\babove (?:the |its |their )?(?:\S+ )?threshold",
    re.I,
)
_FAIL_WORDS = re.compile(
    r"\bfail(?:s|ed|ing)?\b|\bfalls? short\b|\bshort of\b|\bviolat\w*|\bbreaks?\b|\bbroken\b"
    r"|\bbelow (?:the |its |their )?(?:\S+ )?threshold|\bunder (?:the |its )?(?:\S+ )?threshold",
    re.I,
)
_NEGATION = re.compile(r"(?:no|not|never|none|nor|without|zero|0|\w*n't)[,;.]?", re.I)
NEGATION_WINDOW_WORDS = 4
_RISK_LEVEL = re.compile(
    r"\b(low|minimal|moderate|medium|elevated|high)\b[- ](?:privacy[- ])?risk"
    r"|\brisk\s+(?:is\s+|was\s+|level\s+(?:is\s+)?|of\s+|remains\s+|appears\s+)?"
    r"(?:rated\s+|assessed\s+as\s+|considered\s+)?(low|minimal|moderate|medium|elevated|high)\b",
    re.I,
)
# "the threshold of 0.80", "threshold 0.90", "the 0.80 threshold"
_THRESHOLD_NUMBER = re.compile(
    r"threshold\s+(?:of\s+|is\s+|at\s+)?(\d+(?:\.\d+)?)(\s?%)?"
    r"|(\d+(?:\.\d+)?)(\s?%)?\s+threshold",
    re.I,
)
_RISK_SYNONYMS = {"minimal": "low", "moderate": "medium", "elevated": "high"}


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _threshold_value(match: re.Match[str]) -> Decimal | None:
    number, percent = match.group(1) or match.group(3), match.group(2) or match.group(4)
    value = _decimal(number) if number else None
    return value / 100 if value is not None and percent else value


def fact_numbers(facts: SummaryFacts) -> list[Decimal]:
    """Every number the summary may quote: the facts', the checks' values and thresholds."""
    texts = [f"{f.name} {f.value}" for f in facts.facts]
    texts += [f"{c.value} {c.threshold}" for c in facts.checks]
    numbers: list[Decimal] = []
    for text in texts:
        for match in _NUMBER.finditer(text):
            value = _number_value(match)
            if value is not None and value not in numbers:
                numbers.append(value)
    return numbers


def _number_value(match: re.Match[str]) -> Decimal | None:
    whole, fraction, percent = match.group(1), match.group(2), match.group(3)
    if whole is None and fraction is None:
        return None
    value = _decimal(f"{whole or '0'}{fraction or ''}")
    if value is None:
        return None
    return value / 100 if percent else value


def _decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def is_quoted(value: Decimal, allowed: Sequence[Decimal]) -> bool:
    """Whether ``value`` is one of ``allowed``: equal (0.8 = 0.80), or one of them rounded to
    fewer decimals but at least ``MIN_REROUNDED_DECIMALS`` (0.959 as 0.96 or 96%)."""
    decimals = _decimals(value)
    for fact in allowed:
        if value == fact:
            return True
        if MIN_REROUNDED_DECIMALS <= decimals < _decimals(fact):
            step = Decimal(1).scaleb(-decimals)
            rounded = {fact.quantize(step, rounding=r) for r in (ROUND_HALF_UP, ROUND_HALF_EVEN)}
            if value in rounded:
                return True
    return False


def _without_names(text: str, names: Sequence[str]) -> str:
    # longest first, so "col_10" is removed before "col_1"
    for name in sorted(names, key=len, reverse=True):
        if name and any(ch.isdigit() for ch in name):
            text = text.replace(name, " ")
    return text


def invented_numbers(text: str, facts: SummaryFacts) -> list[str]:
    """The numbers in ``text`` that are not among the facts, as written."""
    allowed = fact_numbers(facts)
    unknown: list[str] = []
    for match in _NUMBER.finditer(_without_names(text, facts.column_names)):
        value = _number_value(match)
        if value is not None and not is_quoted(value, allowed):
            written = match.group(0).strip()
            if written not in unknown:
                unknown.append(written)
    return unknown


def _clauses(text: str) -> list[tuple[int, str]]:
    """(sentence number, clause) for every clause of ``text``, asides in parentheses left out:
    "(column shapes 0.972, pair trends 0.948)" must not become the topic of what follows."""
    return [
        (number, clause.strip())
        for number, sentence in enumerate(_SENTENCE_END.split(_PARENTHESES.sub(" ", text)))
        for clause in _CLAUSE_BREAK.split(sentence)
        if clause.strip()
    ]


def _verdicts(clause: str) -> set[bool]:
    """The verdicts a clause states: True for pass, False for fail; a negation just before a
    verdict word turns it around ("does not meet" fails, "no rows fail" passes)."""
    found: set[bool] = set()
    for pattern, polarity in ((_PASS_WORDS, True), (_FAIL_WORDS, False)):
        for match in pattern.finditer(clause):
            before = clause[: match.start()].split()[-NEGATION_WINDOW_WORDS:]
            negated = any(_NEGATION.fullmatch(word) for word in before)
            found.add(polarity != negated)
    return found


def contradictions(text: str, facts: SummaryFacts) -> list[str]:
    """Verdicts in ``text`` that contradict the checks', and a privacy risk level other than the
    report's. A clause without a topic of its own speaks of the last one named ("Overall fidelity
    is 0.959, which meets the threshold"), within its sentence."""
    by_key = {c.key: c for c in facts.checks}
    problems: list[str] = []
    topics: list[str] = []
    last_sentence = -1
    for sentence, clause in _clauses(text):
        if sentence != last_sentence:
            # a topic is not carried into the next sentence: "All 500 rows pass." after a TSTR
            # sentence speaks of the checks, not of TSTR
            topics, last_sentence = [], sentence
        named = [key for key, pattern in CHECK_TOPICS.items() if pattern.search(clause)]
        topics = named or topics
        verdicts = _verdicts(clause)
        for key in topics:
            check = by_key.get(key)
            if check is None or (not check.passed) not in verdicts:
                continue
            actual = "passes" if check.passed else "fails"
            said = "fails" if check.passed else "passes"
            problem = (
                f'"{clause}" says {check.name} {said}, but it {actual} '
                f"({check.value} against the threshold {check.threshold})"
            )
            if problem not in problems:
                problems.append(problem)
        limits = {
            key: limit
            for key in topics
            if key in by_key and (limit := _decimal(by_key[key].threshold)) is not None
        }
        for match in _THRESHOLD_NUMBER.finditer(clause):
            said = _threshold_value(match)
            if limits and said is not None and said not in limits.values():
                names = " / ".join(by_key[k].name for k in limits)
                shown = " / ".join(by_key[k].threshold for k in limits)
                problems.append(
                    f'"{clause}" gives a threshold of {said}, but the threshold for '
                    f"{names} is {shown}"
                )
        if facts.privacy_risk and _PRIVACY_TOPIC.search(clause):
            for match in _RISK_LEVEL.finditer(clause):
                level = (match.group(1) or match.group(2)).lower()
                level = _RISK_SYNONYMS.get(level, level)
                if level != facts.privacy_risk:
                    problems.append(
                        f'"{clause}" calls the privacy risk {level}, but the report rates it '
                        f"{facts.privacy_risk}"
                    )
    return problems


def mislabelled_numbers(text: str, facts: SummaryFacts) -> list[str]:
    """Numbers quoted under another metric's name: the first number after a metric's name in
    the same clause must be that metric's ("detection AUC is 0.935" when 0.935 is the detection
    score and the AUC 0.467)."""
    problems: list[str] = []
    for _, clause in _clauses(text):
        for label, values in facts.labelled.items():
            allowed = [v for v in (_decimal(value) for value in values) if v is not None]
            for found in re.finditer(rf"\b{re.escape(label)}\b", clause, re.I):
                number = next(_numbers(clause[found.end() :]), None)
                if number is not None and not is_quoted(number[1], allowed):
                    problems.append(
                        f'"{clause}" gives {label} as {number[0]}, but the report\'s {label} '
                        f"is {' / '.join(values)}"
                    )
    return problems


def _numbers(text: str) -> Iterator[tuple[str, Decimal]]:
    for match in _NUMBER.finditer(text):
        value = _number_value(match)
        if value is not None:
            yield match.group(0).strip(), value


def unknown_thresholds(text: str, facts: SummaryFacts) -> list[str]:
    """A number called a threshold anywhere (asides included) must be one of the checks'."""
    known = [v for v in (_decimal(c.threshold) for c in facts.checks) if v is not None]
    return [
        f'"{match.group(0)}": {said} is not the threshold of any check'
        for match in _THRESHOLD_NUMBER.finditer(text)
        if (said := _threshold_value(match)) is not None and said not in known
    ]


def summary_problems(text: str, facts: SummaryFacts) -> list[str]:
    """Everything wrong with a summary, in words the LLM can act on; empty when it may be kept."""
    problems = [
        f"the number {number} is not among the facts: quote numbers exactly as the facts give them"
        for number in invented_numbers(text, facts)
    ]
    problems += contradictions(text, facts)
    problems += mislabelled_numbers(text, facts)
    problems += unknown_thresholds(text, facts)
    return problems


def draft_problems(draft: SummaryDraft, facts: SummaryFacts) -> list[str]:
    problems = []
    for topic, sentence in zip(SummaryDraft.model_fields, draft.sentences(), strict=True):
        if not sentence.strip():
            problems.append(f"the {topic} sentence is empty")
        elif len(sentence.split()) < MIN_SENTENCE_WORDS:
            problems.append(f"the {topic} value is not a sentence: write a plain sentence")
        elif not sentence.rstrip().endswith((".", "!")):
            problems.append(f"the {topic} sentence is cut off: write a shorter one")
    return problems + summary_problems(draft_text(draft), facts)


def draft_text(draft: SummaryDraft) -> str:
    return " ".join(" ".join(sentence.split()) for sentence in draft.sentences() if sentence)


# ---- the writer --------------------------------------------------------------------------------


def summary_messages(facts: SummaryFacts) -> list[ChatMessage]:
    prompt = render_prompt(
        "report_summary",
        facts=[f.model_dump() for f in facts.facts],
        checks=[c.model_dump() for c in facts.checks if c.key not in UNPROMPTED_CHECKS],
    )
    return [ChatMessage(role="user", content=prompt)]


def write_summary(report: Mapping[str, Any], llm: ChatModel) -> WrittenSummary:
    """The LLM's summary of ``report`` when it passes verification (at most one retry), else the
    template with every rejected attempt's problems."""
    started = time.perf_counter()
    facts = report_facts(report)
    attempts: list[list[str]] = []

    def check(draft: SummaryDraft) -> list[str]:
        problems = draft_problems(draft, facts)
        if problems:
            attempts.append(problems)
        return problems

    try:
        draft = structured(
            llm,
            summary_messages(facts),
            SummaryDraft,
            check=check,
            max_attempts=MAX_ATTEMPTS,
            max_tokens=MAX_SUMMARY_TOKENS,
        )
    except LLMOutputError as error:
        # attempts that did not even parse are in the error but never reached ``check``
        rejected = [
            f"{llm.name}'s summary, attempt {number}: {problem}"
            for number, problems in enumerate(error.attempts, start=1)
            for problem in problems
        ]
        return WrittenSummary(
            text=summarize_report(report),
            source="template",
            model=llm.name,
            rejections=rejected,
            seconds=round(time.perf_counter() - started, 2),
        )
    except LLMUnavailable as error:
        return _template(report, f"{llm.name} stopped answering: {error}", started, llm.name)
    return WrittenSummary(
        text=draft_text(draft),
        source="llm",
        model=llm.name,
        # problems of an attempt that was retried and then passed: kept for the record
        rejections=[f"attempt 1 (retried): {p}" for problems in attempts for p in problems],
        seconds=round(time.perf_counter() - started, 2),
    )


def _template(
    report: Mapping[str, Any], why: str, started: float, model: str | None = None
) -> WrittenSummary:
    return WrittenSummary(
        text=summarize_report(report),
        source="template",
        model=model,
        rejections=[why],
        seconds=round(time.perf_counter() - started, 2),
    )


def summarize(report: Mapping[str, Any], *, use_llm: bool) -> WrittenSummary:
    """The summary a run or an evaluation asked for: the template unless ``use_llm``; then the
    configured chat model (created here: a model object never lives in graph state), falling back
    to the template with the reason when none can be reached."""
    started = time.perf_counter()
    if not use_llm:
        return WrittenSummary(text=summarize_report(report), source="template")
    try:
        llm = get_chat_model()
    except LLMUnavailable as error:
        return _template(report, f"no LLM available: {error}", started)
    emit_progress(NODE, f"asking {llm.name} for the plain-language summary")
    return write_summary(report, llm)


def summary_fields(written: WrittenSummary) -> dict[str, Any]:
    """The report.json fields that hold the summary and where it came from."""
    return {
        "plain_summary": written.text,
        "summary_source": written.source,
        "summary_model": written.model,
        "summary_rejections": written.rejections,
        "summary_seconds": written.seconds,
    }
