"""Planner for plain-language requests: retrieve similar schema templates, let the LLM propose a
schema, check it, and ask the user what is unclear (a LangGraph interrupt) before any data is made.

The LLM only proposes (``SchemaProposal``); every proposal goes through ``proposal_problems`` and
is sent back with the problems, a bounded number of times. Row counts and formats the request
states in words are read deterministically and win over the LLM's."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from langgraph.types import interrupt

from synthtab.agents.progress import emit_progress
from synthtab.llm import ChatMessage, ChatModel, LLMOutputError, render_prompt, structured
from synthtab.schema import Column, Schema, Table
from synthtab.schema.chat_request import ChatRequest
from synthtab.schema.proposal import (
    Grounding,
    SchemaProposal,
    TableProposal,
    compact_table_lines,
    describe_schema,
    missing_thing_problem,
    missing_things,
    named_template_things,
    proposal_problems,
    proposal_to_schema,
    requested_table_counts,
    resolve_template_table,
    safe_identifier,
    singular,
    unresolved_references,
    with_template_tables_for,
    without_self_key_references,
    without_unknown_templates,
    without_unrequested_tables,
)
from synthtab.schema.request_text import (
    counted_things,
    listed_things,
    mentioned_counts,
    mentioned_row_total,
)

RETRIEVER = "retriever"
PLANNER = "planner"
CONFIRM = "confirm"
TEMPLATES_SHOWN = 2
PROPOSAL_MAX_TOKENS = 1200
# a table written out column by column takes ~250 tokens; many-table requests get room for it
TOKENS_PER_NAMED_TABLE = 300
PROPOSAL_MAX_TOKENS_CAP = 2600
# rows the LLM proposes that the request never stated (a 1,000,000-row users table) are capped
MAX_UNSTATED_ROWS = 20_000
TABLE_MAX_TOKENS = 500
# a whole-schema answer that does not parse twice (it ran past its tokens) is built table by table
PROPOSAL_PARSE_ATTEMPTS = 2
MAX_TABLES_WRITTEN_ALONE = 4
VAGUE_QUESTION = (
    "What is the data about? Name the kinds of records you need (for example customers, "
    "orders and products) and roughly how many of each."
)
_STOPWORDS = frozenset(
    """i me my we our you need want would like please some any data dataset datasets table tables
    generate create make give get build produce synthetic fake random sample example test testing
    rows row records record a an the of for to and or with in on about just few lots lot little
    small big large something stuff thing things csv excel xlsx sql json parquet file files""".split()
)


class TemplateMatchLike(Protocol):
    distance: float

    @property
    def template(self) -> Any: ...


class TemplateSearch(Protocol):
    def nearest(self, request_text: str, k: int = 3) -> Sequence[TemplateMatchLike]: ...


TemplateSearchFactory = Callable[[], TemplateSearch]


class PlanningFailed(RuntimeError):
    """The LLM gave no usable proposal within the bound; the message lists the last problems."""


def request_is_vague(text: str) -> bool:
    """A request that names nothing to model ('I need some data') gets a question, not a guess."""
    words = [w for w in re.findall(r"[a-zA-Z]{3,}", text.lower()) if w not in _STOPWORDS]
    return len(words) == 0


def _conversation_text(chat: ChatRequest, answers: Sequence[str]) -> str:
    return " ".join([chat.text, *answers])


def retrieve(state: dict[str, Any], search_factory: TemplateSearchFactory) -> dict[str, Any]:
    """The nearest schema templates to the request (and any answers so far)."""
    chat = ChatRequest.model_validate(state["chat"])
    text = _conversation_text(chat, state.get("answers", []))
    matches = search_factory().nearest(text, k=TEMPLATES_SHOWN + 1)
    templates = [
        {
            "name": m.template.name,
            "distance": round(float(m.distance), 4),
            "schema": m.template.schema_.model_dump(mode="json", exclude_none=True),
        }
        for m in matches
    ]
    names = ", ".join(t["name"] for t in templates)
    emit_progress(RETRIEVER, f"nearest templates: {names}")
    return {"templates": templates, "messages": [f"retriever: nearest templates {names}"]}


def grounding_from(templates: Sequence[dict[str, Any]]) -> Grounding:
    """The tables shown to the LLM (by 'template.table') and the template columns by name,
    nearest template first, to fill what a proposal leaves out."""
    tables: dict[str, Table] = {}
    columns: dict[str, Column] = {}
    for template in templates[:TEMPLATES_SHOWN]:
        for table in Schema.model_validate(template["schema"]).tables:
            tables[f"{template['name']}.{table.name}"] = table
    for template in templates:
        for table in Schema.model_validate(template["schema"]).tables:
            for column in table.columns:
                columns.setdefault(column.name, column)
    return Grounding(tables=tables, columns=columns)


def _request_messages(
    chat: ChatRequest, state: dict[str, Any], things: Sequence[tuple[str, ...]]
) -> list[ChatMessage]:
    lines = compact_table_lines(grounding_from(state.get("templates", [])).tables)
    user = render_prompt(
        "plan_schema_request",
        request=chat.text,
        answers=state.get("answers", []),
        templates=lines,
        counts=mentioned_counts(_conversation_text(chat, state.get("answers", []))),
        things=[thing[0] for thing in things],
    )
    return [
        ChatMessage(role="system", content=render_prompt("plan_schema")),
        ChatMessage(role="user", content=user),
    ]


def _feedback(problems: Sequence[str]) -> str:
    listed = "\n".join(f"- {p}" for p in problems)
    return f"Your proposal has these problems:\n{listed}\nAnswer with the corrected JSON proposal."


def _without_bad_rules(proposal: SchemaProposal, problems: Sequence[str]) -> SchemaProposal:
    """Rules the LLM could not get right are dropped (and reported), not guessed at."""
    tables = []
    for table in proposal.tables:
        kept = [r for r in table.rules if not any(repr(r) in p for p in problems)]
        tables.append(table.model_copy(update={"rules": kept}))
    return proposal.model_copy(update={"tables": tables})


def proposal_max_tokens(things: Sequence[tuple[str, ...]]) -> int:
    return min(
        PROPOSAL_MAX_TOKENS_CAP, max(PROPOSAL_MAX_TOKENS, TOKENS_PER_NAMED_TABLE * len(things))
    )


def requested_things(text: str, grounding: Grounding) -> list[tuple[str, ...]]:
    """What the request needs a table for: what it counts ('25 households'), the plural nouns
    it lists ('members and their visits') and the listed template tables it names."""
    things: list[tuple[str, ...]] = []
    for thing in [
        *counted_things(text),
        *listed_things(text),
        *named_template_things(text, grounding),
    ]:
        known = SchemaProposal(tables=[TableProposal(name=n) for t in things for n in t])
        if missing_things(known, [thing]):
            things.append(thing)
    return things


def _singular_key(name: str) -> str:
    return f"{singular(safe_identifier(name))}_id"


def propose_table(
    llm: ChatModel, request_text: str, name: str, proposal: SchemaProposal, grounding: Grounding
) -> TableProposal | None:
    """One table written on its own: a small model that left a table out (or named a template
    table that does not exist) writes it reliably when asked for just that table."""
    others = SchemaProposal(
        tables=[t for t in proposal.tables if safe_identifier(t.name) != safe_identifier(name)]
    )
    lines: list[str] = []
    if others.tables and not proposal_problems(others, grounding):
        for table in proposal_to_schema(others, grounding, {}).tables:
            lines.append(f"{table.name} (key {', '.join(table.primary_key or []) or 'none'})")
    prompt = render_prompt(
        "plan_table", request=request_text, tables=lines, table=name, key=_singular_key(name)
    )
    try:
        table = structured(
            llm,
            [ChatMessage(role="user", content=prompt)],
            TableProposal,
            max_tokens=TABLE_MAX_TOKENS,
        )
    except LLMOutputError:
        return None
    if not table.columns:
        return None
    return table.model_copy(update={"name": safe_identifier(name), "template_table": None})


def _with_tables_written_alone(
    llm: ChatModel,
    request_text: str,
    proposal: SchemaProposal,
    things: Sequence[tuple[str, ...]],
    grounding: Grounding,
) -> tuple[SchemaProposal, list[str], int]:
    """Tables with neither columns nor a listed template, and named things still missing, each
    written by a focused call (at most MAX_TABLES_WRITTEN_ALONE); returns the calls made."""
    wanted = [
        safe_identifier(t.name)
        for t in proposal.tables
        if not t.columns
        and (not t.template_table or resolve_template_table(t.template_table, grounding) is None)
    ]
    wanted += [thing[0] for thing in missing_things(proposal, things)]
    calls, notes = 0, []
    for name in list(dict.fromkeys(wanted))[:MAX_TABLES_WRITTEN_ALONE]:
        calls += 1
        table = propose_table(llm, request_text, name, proposal, grounding)
        if table is None:
            continue
        kept = [t for t in proposal.tables if safe_identifier(t.name) != name]
        proposal = proposal.model_copy(update={"tables": [*kept, table]})
        notes.append(f"table {name!r} was written in an LLM call of its own")
    return proposal, notes, calls


def propose_schema(
    llm: ChatModel,
    messages: list[ChatMessage],
    attempts: int,
    grounding: Grounding | None = None,
    things: Sequence[tuple[str, ...]] = (),
    request_text: str = "",
) -> tuple[SchemaProposal, list[str], int]:
    """Ask, check, send problems back; returns the proposal, notes, and the calls it took.

    A table the request names but the proposal leaves out is added from the listed template
    of that name, else written in a call of its own; still missing after the last attempt, it
    is reported in the notes rather than failing the whole request."""
    grounding = grounding or Grounding()
    problems: list[str] = []
    missing: list[str] = []
    notes: list[str] = []
    asked = list(messages)
    max_tokens = proposal_max_tokens(things)
    calls = 0
    for attempt in range(1, attempts + 1):
        proposal = structured(
            llm, asked, SchemaProposal, max_tokens=max_tokens, max_attempts=PROPOSAL_PARSE_ATTEMPTS
        )
        calls += 1
        if not proposal.tables:  # nothing proposed: the caller asks or falls back to a template
            return proposal, [], calls
        proposal = without_self_key_references(proposal)
        proposal, unknown = without_unknown_templates(proposal, grounding)
        proposal, added = with_template_tables_for(proposal, things, grounding)
        proposal, alone, extra = _with_tables_written_alone(
            llm, request_text or messages[-1].content, proposal, things, grounding
        )
        calls += extra
        notes = [
            *(f"a made-up template_table was dropped, its own columns kept: {u}" for u in unknown),
            *(
                f"added the template table {a!r} the request names; the LLM left it out"
                for a in added
            ),
            *alone,
        ]
        problems = proposal_problems(proposal, grounding)
        missing = [missing_thing_problem(t) for t in missing_things(proposal, things)]
        if not problems and not missing:
            return proposal, notes, calls
        problems = [*problems, *missing]
        emit_progress(PLANNER, f"proposal {attempt} has {len(problems)} problem(s); asking again")
        # only the latest attempt goes back: the context window holds one answer and its problems
        asked = [
            *messages,
            ChatMessage(role="assistant", content=proposal.model_dump_json(exclude_none=True)),
            ChatMessage(role="user", content=_feedback(problems)),
        ]
    structural = [p for p in problems if p not in missing]
    missing_notes = [f"no table for what the request names: {p}" for p in missing]
    if not structural:
        return proposal, [*notes, *missing_notes], calls
    only_rules = all(" rule " in p for p in structural)
    if only_rules:
        cleaned = _without_bad_rules(proposal, structural)
        if not proposal_problems(cleaned, grounding):
            dropped = [f"dropped a rule the LLM could not state correctly: {p}" for p in structural]
            return cleaned, [*notes, *dropped, *missing_notes], calls
    raise PlanningFailed(
        f"the LLM gave no valid schema in {attempts} attempts; last problems: {'; '.join(problems)}"
    )


def table_by_table(
    llm: ChatModel, request_text: str, things: Sequence[tuple[str, ...]], grounding: Grounding
) -> tuple[SchemaProposal, list[str], int] | None:
    """The schema built one table at a time when the whole-schema answer would not parse (a
    small model can run past its token limit on a long JSON): each thing the request names from
    its template table, else from a focused call. None when that does not give a valid schema."""
    if not things:
        return None
    proposal, _ = with_template_tables_for(SchemaProposal(tables=[]), things, grounding)
    proposal, alone, calls = _with_tables_written_alone(
        llm, request_text, proposal, things, grounding
    )
    if not proposal.tables or proposal_problems(proposal, grounding):
        return None
    notes = [
        "the LLM's whole-schema answer did not parse; the schema was built table by table",
        *alone,
        *(f"no table for what the request names: {t[0]}" for t in missing_things(proposal, things)),
    ]
    return proposal, notes, calls


def _capped_rows(
    proposal: SchemaProposal, stated: dict[str, int]
) -> tuple[SchemaProposal, list[str]]:
    """Row counts the LLM made up beyond MAX_UNSTATED_ROWS are capped; stated ones are not."""
    tables, notes = [], []
    for table in proposal.tables:
        name = safe_identifier(table.name)
        if name not in stated and table.rows is not None and table.rows > MAX_UNSTATED_ROWS:
            notes.append(
                f"{name}: the LLM proposed {table.rows:,} rows, which the request does not "
                f"state; capped at {MAX_UNSTATED_ROWS:,} (state a number to get more)"
            )
            table = table.model_copy(update={"rows": MAX_UNSTATED_ROWS})
        tables.append(table)
    return proposal.model_copy(update={"tables": tables}), notes


def template_proposal(template: dict[str, Any]) -> SchemaProposal:
    """Every table of one retrieved template, as a proposal that copies them."""
    tables = Schema.model_validate(template["schema"]).tables
    return SchemaProposal(
        tables=[
            TableProposal(name=t.name, template_table=f"{template['name']}.{t.name}")
            for t in tables
        ]
    )


def plan_schema(state: dict[str, Any], llm: ChatModel) -> dict[str, Any]:
    chat = ChatRequest.model_validate(state["chat"])
    answers = list(state.get("answers", []))
    if request_is_vague(_conversation_text(chat, answers)):
        if chat.assume_yes:
            raise PlanningFailed(
                "the request does not say what the data is about; name the kinds of records "
                "you need (for example: customers, orders and products)"
            )
        return {"questions": [VAGUE_QUESTION], "schema": None, "next_node": CONFIRM}
    grounding = grounding_from(state.get("templates", []))
    things = requested_things(_conversation_text(chat, answers), grounding)
    messages = _request_messages(chat, state, things)
    feedback = state.get("generation_problems") or []
    if feedback:
        messages.append(ChatMessage(role="user", content=_feedback(feedback)))
    emit_progress(PLANNER, f"asking {llm.name} for a schema")
    try:
        proposal, notes, calls = propose_schema(
            llm, messages, chat.max_llm_attempts, grounding, things, chat.text
        )
    except LLMOutputError as error:
        built = table_by_table(llm, chat.text, things, grounding)
        if built is None:
            raise PlanningFailed(f"the LLM's answers did not parse: {error}") from error
        proposal, notes, calls = built
        calls += PROPOSAL_PARSE_ATTEMPTS
    if not proposal.tables:
        if not chat.assume_yes or not state.get("templates"):
            questions = [q.strip() for q in proposal.questions if q.strip()][:3] or [VAGUE_QUESTION]
            return {
                "questions": questions,
                "schema": None,
                "llm_calls": calls,
                "next_node": CONFIRM,
            }
        nearest = state["templates"][0]
        proposal = template_proposal(nearest)
        notes.append(
            f"the LLM proposed no table; with --yes the nearest template {nearest['name']!r} "
            "is used whole"
        )
    proposal, dropped = without_unrequested_tables(
        proposal, _conversation_text(chat, answers), grounding
    )
    if dropped:
        notes.append(f"left out tables the request did not ask for: {', '.join(dropped)}")
    notes.extend(
        f"a reference to a table not in the proposal was kept as a plain column: {r}"
        for r in unresolved_references(proposal)
    )
    text = _conversation_text(chat, answers)
    table_names = [safe_identifier(t.name) for t in proposal.tables]
    stated = requested_table_counts(table_names, mentioned_counts(text))
    total = mentioned_row_total(text)
    if len(table_names) == 1 and not stated and total is not None:
        stated = {table_names[0]: total}
    proposal, capped = _capped_rows(proposal, stated)
    notes.extend(capped)
    schema = proposal_to_schema(proposal, grounding, stated)
    questions = [q.strip() for q in proposal.questions if q.strip()][:3]
    summary = ", ".join(f"{t.name} ({t.row_count:,})" for t in schema.tables)
    return {
        "proposal": proposal.model_dump(mode="json"),
        "schema": schema.model_dump(mode="json", exclude_none=True),
        "questions": questions,
        "stated_counts": stated,
        "planner_notes": notes,
        "llm_calls": state.get("llm_calls", 0) + calls,
        "next_node": CONFIRM,
        "messages": [f"planner: proposed {summary}", *(f"planner: {n}" for n in notes)],
    }


def _answer_text(answer: Any) -> tuple[bool, str | None]:
    """(accepted, answer text) from what the user sent back."""
    if isinstance(answer, str):
        text = answer.strip()
        if text.lower() in {"", "y", "yes", "ok", "accept", "looks good"}:
            return True, None
        if text.lower() in {"n", "no", "cancel", "quit", "stop"}:
            return False, None
        return False, text
    if isinstance(answer, dict):
        text = str(answer.get("answer") or "").strip()
        if text:
            return False, text
        return bool(answer.get("accept", False)), None
    raise ValueError(
        f"an answer must be text or {{'accept'|'answer'}}, not {type(answer).__name__}"
    )


def confirm(state: dict[str, Any]) -> dict[str, Any]:
    """Show the proposal and its questions; wait for the user unless told to accept."""
    chat = ChatRequest.model_validate(state["chat"])
    questions = list(state.get("questions", []))
    schema = state.get("schema")
    rounds = state.get("question_rounds", 0)
    if schema is not None and (chat.assume_yes or rounds >= chat.max_question_rounds):
        note = (
            [f"confirm: accepted without asking; open questions: {questions}"] if questions else []
        )
        return {"next_node": "vocabulary", "assumed_questions": questions, "messages": note}
    proposal = describe_schema(Schema.model_validate(schema)) if schema is not None else []
    answer = interrupt({"kind": "confirm_schema", "proposal": proposal, "questions": questions})
    accepted, text = _answer_text(answer)
    if text is not None:
        return {
            "answers": [text],
            "question_rounds": rounds + 1,
            "next_node": RETRIEVER,
            "messages": [f"confirm: the user answered {text!r}"],
        }
    if accepted and schema is not None:
        return {"next_node": "vocabulary", "messages": ["confirm: the user accepted the proposal"]}
    return {
        "next_node": "__end__",
        "status": "cancelled",
        "messages": ["confirm: the user declined the proposal; nothing was written"],
    }
