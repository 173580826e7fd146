"""An invalid value for a `synthtab generate` flag is reported by the flag's name, the value and
the allowed range, with a non-zero exit and none of pydantic's own text."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from synthtab.app import EXIT_INPUT_ERROR, main
from synthtab.schema.request import CLI_FLAGS, GenerationRequest, explain_request_error


def test_a_negative_rare_k_names_the_flag_and_the_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "t.csv"
    source.write_text("a,b\n1,x\n2,y\n")
    code = main(["generate", str(source), "--out", str(tmp_path / "run"), "--rare-k", "-1"])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT_ERROR
    assert "--rare-k -1: must be an integer >= 0" in err
    assert "pydantic" not in err and "validation error" not in err
    assert not (tmp_path / "run").exists()


def test_every_problem_is_one_line_and_every_flag_is_a_request_field() -> None:
    assert set(CLI_FLAGS) <= set(GenerationRequest.model_fields)
    with pytest.raises(ValidationError) as invalid:
        GenerationRequest(source="t.csv", delta=0.5, holdout_fraction=0.0, rows=0)
    message = explain_request_error(invalid.value)
    assert "--delta 0.5: must be a number > 0 and < 0.01" in message
    assert "--holdout-fraction 0.0: must be a number > 0 and < 0.9" in message
    assert "--rows 0: must be an integer >= 1" in message
    with pytest.raises(ValidationError) as invalid:
        GenerationRequest(source="t.csv", model="argn", epsilon=1.0)
    assert explain_request_error(invalid.value).startswith("--model argn cannot run under")


def test_an_invalid_chat_request_names_the_option_and_shortens_the_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["chat", "x" * 9000, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT_ERROR
    assert (
        "the request 'xxxx" in err and "(9,002 characters): string should have at most 8000" in err
    )
    assert len(err) < 400 and "validation error" not in err
    assert not (tmp_path / "out").exists()
