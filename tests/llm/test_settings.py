"""settings_from_env: which backend, and clear errors for values that cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthtab.llm import LLMConfigError, LLMSettings, settings_from_env


def test_no_variables_means_the_embedded_defaults(tmp_path: Path) -> None:
    settings = settings_from_env({"HOME": str(tmp_path)})
    assert settings.backend == "embedded"
    assert settings.model_path is None
    assert settings.threads == 1
    assert settings.timeout_s == 600.0
    assert (settings.temperature, settings.seed) == (0.0, 0)
    assert (settings.context_tokens, settings.batch_tokens) == (8192, 512)


def test_a_base_url_selects_the_openai_backend() -> None:
    settings = settings_from_env(
        {
            "SYNTHTAB_LLM_BASE_URL": "http://127.0.0.1:8080/v1",
            "SYNTHTAB_LLM_MODEL": "qwen",
            "OPENAI_API_KEY": "sk-test",
            "SYNTHTAB_LLM_TIMEOUT": "2.5",
        }
    )
    assert settings.backend == "openai"
    assert (settings.base_url, settings.model, settings.api_key) == (
        "http://127.0.0.1:8080/v1",
        "qwen",
        "sk-test",
    )
    assert settings.timeout_s == 2.5


def test_model_path_and_threads_are_read(tmp_path: Path) -> None:
    settings = settings_from_env(
        {"SYNTHTAB_LLM_MODEL_PATH": str(tmp_path / "m.gguf"), "SYNTHTAB_LLM_THREADS": "2"}
    )
    assert settings.backend == "embedded"
    assert settings.model_path == tmp_path / "m.gguf"
    assert settings.threads == 2


def test_blank_values_count_as_unset() -> None:
    assert settings_from_env({"SYNTHTAB_LLM_BASE_URL": "  "}).backend == "embedded"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SYNTHTAB_LLM_THREADS", "two"),
        ("SYNTHTAB_LLM_THREADS", "0"),
        ("SYNTHTAB_LLM_THREADS", "1.5"),
        ("SYNTHTAB_LLM_TIMEOUT", "-3"),
        ("SYNTHTAB_LLM_TIMEOUT", "soon"),
    ],
)
def test_unusable_numbers_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(LLMConfigError, match=f"{name} must be .* greater than 0, got '{value}'"):
        settings_from_env({name: value})


def test_cache_dir_precedence(tmp_path: Path) -> None:
    explicit = settings_from_env(
        {"SYNTHTAB_CACHE_DIR": str(tmp_path / "a"), "XDG_CACHE_HOME": str(tmp_path / "b")}
    )
    assert explicit.cache_dir == tmp_path / "a"
    xdg = settings_from_env({"XDG_CACHE_HOME": str(tmp_path / "b")})
    assert xdg.cache_dir == tmp_path / "b" / "synthtab"
    assert settings_from_env({}).cache_dir == Path.home() / ".cache" / "synthtab"


def test_settings_are_frozen_values() -> None:
    settings = LLMSettings(backend="embedded")
    with pytest.raises(ValueError):
        settings.threads = 4  # type: ignore[misc]
    assert hash(settings) == hash(LLMSettings(backend="embedded"))
