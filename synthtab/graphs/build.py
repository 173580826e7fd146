"""The run graph: planner -> profiler -> privacy_pre -> generator -> validator -> privacy ->
assessor -> reporter, with feedback edges from validator, privacy and assessor back to the generator.

The privacy node runs before the assessor so that quality is measured on exactly the rows that
will be delivered (exact copies already removed)."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from synthtab.agents.assessor import assess
from synthtab.agents.generator import generate
from synthtab.agents.planner import plan
from synthtab.agents.privacy import privacy_pre, protect
from synthtab.agents.profiler import profile
from synthtab.agents.reporter import report
from synthtab.agents.validator import validate
from synthtab.graphs.state import RunState

NODES = (
    "planner",
    "profiler",
    "privacy_pre",
    "generator",
    "validator",
    "privacy",
    "assessor",
    "reporter",
)


def route(state: dict[str, Any]) -> str:
    return state["next_node"]


def build_graph(checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    graph = StateGraph(RunState)
    graph.add_node("planner", plan)
    graph.add_node("profiler", profile)
    graph.add_node("privacy_pre", privacy_pre)
    graph.add_node("generator", generate)
    graph.add_node("validator", validate)
    graph.add_node("privacy", protect)
    graph.add_node("assessor", assess)
    graph.add_node("reporter", report)
    graph.add_edge(START, "planner")
    graph.add_edge("planner", "profiler")
    graph.add_edge("profiler", "privacy_pre")
    graph.add_edge("privacy_pre", "generator")
    graph.add_edge("generator", "validator")
    graph.add_conditional_edges("validator", route, ["generator", "privacy"])
    graph.add_conditional_edges("privacy", route, ["generator", "assessor"])
    graph.add_conditional_edges("assessor", route, ["generator", "reporter"])
    graph.add_edge("reporter", END)
    return graph.compile(checkpointer=checkpointer)


def mermaid_diagram() -> str:
    return build_graph().get_graph().draw_mermaid()
