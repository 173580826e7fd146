"""The run's ``report.html``: one self-contained file, readable offline and safe to mail.

Everything is inline — CSS in a style element, charts drawn here as SVG — so the file makes no
network request and runs no script. Every text that comes from data is escaped. Any section of
``report.json`` may be missing; the page then simply goes without it. Every chart carries a
stable class and data attribute (``svg.column-chart[data-column]``, ``svg.heatmap[data-matrix]``,
``svg.privacy-chart``, ``svg.pca-scatter``) so tools and tests can find them.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from synthtab.schema import Column, SemanticType, Table
from synthtab.tools.encoding import deterministic_sample
from synthtab.tools.fidelity import compare_column
from synthtab.tools.summary import summarize_report, thresholds_of

REAL_COLOUR = "#4c72b0"
SYNTHETIC_COLOUR = "#dd8452"
CHART_WIDTH = 300
CHART_HEIGHT = 150
# charts computed here (no quality section) use a sample: the page must stay quick to build
CHART_SAMPLE_ROWS = 20_000
RISK_GRADES = {"low": "good", "medium": "fair", "high": "poor"}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2933;
background:#f5f7fa;line-height:1.45}
header{background:#1f2933;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#cbd2d9;font-size:13px}
main{padding:16px 32px 48px;max-width:1500px}
section{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:14px 18px;margin:16px 0}
h2{font-size:18px;margin:0 0 10px}
h3{font-size:14px;margin:0 0 4px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f0f4f8}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:10px 0}
.card{border:1px solid #e4e7eb;border-radius:6px;padding:10px 14px;min-width:150px;background:#fafbfc}
.card .label{font-size:12px;color:#52606d}
.card .value{font-size:24px;font-weight:600}
.card .ref{font-size:12px;color:#7b8794}
.good{color:#1b873f}.fair{color:#b7791f}.poor{color:#c53030}.unknown{color:#7b8794}
.status{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600;font-size:13px;
background:#e4e7eb}
.columns{display:grid;grid-template-columns:repeat(auto-fill,minmax(310px,1fr));gap:10px}
.column-card{border:1px solid #e4e7eb;border-radius:6px;padding:8px;background:#fff}
.column-card .meta{font-size:11px;color:#52606d;margin-bottom:2px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:middle}
.heatmaps{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.bar{background:#e4e7eb;width:120px;height:10px;display:inline-block;vertical-align:middle}
.bar i{display:block;height:10px;background:#1b873f}
.note{font-size:12px;color:#52606d}
details{font-size:12px}
code{font-size:12px}
"""


# ---- small helpers ---------------------------------------------------------------------------


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: object, digits: int = 3) -> str:
    if value is None or isinstance(value, bool):
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.{digits}f}"
    return _esc(value)


def _percent(value: object, digits: int = 1) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        return "—"
    return f"{100 * value:.{digits}f}%"


def _grade(score: object) -> str:
    if not isinstance(score, int | float) or isinstance(score, bool):
        return "unknown"
    return "good" if score >= 0.9 else "fair" if score >= 0.75 else "poor"


