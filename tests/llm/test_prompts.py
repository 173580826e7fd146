"""render_prompt: templates from synthtab/prompts, strict about missing values."""

from __future__ import annotations

import pytest

from synthtab.llm import PromptError, prompt_names, render_prompt


def test_a_prompt_is_filled_with_its_values() -> None:
    text = render_prompt("schema_sketch", request="customers and orders")
    assert "Request: customers and orders" in text
    assert "{{" not in text


def test_loops_render_one_line_per_item() -> None:
    text = render_prompt("fix_output", problems=["age: too big", "name: missing"])
    assert "- age: too big\n- name: missing" in text


def test_a_missing_value_is_an_error_not_a_hole() -> None:
    with pytest.raises(PromptError, match="'request' is undefined"):
        render_prompt("schema_sketch")


def test_unknown_and_unsafe_names_are_refused() -> None:
    with pytest.raises(PromptError, match="no prompt named 'nope'.*schema_sketch"):
        render_prompt("nope")
    with pytest.raises(PromptError, match="not a prompt name"):
        render_prompt("../README")


def test_the_shipped_prompts_are_listed() -> None:
    assert {"choose_tool", "fix_output", "json_reply", "schema_sketch"} <= set(prompt_names())
