"""The chat graph: a sentence in, a checked multi-table dataset out.

retriever -> planner -> confirm -> vocabulary -> generator -> validator -> reporter, with the
user's answers looping confirm back to the retriever (a LangGraph interrupt waits for them),
the validator sending failed data back to the generator, and a schema the generator cannot
meet going back to the planner with the reason. Runs share the spine's runner: the same run
directory layout, SQLite checkpoints and resume."""

from __future__ import annotations

import json
import operator
import uuid
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from synthtab.agents.dataset_builder import generate_dataset, report_dataset, validate_dataset
from synthtab.agents.schema_planner import (
    TemplateSearchFactory,
    confirm,
    plan_schema,
    retrieve,
)
from synthtab.agents.vocabulary import fill_vocabularies
from synthtab.agents.workspace import RunPaths
from synthtab.graphs.runner import (
    CancelCheck,
    EventSink,
    RunOutcome,
    execute,
    prepare_out_dir,
)
from synthtab.graphs.state import add_timings
from synthtab.io.errors import InputError
from synthtab.io.writers import write_json
from synthtab.llm import ChatModel
from synthtab.schema.chat_request import ChatRequest


class ChatState(TypedDict, total=False):
    run_id: str
    run_dir: str
    chat: dict[str, Any]  # ChatRequest
    answers: Annotated[list[str], operator.add]
    question_rounds: int
    templates: list[dict[str, Any]]  # name, distance, schema
    proposal: dict[str, Any] | None  # SchemaProposal as the LLM gave it
    schema: dict[str, Any] | None  # the checked Schema
    questions: list[str]
    assumed_questions: list[str]
    stated_counts: dict[str, int]
    planner_notes: list[str]
    generation_problems: list[str]
    replans: int
    llm_calls: int
    generation_round: int
    dataset_check: dict[str, Any]
    next_node: str
    messages: Annotated[list[str], operator.add]
    timings: Annotated[dict[str, float], add_timings]
    status: str
    outputs: dict[str, str]


def _ignore(_: dict[str, Any]) -> None:
    return None


def _never_cancelled() -> bool:
    return False


def _route(state: dict[str, Any]) -> str:
    return END if state["next_node"] == "__end__" else state["next_node"]


def default_template_search() -> Any:
    from synthtab.tools.retrieval import TemplateIndex  # loads an embedding model: import late

    return TemplateIndex()


def build_chat_graph(
    checkpointer: BaseCheckpointSaver | None = None,
    *,
    llm: ChatModel | None = None,
    template_search: TemplateSearchFactory = default_template_search,
) -> CompiledStateGraph:
    """``llm`` is needed to run the graph, not to draw it."""
    graph = StateGraph(ChatState)
    graph.add_node("retriever", partial(retrieve, search_factory=template_search))
    graph.add_node("planner", partial(plan_schema, llm=llm))
    graph.add_node("confirm", confirm)
    graph.add_node("vocabulary", partial(fill_vocabularies, llm=llm))
    graph.add_node("generator", generate_dataset)
    graph.add_node("validator", validate_dataset)
    graph.add_node("reporter", report_dataset)
    graph.add_edge(START, "retriever")
    graph.add_edge("retriever", "planner")
    graph.add_edge("planner", "confirm")
    graph.add_conditional_edges("confirm", _route, ["retriever", "vocabulary", END])
    graph.add_edge("vocabulary", "generator")
    graph.add_conditional_edges("generator", _route, ["validator", "planner"])
    graph.add_conditional_edges("validator", _route, ["generator", "reporter"])
    graph.add_edge("reporter", END)
    return graph.compile(checkpointer=checkpointer)


def prepare_chat(chat: ChatRequest, out_dir: Path, overwrite: bool = False) -> RunPaths:
    prepare_out_dir(out_dir, overwrite)
    paths = RunPaths(run_dir=out_dir)
    paths.work_dir.mkdir(parents=True, exist_ok=True)
    paths.running_marker.write_text("", encoding="utf-8")
    write_json(
        {"run_id": uuid.uuid4().hex[:12], "chat": chat.model_dump(mode="json")}, paths.request
    )
    return paths


def run_chat(
    paths: RunPaths,
    llm: ChatModel,
    events: EventSink = _ignore,
    *,
    answer: Any = None,
    should_cancel: CancelCheck = _never_cancelled,
    template_search: TemplateSearchFactory = default_template_search,
) -> RunOutcome:
    """Start or continue a chat run. Status ``waiting`` means it asks something (the
    ``waiting_for_answer`` event carries the proposal and questions); ``answer`` continues it."""
    if not paths.request.exists() or "chat" not in json.loads(paths.request.read_text()):
        raise InputError(message="not a SynthTab chat run directory", file=str(paths.run_dir))

    def factory(saver: BaseCheckpointSaver) -> CompiledStateGraph:
        return build_chat_graph(saver, llm=llm, template_search=template_search)

    return execute(paths, events, should_cancel=should_cancel, answer=answer, graph_factory=factory)


def chat_mermaid_diagram() -> str:
    return build_chat_graph().get_graph().draw_mermaid()