def _text(value: object) -> str:
    """Any cell value as escaped text; containers as compact JSON."""
    if isinstance(value, Mapping | list | tuple):
        return _esc(json.dumps(value, default=str, ensure_ascii=False))
    if isinstance(value, float):
        return _number(value)
    return _esc(value)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """An HTML table; cells must already be escaped."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(label: str, value: str, grade: str = "unknown", reference: str = "") -> str:
    ref = f'<div class="ref">{reference}</div>' if reference else ""
    return (
        f'<div class="card"><div class="label">{_esc(label)}</div>'
        f'<div class="value {grade}">{value}</div>{ref}</div>'
    )


def _get(mapping: object, *keys: str) -> Any:
    """``mapping[k1][k2]...`` or None when any level is missing."""
    current: Any = mapping
    for key in keys:
        if not isinstance(current, Mapping) or key not in current:
            return None
        current = current[key]
    return current


# ---- charts ----------------------------------------------------------------------------------


def _bar_chart(name: str, labels: list[str], real: list[float], synthetic: list[float]) -> str:
    """Side-by-side real/synthetic bars per label; a hover title per group gives the numbers."""
    width, height = CHART_WIDTH, CHART_HEIGHT
    left, right, top, bottom = 34, 6, 8, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    groups = max(1, len(labels))
    peak = max([*real, *synthetic, 1e-9])
    group_w = plot_w / groups
    bar_w = max(1.0, group_w * 0.4)
    parts = [
        f'<svg class="column-chart" data-column="{_esc(name)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_esc("real vs synthetic: " + name)}">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#9aa5b1"/>',
        f'<text x="{left - 4}" y="{top + 8}" font-size="9" text-anchor="end" fill="#52606d">'
        f"{_percent(peak, 0)}</text>",
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="9" text-anchor="end" '
        'fill="#52606d">0</text>',
    ]
    for i, label in enumerate(labels):
        x0 = left + i * group_w + group_w * 0.1
        real_value = real[i] if i < len(real) else 0.0
        synthetic_value = synthetic[i] if i < len(synthetic) else 0.0
        real_h = plot_h * real_value / peak
        synthetic_h = plot_h * synthetic_value / peak
        title = f"{label}: real {_percent(real_value)}, synthetic {_percent(synthetic_value)}"
        parts.append(
            f"<g><title>{_esc(title)}</title>"
            f'<rect x="{x0:.1f}" y="{top + plot_h - real_h:.1f}" width="{bar_w:.1f}" '
            f'height="{real_h:.1f}" fill="{REAL_COLOUR}"/>'
            f'<rect x="{x0 + bar_w:.1f}" y="{top + plot_h - synthetic_h:.1f}" '
            f'width="{bar_w:.1f}" height="{synthetic_h:.1f}" fill="{SYNTHETIC_COLOUR}"/></g>'
        )
    parts.append(_axis_labels(labels, left, width - right, top + plot_h))
    parts.append("</svg>")
    return "".join(parts)


def _axis_labels(labels: list[str], left: float, right: float, baseline: float) -> str:
    """Every label when few fit, otherwise only the first and last so the axis stays legible."""
    if not labels:
        return ""
    y = baseline + 12
    if len(labels) <= 6:
        group_w = (right - left) / len(labels)
        return "".join(
            f'<text x="{left + (i + 0.5) * group_w:.1f}" y="{y}" font-size="9" '
            f'text-anchor="middle" fill="#52606d">{_esc(_shorten(label, 12))}</text>'
            for i, label in enumerate(labels)
        )
    first, last = _shorten(labels[0], 22), _shorten(labels[-1], 22)
    return (
        f'<text x="{left:.1f}" y="{y}" font-size="9" text-anchor="start" fill="#52606d">'
        f"{_esc(first)}</text>"
        f'<text x="{right:.1f}" y="{y}" font-size="9" text-anchor="end" fill="#52606d">'
        f"{_esc(last)}</text>"
    )


def _placeholder_chart(name: str, message: str) -> str:
    return (
        f'<svg class="column-chart" data-column="{_esc(name)}" width="{CHART_WIDTH}" '
        f'height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" '
        f'aria-label="{_esc(message)}"><rect x="0" y="0" width="{CHART_WIDTH}" '
        f'height="{CHART_HEIGHT}" fill="#f5f7fa"/><text x="{CHART_WIDTH / 2}" '
        f'y="{CHART_HEIGHT / 2}" font-size="11" text-anchor="middle" fill="#7b8794">'
        f"{_esc(message)}</text></svg>"
    )


def _heat_colour(value: float, signed: bool) -> str:
    """Blue for negative, red for positive; white at zero."""
    value = max(-1.0, min(1.0, value)) if signed else max(0.0, min(1.0, value))
    strength = abs(value)
    if value >= 0:
        red, green, blue = 255, int(255 - 180 * strength), int(255 - 200 * strength)
    else:
        red, green, blue = int(255 - 200 * strength), int(255 - 150 * strength), 255
    return f"rgb({red},{green},{blue})"


def _heatmap(
    kind: str, title: str, columns: list[str], matrix: list[list[float]], measures: list[list[Any]]
) -> str:
    n = len(columns)
    cell = max(5.0, min(18.0, 420.0 / max(1, n)))
    label_space = 90 if n <= 40 else 60
    font = max(5.0, min(10.0, cell * 0.7))
    size = label_space + n * cell + 4
    signed = kind != "difference"
    parts = [
        f'<div><h3>{_esc(title)}</h3><svg class="heatmap" data-matrix="{_esc(kind)}" '
        f'width="{size:.0f}" height="{size:.0f}" viewBox="0 0 {size:.0f} {size:.0f}" role="img" '
        f'aria-label="{_esc(title)}">'
    ]
    for i, name in enumerate(columns):
        short = _esc(_shorten(name, 16))
        y = label_space + (i + 0.5) * cell + font / 3
        parts.append(
            f'<text x="{label_space - 3}" y="{y:.1f}" font-size="{font:.1f}" '
            f'text-anchor="end" fill="#52606d">{short}</text>'
        )
        x = label_space + (i + 0.5) * cell + font / 3
        parts.append(
            f'<text x="{x:.1f}" y="{label_space - 3}" font-size="{font:.1f}" '
            f'transform="rotate(-90 {x:.1f} {label_space - 3})" fill="#52606d">{short}</text>'
        )
    for i in range(n):
        for j in range(n):
            value = matrix[i][j] if i < len(matrix) and j < len(matrix[i]) else 0.0
            value = 0.0 if value is None else float(value)
            measure = measures[i][j] if i < len(measures) and j < len(measures[i]) else None
            note = f" ({measure})" if measure else ""
            parts.append(
                f'<rect x="{label_space + j * cell:.1f}" y="{label_space + i * cell:.1f}" '
                f'width="{cell:.1f}" height="{cell:.1f}" fill="{_heat_colour(value, signed)}">'
                f"<title>{_esc(f'{columns[i]} × {columns[j]}: {value:.2f}{note}')}</title></rect>"
            )
    parts.append("</svg></div>")
    return "".join(parts)


def _gauge(share: float) -> str:
    """The DCR share on 0..1, with 0.5 (no closer than unseen real rows) marked."""
    width, height, left, right = 320, 46, 10, 10
    span = width - left - right
    x = left + span * max(0.0, min(1.0, share))
    ideal = left + span * 0.5
    return (
        f'<svg class="privacy-chart" data-chart="dcr-share" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="DCR share {share:.2f}">'
        f'<rect x="{left}" y="14" width="{span}" height="10" fill="#e4e7eb"/>'
        f'<rect x="{ideal - span * 0.05:.1f}" y="14" width="{span * 0.1:.1f}" height="10" '
        'fill="#c6f6d5"/>'
        f'<line x1="{ideal:.1f}" y1="10" x2="{ideal:.1f}" y2="28" stroke="#1b873f"/>'
        f'<circle cx="{x:.1f}" cy="19" r="6" fill="{SYNTHETIC_COLOUR}"/>'
        f'<text x="{left}" y="40" font-size="10" fill="#52606d">0 (farther)</text>'
        f'<text x="{ideal:.1f}" y="40" font-size="10" text-anchor="middle" fill="#1b873f">'
        "0.5 ideal</text>"
        f'<text x="{width - right}" y="40" font-size="10" text-anchor="end" fill="#52606d">'
        "1 (closer)</text></svg>"
    )


def _distance_chart(dcr: Mapping[str, Any]) -> str:
    labels = ["5th percentile", "median"]
    synthetic = [dcr.get("synthetic_to_train_p05"), dcr.get("synthetic_to_train_median")]
    holdout = [dcr.get("holdout_to_train_p05"), dcr.get("holdout_to_train_median")]
    values = [float(v) if isinstance(v, int | float) else 0.0 for v in [*synthetic, *holdout]]
    peak = max([*values, 1e-9])
    width, row_h, left = 320, 18, 110
    height = 2 * (2 * row_h + 8) + 6
    parts = [
        f'<svg class="privacy-chart" data-chart="dcr-distances" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="distance to closest training record">'
    ]
    for i, label in enumerate(labels):
        y = 4 + i * (2 * row_h + 8)
        parts.append(
            f'<text x="{left - 6}" y="{y + row_h}" font-size="10" text-anchor="end" '
            f'fill="#52606d">{_esc(label)}</text>'
        )
        for k, (who, colour, value) in enumerate(
            (("synthetic", SYNTHETIC_COLOUR, values[i]), ("holdout", REAL_COLOUR, values[2 + i]))
        ):
            bar = (width - left - 50) * value / peak
            yy = y + k * row_h
            parts.append(
                f"<g><title>{_esc(f'{who} → train: {value:.3f}')}</title>"
                f'<rect x="{left}" y="{yy}" width="{bar:.1f}" height="{row_h - 3}" '
                f'fill="{colour}"/><text x="{left + bar + 4:.1f}" y="{yy + row_h - 6}" '
                f'font-size="10" fill="#52606d">{value:.3f}</text></g>'
            )
    parts.append("</svg>")
    return "".join(parts)


# ---- sections --------------------------------------------------------------------------------


def _overview(report: Mapping[str, Any]) -> str:
    summary = report.get("summary") if isinstance(report.get("summary"), Mapping) else None
    quality = report.get("quality") if isinstance(report.get("quality"), Mapping) else None
    privacy = report.get("privacy") if isinstance(report.get("privacy"), Mapping) else None
    validation = report.get("validation") if isinstance(report.get("validation"), Mapping) else None
    parts = ['<section id="overview"><h2>Overview</h2>']
    if summary:
        status = summary.get("status")
        if status is not None:
            parts.append(f'<p>Status: <span class="status">{_esc(status)}</span></p>')
        rows = [
            (_esc(key.replace("_", " ")), _text(value))
            for key, value in summary.items()
            if key != "status"
        ]
        parts.append(_table(["", ""], rows, set()))
    cards: list[str] = []
    if quality:
        reference = quality.get("holdout_reference") or {}
        for label, key in (
            ("Overall fidelity", "overall_score"),
            ("Column shapes", "column_shape_score"),
            ("Pair trends", "pair_trend_score"),
        ):
            value = quality.get(key)
            ref = reference.get(key) if isinstance(reference, Mapping) else None
            cards.append(
                _card(
                    label,
                    _number(value),
                    _grade(value),
                    f"holdout reference {_number(ref)}" if ref is not None else "",
                )
            )
        utility = quality.get("utility")
        if isinstance(utility, Mapping) and utility.get("status") == "ok":
            primary = next(
                (
                    s
                    for s in utility.get("scores", [])
                    if s.get("metric") == utility.get("primary_metric")
                ),
                {},
            )
            cards.append(
                _card(
                    f"TSTR {utility.get('primary_metric', '')} ratio",
                    _number(utility.get("ratio")),
                    _grade(utility.get("ratio")),
                    f"synthetic {_number(primary.get('synthetic'))} / real "
                    f"{_number(primary.get('real'))}",
                )
            )
    if privacy:
        share = privacy.get("dcr_share")
        grade = (
            RISK_GRADES.get(str(privacy.get("risk")), "unknown") if share is not None else "unknown"
        )
        cards.append(_card("DCR share", _number(share, 2), grade, "ideal 0.5"))
        cards.append(
            _card("Exact copies removed", _number(privacy.get("exact_copies_removed")), "unknown")
        )
    if validation:
        rows_checked = validation.get("rows") or 0
        violating = validation.get("violating_rows") or 0
        compliance = 1.0 if not rows_checked else 1.0 - violating / rows_checked
        cards.append(
            _card(
                "Rows compliant",
                _percent(compliance, 2),
                "good" if compliance >= 1.0 else "poor",
                f"{_number(violating)} violating of {_number(rows_checked)}",
            )
        )
    if cards:
        parts.append(f'<div class="cards">{"".join(cards)}</div>')
    if not (summary or cards):
        parts.append('<p class="note">No run summary in this report.</p>')
    parts.append("</section>")
    return "".join(parts)


def _column_chart(
    column: Column,
    stored: Mapping[str, Any] | None,
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
) -> tuple[str, str]:
    """(metadata line, chart) for one column: the stored plot data, else computed from the frames."""
    name = column.name
    if stored is not None and isinstance(stored.get("plot"), Mapping):
        plot = stored["plot"]
        return (
            f"{_esc(stored.get('metric', ''))} score {_number(stored.get('score'))}",
            _bar_chart(
                name, list(plot.get("labels", [])), plot.get("real", []), plot.get("synthetic", [])
            ),
        )
    missing = [
        who for who, frame in (("real", real), ("synthetic", synthetic)) if name not in frame
    ]
    if missing:
        return "", _placeholder_chart(name, f"column missing from {' and '.join(missing)} data")
    if column.semantic == SemanticType.empty:
        share = synthetic[name].isna().mean() if len(synthetic) else 1.0
        return "", _placeholder_chart(name, f"empty in real data; synthetic {_percent(share)} null")
    computed = compare_column(real[name], synthetic[name], column)
    return (
        f"{computed.metric} score {_number(computed.score)}",
        _bar_chart(name, computed.plot.labels, computed.plot.real, computed.plot.synthetic),
    )


def _columns_section(
    report: Mapping[str, Any], real: pd.DataFrame, synthetic: pd.DataFrame, table: Table
) -> str:
    stored = {
        str(c.get("column")): c
        for c in _get(report, "quality", "columns") or []
        if isinstance(c, Mapping)
    }
    reference_scores = _get(report, "quality", "holdout_reference", "column_scores") or {}
    shown = [c for c in table.columns if c.semantic != SemanticType.id]
    needs_frames = any(c.name not in stored for c in shown)
    if needs_frames:
        real = deterministic_sample(real, CHART_SAMPLE_ROWS, 0)
        synthetic = deterministic_sample(synthetic, CHART_SAMPLE_ROWS, 1)
    cards = []
    for column in shown:
        meta, chart = _column_chart(column, stored.get(column.name), real, synthetic)
        reference = (
            reference_scores.get(column.name) if isinstance(reference_scores, Mapping) else None
        )
        if reference is not None:
            meta += f" · holdout {_number(reference)}"
        cards.append(
            f'<div class="column-card"><h3>{_esc(column.name)}</h3>'
            f'<div class="meta">{_esc(column.semantic.value)}'
            f"{' · ' + meta if meta else ''}</div>{chart}</div>"
        )
    ids = [c.name for c in table.columns if c.semantic == SemanticType.id]
    legend = (
        f'<p class="legend"><span style="background:{REAL_COLOUR}"></span>real'
        f'<span style="background:{SYNTHETIC_COLOUR}"></span>synthetic '
        '<span class="note" style="width:auto;background:none">bars are fractions of all rows; '
        "hover a bar for the numbers</span></p>"
    )
    id_note = (
        f'<p class="note">Identifier columns not compared: {_esc(", ".join(ids))}</p>'
        if ids
        else ""
    )
    return (
        f'<section id="columns"><h2>Columns: real vs synthetic ({len(shown)})</h2>{legend}'
        f'{id_note}<div class="columns">{"".join(cards)}</div></section>'
    )


def _correlation_section(quality: Mapping[str, Any]) -> str:
    correlation = quality.get("correlation")
    if not isinstance(correlation, Mapping) or not correlation.get("columns"):
        return ""
    columns = [str(c) for c in correlation["columns"]]
    measures = correlation.get("measures") or []
    maps = "".join(
        _heatmap(kind, title, columns, correlation.get(kind) or [], measures)
        for kind, title in (
            ("real", "Real"),
            ("synthetic", "Synthetic"),
            ("difference", "|Difference| (scaled to 0–1)"),
        )
    )
    dropped = correlation.get("dropped_columns") or []
    dropped_note = (
        f'<p class="note">{len(dropped)} further columns left out of the matrices for '
        f"readability: {_esc(', '.join(map(str, dropped)))}</p>"
        if dropped
        else ""
    )
    return (
        '<section id="correlations"><h2>Pair trends</h2>'
        f"<p>Score {_number(correlation.get('score'))} (1 − mean |difference| "
        f"{_number(correlation.get('mean_absolute_difference'))}). Pearson for two numbers "
        "(blue negative, red positive), Cramér's V for two categories, correlation ratio for a "
        f'mixed pair.</p>{dropped_note}<div class="heatmaps">{maps}</div></section>'
    )


def _utility_section(quality: Mapping[str, Any]) -> str:
    utility = quality.get("utility")
    if not isinstance(utility, Mapping):
        return ""
    parts = [
        '<section id="utility"><h2>Machine-learning utility (train on synthetic, test on real)</h2>',
        f"<p>Target <code>{_esc(utility.get('target'))}</code>, task "
        f"{_esc(utility.get('task') or '—')}, model {_esc(utility.get('model', ''))}; "
        f"{_number(utility.get('train_rows_real'))} real and "
        f"{_number(utility.get('train_rows_synthetic'))} synthetic training rows, scored on "
        f"{_number(utility.get('holdout_rows'))} holdout rows.</p>",
    ]
    scores = [s for s in utility.get("scores") or [] if isinstance(s, Mapping)]
    if scores:
        rows = [
            (
                _esc(s.get("metric")),
                _number(s.get("real")),
                _number(s.get("synthetic")),
                _number(s.get("ratio")),
            )
            for s in scores
        ]
        parts.append(
            _table(["metric", "trained on real", "trained on synthetic", "ratio"], rows, {1, 2, 3})
        )
    parts.append(_families_table(utility))
    notes = utility.get("notes") or []
    if notes:
        parts.append("<ul>" + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>")
    parts.append("</section>")
    return "".join(parts)


def _quality_notes(quality: Mapping[str, Any]) -> str:
    items = [_esc(note) for note in quality.get("notes") or []]
    sample = quality.get("sample_rows")
    if isinstance(sample, Mapping):
        sizes = ", ".join(f"{_esc(k)} {_number(v)}" for k, v in sample.items())
        items.insert(0, f"Rows assessed: {sizes}.")
    if not items:
        return ""
    listed = "".join(f"<li>{item}</li>" for item in items)
    return (
        '<section id="quality-notes"><h2>How quality was measured</h2>'
        f'<ul class="note">{listed}</ul></section>'
    )


def _privacy_section(privacy: Mapping[str, Any]) -> str:
    parts = ['<section id="privacy"><h2>Privacy</h2>']
    if privacy.get("verdict"):
        parts.append(
            f'<p><span class="status">risk: {_esc(privacy.get("risk", "—"))}</span> '
            f"{_esc(privacy['verdict'])}</p>"
        )
    rows = [
        ("Exact copies removed", _number(privacy.get("exact_copies_removed"))),
        ("Exact copy rate (synthetic vs train)", _percent(privacy.get("exact_copy_rate"), 2)),
        ("Natural copy rate (holdout vs train)", _percent(privacy.get("natural_copy_rate"), 2)),
        ("DCR share (0.5 ideal)", _number(privacy.get("dcr_share"))),
    ]
    dcr = privacy.get("dcr")
    if isinstance(dcr, Mapping):
        rows += [
            ("DCR share standard error", _number(dcr.get("share_standard_error"))),
            (
                "Synthetic rows / reference rows",
                f"{_number(dcr.get('synthetic_rows'))} / {_number(dcr.get('reference_rows'))}",
            ),
            ("Distance", _esc(dcr.get("distance", ""))),
        ]
    parts.append(_table(["figure", "value"], rows, set()))
    charts = []
    if isinstance(privacy.get("dcr_share"), int | float):
        charts.append(_gauge(float(privacy["dcr_share"])))
    if isinstance(dcr, Mapping):
        charts.append(_distance_chart(dcr))
    if charts:
        parts.append(
            '<div class="heatmaps">' + "".join(f"<div>{c}</div>" for c in charts) + "</div>"
            f'<p class="legend"><span style="background:{SYNTHETIC_COLOUR}"></span>synthetic → '
            f'train<span style="background:{REAL_COLOUR}"></span>holdout → train</p>'
        )
    parts.extend(_privacy_detail_tables(privacy))
    parts.append("</section>")
    return "".join(parts)


def _privacy_detail_tables(privacy: Mapping[str, Any]) -> list[str]:
    """The attacks, the protections applied before training, and the policy's rounds."""
    parts: list[str] = []
    attacks = privacy.get("attacks")
    results = attacks.get("results") if isinstance(attacks, Mapping) else None
    if results:
        rows = [
            (
                _esc(r.get("attack", "")) + (f" ({_esc(r['column'])})" if r.get("column") else ""),
                _percent(r.get("target_rate")),
                _percent(r.get("control_rate")),
                f"{_number(r.get('risk'))} [{_number(r.get('risk_low'))}, "
                f"{_number(r.get('risk_high'))}]",
                _esc(r.get("level", "")),
                _esc(r.get("verdict", "")),
            )
            for r in results
            if isinstance(r, Mapping)
        ]
        parts.append('<h3 id="privacy-attacks">Attacks against the real holdout</h3>')
        parts.append(
            _table(
                [
                    "attack",
                    "on training rows",
                    "on unseen rows",
                    "risk [95% CI]",
                    "level",
                    "verdict",
                ],
                rows,
                {1, 2},
            )
        )
    rounds = [p for p in privacy.get("protection") or [] if isinstance(p, Mapping)]
    actions = [a for p in rounds for a in p.get("actions") or [] if isinstance(a, Mapping)]
    if actions:
        parts.append('<h3 id="privacy-protection">Protection applied to the training rows</h3>')
        parts.append(
            _table(
                ["column", "action", "values changed", "detail"],
                [
                    (
                        _esc(a.get("column", "")),
                        _esc(a.get("action", "")),
                        _number(a.get("values_changed")),
                        _esc(a.get("detail", "")),
                    )
                    for a in actions
                ],
                {2},
            )
        )
    policy = [p for p in privacy.get("policy") or [] if isinstance(p, Mapping)]
    if policy:
        parts.append('<h3 id="privacy-policy">Privacy policy rounds</h3>')
        parts.append(
            _table(
                ["round", "action", "reason", "changes"],
                [
                    (
                        _number(p.get("round")),
                        _esc(p.get("action", "")),
                        _esc(p.get("reason", "")),
                        _esc(p.get("changes", "")),
                    )
                    for p in policy
                ],
                {0},
            )
        )
    return parts


