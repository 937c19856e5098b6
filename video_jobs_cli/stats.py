"""``GET /video/stats`` as a table: one row per metric, one indented row per dimension value."""

from __future__ import annotations

from typing import Any

COLUMNS = ("count", "sum", "p50", "p95", "max")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def stats_lines(stats: dict[str, Any]) -> list[str]:
    """The table's lines, led by the window and whose numbers they are."""
    whose = "every tenant" if stats.get("tenant") is None else f"tenant {stats['tenant']}"
    lines = [f"last {stats['minutes']} minutes ({whose})"]
    metrics: dict[str, dict[str, Any]] = stats["metrics"]
    if not metrics:
        return [*lines, "no measurements in this window"]
    rows = [["metric", *COLUMNS]]
    for name, found in metrics.items():
        unit = " (s)" if found.get("unit") == "Seconds" else ""
        rows.append([name + unit, *(_cell(found.get(column)) for column in COLUMNS)])
        for dimension, split in found.get("by", {}).items():
            for value, total in sorted(split.items()):
                rows.append([f"  {dimension}={value}", "", _cell(total), "", "", ""])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines
