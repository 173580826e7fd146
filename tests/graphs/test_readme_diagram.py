from pathlib import Path

from synthtab.graphs.build import mermaid_diagram

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_shows_the_graph_that_is_built() -> None:
    assert mermaid_diagram().strip() in README.read_text(encoding="utf-8")


def test_readme_shows_the_chat_graph_that_is_built() -> None:
    from synthtab.graphs.chat import chat_mermaid_diagram

    assert chat_mermaid_diagram().strip() in README.read_text(encoding="utf-8")