def _validation_section(validation: Mapping[str, Any]) -> str:
    checks = [c for c in validation.get("checks") or [] if isinstance(c, Mapping)]
    parts = [
        '<section id="validation"><h2>Rules and constraints</h2>',
        f"<p>{_number(validation.get('violating_rows'))} violating rows of "
        f"{_number(validation.get('rows'))} delivered; {len(checks)} checks.</p>",
    ]
    rows = []
    for check in checks:
        checked = check.get("checked_rows") or 0
        violations = check.get("violations") or 0
        compliance = check.get("compliance")
        if not isinstance(compliance, int | float):
            compliance = 1.0 if not checked else 1.0 - violations / checked
        examples = check.get("example_rows") or []
        example_html = (
            f"<details><summary>{len(examples)} example(s)</summary><code>"
            + "<br>".join(_text(e) for e in examples[:5])
            + "</code></details>"
            if examples
            else ""
        )
        bar = f'<span class="bar"><i style="width:{100 * max(0.0, min(1.0, compliance)):.1f}%"></i></span>'
        rows.append(
            (
                _esc(check.get("name", "")),
                _esc(check.get("kind", "")),
                _esc(", ".join(map(str, check.get("columns") or []))),
                _number(checked),
                _number(violations),
                f"{bar} {_percent(compliance, 2)}",
                example_html,
            )
        )
    if rows:
        parts.append(
            _table(
                [
                    "check",
                    "kind",
                    "columns",
                    "rows checked",
                    "violations",
                    "compliance",
                    "examples",
                ],
                rows,
                {3, 4},
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _iterations_section(iterations: list[Any]) -> str:
    records = [i for i in iterations if isinstance(i, Mapping)]
    keys: list[str] = []
    for record in records:
        keys.extend(k for k in record if k not in keys)
    rows = [[_text(record.get(k, "")) for k in keys] for record in records]
    return (
        '<section id="iterations"><h2>Iterations</h2>'
        + (_table(keys, rows, set()) if records else '<p class="note">No iterations recorded.</p>')
        + "</section>"
    )


def _messages_section(messages: list[Any]) -> str:
    items = "".join(f"<li>{_esc(m)}</li>" for m in messages)
    return f'<section id="messages"><h2>Messages</h2><ul>{items}</ul></section>'


# ---- scorecard, summary, PCA, model families, feedback ---------------------------------------------

PCA_SIZE = 320


def _summary_section(report: Mapping[str, Any]) -> str:
    text = report.get("plain_summary")
    source = report.get("summary_source")
    if not isinstance(text, str) or not text:
        text, source = summarize_report(report), "template"
    if source == "llm":
        model = report.get("summary_model")
        origin = (
            f"Written by the LLM{f' ({_esc(model)})' if model else ''}; every number and verdict "
            "in it was checked against this report."
        )
    else:
        origin = "Written from a deterministic template: every number is read from this report."
        rejections = [r for r in report.get("summary_rejections") or [] if isinstance(r, str)]
        if rejections:
            origin += " The LLM's draft was not used: " + _esc(_shorten("; ".join(rejections), 300))
    return (
        f'<section id="summary"><h2>In plain words</h2><p>{_esc(text)}</p>'
        f'<p class="note" id="summary-source">Source: {_esc(source or "template")}. {origin}</p>'
        "</section>"
    )


def _verdict(value: object, threshold: float | None, higher_is_better: bool = True) -> str:
    if threshold is None or not isinstance(value, int | float):
        return '<span class="unknown">—</span>'
    passed = value >= threshold if higher_is_better else value <= threshold
    return '<span class="good">pass</span>' if passed else '<span class="poor">fail</span>'


def _scorecard_section(quality: Mapping[str, Any], thresholds: Mapping[str, float]) -> str:
    """Every headline metric against its holdout ceiling and its threshold."""
    reference = _get(quality, "holdout_reference") or {}
    if not isinstance(reference, Mapping):
        reference = {}
    detection = _get(quality, "detection") or {}
    utility = _get(quality, "utility") or {}
    ours = _get(quality, "sdmetrics_compatible") or {}
    ref_ours = _get(reference, "sdmetrics_compatible") or {}
    rows_spec: list[tuple[str, object, object, float | None, str]] = [
        (
            "Overall fidelity",
            quality.get("overall_score"),
            reference.get("overall_score"),
            thresholds["overall_score"],
            "mean of column shapes and pair trends",
        ),
        (
            "Column shapes",
            quality.get("column_shape_score"),
            reference.get("column_shape_score"),
            thresholds["column_shape_score"],
            "1 − KS (numbers, dates) or 1 − TVD (categories)",
        ),
        (
            "Pair trends",
            quality.get("pair_trend_score"),
            reference.get("pair_trend_score"),
            thresholds["pair_trend_score"],
            "1 − mean |association difference|",
        ),
        (
            "Contingency similarity",
            _get(quality, "correlation", "contingency_similarity"),
            reference.get("contingency_similarity"),
            None,
            "categorical pairs: 1 − joint TVD",
        ),
        (
            "PCA variance profile",
            _get(quality, "pca", "score"),
            reference.get("pca_score"),
            None,
            "1 − ½ Σ|explained-variance-ratio difference|",
        ),
        (
            "Missing-value patterns",
            _get(quality, "missing_patterns", "score"),
            reference.get("missing_pattern_score"),
            None,
            "1 − TVD of row-wise null patterns",
        ),
        (
            "Detection score",
            detection.get("score") if isinstance(detection, Mapping) else None,
            None,
            thresholds["detection_score"],
            f"1 − 2|AUC − 0.5|; AUC {_number(_get(detection, 'auc'))}, "
            f"holdout AUC {_number(_get(detection, 'holdout_auc'))}",
        ),
        (
            "TSTR ratio",
            _get(utility, "ratio"),
            1.0,
            thresholds["tstr_ratio"],
            f"{_esc(_get(utility, 'primary_metric') or '')} synthetic / real",
        ),
        (
            "SDMetrics Column Shapes",
            _get(ours, "column_shapes"),
            _get(ref_ours, "column_shapes"),
            None,
            "SDMetrics 0.32 definition (nulls dropped)",
        ),
        (
            "SDMetrics Column Pair Trends",
            _get(ours, "column_pair_trends"),
            _get(ref_ours, "column_pair_trends"),
            None,
            "SDMetrics 0.32 definition",
        ),
    ]
    rows = [
        (
            _esc(label),
            f'<span class="{_grade(value)}">{_number(value)}</span>',
            _number(ceiling),
            _number(threshold) if threshold is not None else "—",
            _verdict(value, threshold),
            _esc(how) if "AUC" not in how else how,
        )
        for label, value, ceiling, threshold, how in rows_spec
        if value is not None
    ]
    parts = [
        '<section id="scorecard"><h2>Scores against their ceilings</h2>',
        '<p class="note">The holdout ceiling is the same metric for real rows the model never saw '
        "against the real training rows: what sampling noise alone allows.</p>",
        _table(["metric", "synthetic", "holdout ceiling", "threshold", "", "how"], rows, {1, 2, 3}),
    ]
    sampling = quality.get("sampling")
    if sampling:
        parts.append(f'<p class="note">Rows used: {_esc(sampling)}.</p>')
    columns = [c for c in quality.get("columns") or [] if isinstance(c, Mapping)]
    if columns:
        column_rows = [
            (
                _esc(c.get("column")),
                _number(c.get("score")),
                _number(c.get("ks")),
                _number(c.get("tvd")),
                _number(c.get("jensen_shannon")),
                _number(c.get("wasserstein")),
                _number(_get(reference, "column_scores", str(c.get("column")))),
            )
            for c in columns
        ]
        parts.append(
            "<details><summary>Per-column distances</summary>"
            + _table(
                [
                    "column",
                    "score",
                    "KS",
                    "TVD",
                    "Jensen-Shannon",
                    "Wasserstein / range",
                    "holdout score",
                ],
                column_rows,
                {1, 2, 3, 4, 5, 6},
            )
            + "</details>"
        )
    patterns = _get(quality, "missing_patterns", "patterns") or []
    if patterns:
        pattern_rows = [
            (
                _esc(", ".join(p.get("columns") or []) or "(no nulls)"),
                _percent(p.get("real")),
                _percent(p.get("synthetic")),
            )
            for p in patterns
            if isinstance(p, Mapping)
        ]
        parts.append(
            "<details><summary>Missing-value patterns</summary>"
            + _table(["null in", "real", "synthetic"], pattern_rows, {1, 2})
            + "</details>"
        )
    parts.append("</section>")
    return "".join(parts)


def _pca_scatter(pca: Mapping[str, Any]) -> str:
    real = [p for p in pca.get("real_points") or [] if isinstance(p, list) and len(p) == 2]
    synthetic = [
        p for p in pca.get("synthetic_points") or [] if isinstance(p, list) and len(p) == 2
    ]
    points = real + synthetic
    if not points:
        return _placeholder_chart("pca", "no points")
    xs = sorted(float(p[0]) for p in points)
    ys = sorted(float(p[1]) for p in points)

    def quantile(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * (len(values) - 1)))]

    # 1-99% bounds so a few far points do not squash the cloud
    x0, x1 = quantile(xs, 0.01), quantile(xs, 0.99)
    y0, y1 = quantile(ys, 0.01), quantile(ys, 0.99)
    x1, y1 = (x1 if x1 > x0 else x0 + 1.0), (y1 if y1 > y0 else y0 + 1.0)
    pad, size = 16, PCA_SIZE

    def place(p: list[float]) -> tuple[float, float]:
        x = pad + (min(max(float(p[0]), x0), x1) - x0) / (x1 - x0) * (size - 2 * pad)
        y = size - pad - (min(max(float(p[1]), y0), y1) - y0) / (y1 - y0) * (size - 2 * pad)
        return x, y

    dots = [
        f'<circle class="pca-{kind}" cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{colour}" '
        'fill-opacity="0.55"/>'
        for kind, colour, group in (
            ("real", REAL_COLOUR, real),
            ("synthetic", SYNTHETIC_COLOUR, synthetic),
        )
        for x, y in map(place, group)
    ]
    return (
        f'<svg class="pca-scatter" width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
        'role="img" aria-label="real and synthetic rows on the real data\'s first two principal '
        f'components"><rect x="0" y="0" width="{size}" height="{size}" fill="#fafbfc" '
        f'stroke="#e4e7eb"/>{"".join(dots)}</svg>'
    )


