"""What a differentially private run's report and manifest say about it: how epsilon was spent
step by step, and which parts of the report are internal (measured on the real rows without
noise, so not covered by epsilon and not to be shared as if they were)."""

from __future__ import annotations

from html import escape
from typing import Any

INTERNAL_NOTE = (
    "INTERNAL, NOT COVERED BY EPSILON: the quality and privacy scores, the attack results, the "
    "plots of real training data and the validation counts are measured on the real rows "
    "without noise. They are for whoever already holds the real data; only the synthetic table "
    "(and schema.json) is differentially private."
)
# report.json sections measured on the real rows without noise (the summary states their counts)
INTERNAL_SECTIONS = ("summary", "quality", "quality_history", "privacy", "validation", "repairs")
# manifest.json sections read off the real data without noise (its file's hash and row count)
INTERNAL_MANIFEST_SECTIONS = ("input",)


def privacy_section(dp_budget: dict[str, Any]) -> dict[str, Any]:
    """The manifest's and report.json's ``differential_privacy``: the accountant's summary,
    and which report sections are internal."""
    return {
        **dp_budget,
        "within_budget": dp_budget["spent_epsilon"] <= dp_budget["epsilon"] * (1 + 1e-9)
        and dp_budget["spent_delta"] <= dp_budget["delta"] * (1 + 1e-9),
        "covered_by_epsilon": ["the synthetic table", "schema.json"],
        "internal_not_covered_by_epsilon": list(INTERNAL_SECTIONS)
        + ["report.html plots"]
        + [f"manifest.json {name}" for name in INTERNAL_MANIFEST_SECTIONS],
        "note": INTERNAL_NOTE,
    }


def mark_internal(
    document: dict[str, Any], sections: tuple[str, ...] = INTERNAL_SECTIONS
) -> dict[str, Any]:
    """report.json (or, with its ``sections``, manifest.json) with every internal section
    tagged, so a reader of one section alone sees it too."""
    marked = dict(document)
    for name in sections:
        section = marked.get(name)
        if isinstance(section, dict):
            marked[name] = {"internal_not_covered_by_epsilon": True, **section}
    return marked


def html_banner(section: dict[str, Any]) -> str:
    """A report.html section: the note, and one row per spend."""
    rows = "".join(
        "<tr>"
        f"<td>{spend['step']}</td><td>{escape(str(spend['mechanism']))}</td>"
        f"<td>{escape(str(spend['touched']))}</td><td>{spend['epsilon']:.4g}</td>"
        f"<td>{spend['delta']:.3g}</td>"
        "</tr>"
        for spend in section.get("spends", [])
    )
    return (
        '<section id="differential-privacy"><h2>Differential privacy</h2>'
        f"<p><strong>epsilon spent {section['spent_epsilon']:.4g} of {section['epsilon']:g}, "
        f"delta {section['spent_delta']:.3g} of {section['delta']:.3g}</strong> "
        f"({escape(str(section['composition']))})</p>"
        f'<p class="note"><strong>{escape(INTERNAL_NOTE)}</strong></p>'
        "<table><thead><tr><th>step</th><th>mechanism</th><th>touched</th><th>epsilon</th>"
        f"<th>delta</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def with_banner(html: str, banner: str) -> str:
    """The report with ``banner`` as the first section of its main part."""
    if "<main>" not in html:
        return html.replace("<body>", "<body>" + banner, 1)
    return html.replace("<main>", "<main>" + banner, 1)
