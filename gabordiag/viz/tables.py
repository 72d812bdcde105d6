"""Result tables as CSV (``--csv FILE``): one header row, then plain values.

Renderings of analysis results, like the figures, but without matplotlib. Numbers are
written with ``repr`` (round-trip exact); missing values are empty cells.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["basins_csv", "gradcheck_csv", "remedies_csv", "stationary_csv", "to_csv"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text with ``\\n`` line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def basins_csv(result: Any) -> str:
    """One row per start and case: where it started, what it did, when it converged."""
    rows = []
    for case in result.cases:
        for start, kind, steps, final in zip(result.starts, case.kinds,
                                             case.steps_to_converge, case.final):
            rows.append([float(start), case.loss, case.optimizer, float(case.lr), kind,
                         steps, final])
    return to_csv(["theta0", "loss", "optimizer", "lr", "verdict", "steps_to_converge",
                   "final_theta"], rows)


def remedies_csv(result: Any) -> str:
    """One row per remedy, in rank order (the baseline first, rank 0)."""
    rows = []
    for rank, r in enumerate([result.baseline, *result.remedies]):
        fractions = r.fractions
        rows.append([rank, r.id, r.success_rate, r.median_steps,
                     ";".join(r.removes), ";".join(r.leaves),
                     *(fractions.get(k, 0.0) for k in sorted(fractions)), r.why])
    kinds = sorted(result.baseline.fractions)
    return to_csv(["rank", "remedy", "success_rate", "median_steps", "removes", "leaves",
                   *(f"fraction_{k}" for k in kinds), "why"], rows)


def gradcheck_csv(result: Any) -> str:
    """One row per derivative: errors, verdict, what is wrong."""
    rows = [[c.what, c.param, c.max_abs_error, c.max_rel_error, c.passed,
             len(c.failing_points), c.diagnosis, c.result, len(c.unresolved_points)]
            for c in result.checks]
    return to_csv(["of", "param", "max_abs_error", "max_rel_error", "passed",
                   "failing_points", "diagnosis", "result", "unresolved_points"], rows)


def stationary_csv(points: Iterable[Any]) -> str:
    """One row per stationary point."""
    rows = [[p.value, p.kind, p.loss, p.curvature, p.is_global, p.target_equivalent]
            for p in points]
    return to_csv(["value", "kind", "loss", "curvature", "global", "target_equivalent"],
                  rows)