def _pca_section(quality: Mapping[str, Any]) -> str:
    pca = quality.get("pca")
    if not isinstance(pca, Mapping):
        return ""
    real = pca.get("real_explained") or []
    synthetic = pca.get("synthetic_explained") or []
    labels = [f"PC{i + 1}" for i in range(len(real))]
    # the same bars as a column's chart, under a class of its own so it is not taken for one
    variance_chart = _bar_chart("explained variance", labels, list(real), list(synthetic)).replace(
        'class="column-chart"', 'class="pca-variance-chart"', 1
    )
    return (
        '<section id="pca"><h2>Principal components</h2>'
        f"<p>Score {_number(pca.get('score'))}: how alike the shares of variance along the "
        "principal components are. Left: rows projected on the real data's first two components."
        '</p><div class="heatmaps">'
        f"<div>{_pca_scatter(pca)}</div>"
        f"<div>{variance_chart}</div></div>"
        f'<p class="legend"><span style="background:{REAL_COLOUR}"></span>real'
        f'<span style="background:{SYNTHETIC_COLOUR}"></span>synthetic</p></section>'
    )


def _families_table(utility: Mapping[str, Any]) -> str:
    families = [f for f in utility.get("families") or [] if isinstance(f, Mapping)]
    if not families:
        return ""
    rows = [
        (
            _esc(f.get("model")),
            _esc(f.get("metric")),
            _number(f.get("tstr")),
            _number(f.get("trtr")),
            _number(f.get("trts")),
            _number(f.get("ratio")),
        )
        for f in families
    ]
    correlation = utility.get("feature_importance_correlation")
    return (
        "<h3>Three model families</h3>"
        + _table(
            [
                "model",
                "metric",
                "TSTR (synthetic → holdout)",
                "TRTR (real → holdout)",
                "TRTS (real → synthetic)",
                "TSTR / TRTR",
            ],
            rows,
            {2, 3, 4, 5},
        )
        + f"<p>Feature-importance rank correlation (random forest, real vs synthetic): "
        f"{_number(correlation)}.</p>"
    )


def _adjustment_text(adjustments: object) -> str:
    """'tool: why' for each adjustment, escaped."""
    if not isinstance(adjustments, list):
        return ""
    return "; ".join(
        f"{_esc(a.get('tool'))}: {_esc(a.get('why', ''))}"
        for a in adjustments
        if isinstance(a, Mapping)
    )


def _merit_of(record: Mapping[str, Any]) -> float | None:
    value = record.get("merit", record.get("overall"))
    return float(value) if isinstance(value, int | float) else None


def _feedback_triggers(report: Mapping[str, Any]) -> str:
    limits = report.get("feedback_thresholds")
    if not isinstance(limits, Mapping):
        return ""
    return (
        "<p>Feedback is sent when any one of these misses: overall fidelity at least "
        f"{_number(limits.get('overall_score'))}, detection AUC at most "
        f"{_number(limits.get('detection_auc'))}, TSTR ratio at least "
        f"{_number(limits.get('tstr_ratio'))}.</p>"
    )


def _feedback_section(report: Mapping[str, Any]) -> str:
    """Every quality round: what made it (the adjustment and the round it started from), its
    scores, its merit against the round it started from, and what was sent after it."""
    history = [h for h in report.get("quality_history") or [] if isinstance(h, Mapping)]
    if not history:
        return ""
    by_round = {h.get("quality_round"): h for h in history}
    delivered = report.get("quality_round_delivered")
    rows = []
    for index, record in enumerate(history):
        # the round it started from, as the assessor recorded it (older reports: the one before)
        if "from_round" in record:
            base = by_round.get(record["from_round"])
        else:
            base = history[index - 1] if index > 0 else None
        merit, base_merit = _merit_of(record), _merit_of(base) if base else None
        change = (
            f"{merit - base_merit:+.3f}" if merit is not None and base_merit is not None else "—"
        )
        made_by = _adjustment_text(record.get("applied"))
        if made_by and base is not None:
            made_by += f" (from round {_number(base.get('quality_round'))})"
        choice = record.get("model_choice") or {}
        failing = record.get("failing")
        is_delivered = delivered is not None and record.get("quality_round") == delivered
        rows.append(
            (
                _number(record.get("quality_round"))
                + (' <span class="good">delivered</span>' if is_delivered else ""),
                made_by or ("first fit" if index == 0 else "—"),
                _esc(choice.get("name", "") if isinstance(choice, Mapping) else ""),
                _number(record.get("overall")),
                _number(record.get("pair_trends")),
                _number(record.get("detection_auc")),
                _number(record.get("tstr_ratio")),
                _number(record.get("merit")),
                change,
                _esc(", ".join(map(str, failing)) if isinstance(failing, list) and failing else "—")
                if "failing" in record
                else "—",
                (_adjustment_text(record.get("adjustments")) or "—")
                + (
                    f' <span class="note">(chosen by {_esc(record.get("chosen_by"))})</span>'
                    if record.get("chosen_by")
                    else ""
                ),
            )
        )
    return (
        '<section id="feedback"><h2>Feedback rounds</h2>'
        "<p>Each row is one assessment. Merit is the mean of overall fidelity, the detection score "
        "(1 − 2|AUC − 0.5|) and the TSTR ratio (capped at 1); the change is the merit's "
        "difference from the round this one started from. Every round after the first starts "
        "from the best round so far; an adjustment that lowered the merit is not tried again, "
        "and the best round is delivered.</p>"
        + _feedback_triggers(report)
        + _table(
            [
                "round",
                "made by",
                "model",
                "overall fidelity",
                "pair trends",
                "detection AUC",
                "TSTR ratio",
                "merit",
                "change",
                "failing",
                "adjustments sent after it",
            ],
            rows,
            {3, 4, 5, 6, 7, 8},
        )
        + "</section>"
    )


# ---- the page --------------------------------------------------------------------------------


def render_report_html(
    report: Mapping[str, Any], real: pd.DataFrame, synthetic: pd.DataFrame, table: Table
) -> str:
    """The whole report as one HTML document (no scripts, no external resources)."""
    summary = report.get("summary") if isinstance(report.get("summary"), Mapping) else {}
    dataset = summary.get("dataset") or table.name
    quality = report.get("quality") if isinstance(report.get("quality"), Mapping) else None
    privacy = report.get("privacy") if isinstance(report.get("privacy"), Mapping) else None
    validation = report.get("validation") if isinstance(report.get("validation"), Mapping) else None
    iterations = report.get("iterations") if isinstance(report.get("iterations"), list) else None
    messages = report.get("messages") if isinstance(report.get("messages"), list) else None

    sections = [_overview(report), _summary_section(report)]
    if quality:
        sections.append(_scorecard_section(quality, thresholds_of(report)))
        sections.append(_quality_notes(quality))
    if validation:
        sections.append(_validation_section(validation))
    sections.append(_columns_section(report, real, synthetic, table))
    if quality:
        sections.append(_correlation_section(quality))
        sections.append(_pca_section(quality))
        sections.append(_utility_section(quality))
    if privacy:
        sections.append(_privacy_section(privacy))
    sections.append(_feedback_section(report))
    if iterations is not None:
        sections.append(_iterations_section(iterations))
    if messages:
        sections.append(_messages_section(messages))
    subtitle = (
        f"{_number(len(real))} real rows · {_number(len(synthetic))} synthetic rows · "
        f"{len(table.columns)} columns"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>SynthTab report: {_esc(dataset)}</title><style>{CSS}</style></head>"
        f"<body><header><h1>SynthTab report: {_esc(dataset)}</h1><p>{subtitle}</p></header>"
        f"<main>{''.join(sections)}</main></body></html>\n"
    )
