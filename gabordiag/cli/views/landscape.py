"""The rich rendering of a landscape: period, stationary points, the start, step sizes."""

import math
from typing import Any, Optional

from rich import box
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from ...analysis.landscape import LandscapeResult
from ...analysis.stability import Stability, ratio_text
from ...config.model import Config
from ...core.kernel import period_label
from ..render import fmt, out_console
from .fit import Col, fitted_table

__all__ = ["render_landscape"]


def _angle_text(value: Optional[float], angular: bool) -> str:
    if value is None:
        return "-"
    return f"{value:.4f} ({math.degrees(value):.1f}°)" if angular else fmt(value)


def render_landscape(result: LandscapeResult) -> None:
    """Rich tables: period, stationary points, the start, step sizes, gradients."""
    console = out_console
    if result.landscape_2d is not None:
        land2 = result.landscape_2d
        table = Table(title=f"Grid extrema of the loss over {land2.params[0]} x "
                      f"{land2.params[1]} ({len(land2.grid)}x{len(land2.grid2)})",
                      title_justify="left")
        for column in ("kind", land2.params[0], land2.params[1], "loss"):
            table.add_column(column, justify="right")
        for kind, items in (("minimum", land2.minima), ("maximum", land2.maxima)):
            for a, b, value in sorted(items, key=lambda m: m[2]):
                table.add_row(kind, fmt(a), fmt(b), fmt(value))
        console.print(table)
        console.print("[dim]--plot FILE.png draws the heatmap.[/dim]")
        return
    land = result.landscape
    assert land is not None
    config = result.config
    angular = land.param in ("theta", "psi")
    if not land.has_effect:
        console.print(Panel(
            f"{land.param} does not change the kernel"
            + (": the envelope is isotropic (gamma = 1) and there is no carrier "
               "(lambda = inf)" if land.param == "theta" and config.gamma == 1
               and math.isinf(config.lambd) else "")
            + ". The loss is constant in it; there is nothing to learn, and no verdict "
            "about minima applies.", title="No effect", expand=False))
        return
    _period_panel(land)
    _stationary_table(land, angular, result.engine)
    facts = land.facts
    if "start" in facts:
        _start_panel(land, facts["start"], angular)
    assert land.stability is not None
    _step_panel(land.stability, config)
    basin = facts["target_basin"]
    width = basin["width"]
    console.print(Panel(
        f"largest |gradient|      {fmt(facts['max_abs_grad'])}\n"
        f"flat (|g| < 1% of max)  {facts['flat_fraction']:.1%} of the range\n"
        f"target's basin          {_angle_text(basin['from'], angular)} .. "
        f"{_angle_text(basin['to'], angular)}"
        + (f", width {width:.4f}" if width is not None else ""),
        title="Gradient magnitude", expand=False))
    console.print(f"[dim]engine {result.engine}; {escape(result.kernel)}; --plot FILE.png draws "
                  "it, --json for scripts.[/dim]")


def _period_panel(land: Any) -> None:
    if land.period is None:
        out_console.print(Panel(land.period_reason, title="Period", expand=False))
        return
    name = period_label(land.period)
    check = land.period_check
    confirm = ""
    if check:
        diff = check["half_turn_max_relative_difference"]
        confirm = ("\nConfirmed on the samples: |loss(theta + pi) - loss(theta)| <= "
                   f"{diff:.1e} of the loss range." if check["pi_periodic_on_samples"] else
                   "\nConfirmed on the samples: a half turn changes the loss by up to "
                   f"{diff:.0%} of its range.")
    out_console.print(Panel(f"[bold]{name}[/bold]: {land.period_reason}.{confirm}",
                            title="Period", expand=False))


def _stationary_table(land: Any, angular: bool, engine: str) -> None:
    step = float(land.grid[1] - land.grid[0])
    periodic = land.period is not None and abs(land.grid[-1] + step - land.grid[0]
                                               - land.period) < 1e-9
    end = f"{land.grid[-1] + step:.4f})" if periodic else f"{land.grid[-1]:.4f}]"
    how = ("roots of the exact Fourier series" if engine == "spectral" else
           "sign changes of the exact gradient, refined")
    cols = [Col(land.param + (" (rad)" if angular else ""),
                land.param + ("\n(rad)" if angular else "")),
            Col("kind"), Col("loss"), Col("curvature", "curva-\nture"),
            Col("note", justify="left", wrap=True)]
    target_value = land.facts.get("target_value")
    rows = []
    for p in land.stationary_points:
        notes = [("[yellow]spurious[/yellow]" if note == "spurious" else note)
                 for note in p.notes(target_value)]
        curvature = "kink" if p.curvature is None else fmt(p.curvature)
        rows.append([f"{p.value:.4f}", p.kind, fmt(p.loss), curvature, ", ".join(notes)])
    table, _ = fitted_table(out_console, cols, rows,
                            title=f"Stationary points over {land.param} in "
                            f"[{land.grid[0]:.4f}, {end} ({how})", title_justify="left",
                            box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    out_console.print(table)


def _start_panel(land: Any, start: dict[str, Any], angular: bool) -> None:
    basin = start["basin"]
    minimum = basin.get("minimum")
    lines = [
        f"value                     {_angle_text(start['value'], angular)}",
        f"loss                      {fmt(start['loss'])} = {start['loss_relative']:.1%} of "
        "the way from the lowest to the highest loss",
        f"gradient                  {fmt(start['grad'])} = {start['grad_relative']:.1%} of "
        "the largest",
        f"nearest target-equivalent {_angle_text(start['nearest_target_equivalent'], angular)}"
        f", {start['distance_to_target_equivalent']:.4f} away",
    ]
    if basin["from"] is not None and minimum is not None:
        kind = "the target's" if minimum["target_equivalent"] else "[yellow]a spurious[/yellow]"
        lines.append(f"basin (gradient flow)     {_angle_text(basin['from'], angular)} .. "
                     f"{_angle_text(basin['to'], angular)}, leading to {kind} minimum at "
                     f"{_angle_text(minimum['value'], angular)}")
    if start["at_or_next_to_maximum"]:
        lines.append(f"[bold red]The start is at or near a loss maximum[/bold red] "
                     f"({start['distance_to_maximum']:.4f} from the one at "
                     f"{_angle_text(start['nearest_maximum'], angular)}): the gradient there "
                     "is small and its sign, decided by the image, picks the side descent "
                     "leaves by.")
    out_console.print(Panel("\n".join(lines), title=f"Where {land.param}0 sits", expand=False))


def _step_panel(stable: Stability, config: Config) -> None:
    """Curvature at the target and what it means for the configured optimizer."""
    lr = config.lr
    sgd = config.optimizer == "sgd"
    slope = stable.kink_slope
    rows = [("MSE curvature at the target", fmt(stable.mse_curvature))]
    if stable.flat:
        rows = [("curvature at the target", stable.explain_flat()),
                ("stable lr", "no curvature bound applies")]
    elif slope is not None:
        rows.append((f"{config.loss} at the target",
                     f"a kink: one-sided slope ±{fmt(slope)}; the gradient does not vanish"))
        if sgd:
            rows.append(("fixed-step descent",
                         f"{stable.explain_kink(lr)}"
                         + (" (more with momentum)" if config.momentum else "")
                         + "; it bounces across the minimum (a 2-cycle) or jumps to "
                         "another basin"))
        else:
            rows.append((config.optimizer, "normalises its steps to about lr: it keeps "
                         f"moving by ~{lr:g} around the kink instead of settling"))
        rows.append(("stable lr", "none: use mse, rmse-eps or a decaying lr"))
    else:
        b = stable.bounds
        if config.loss != "mse" and stable.loss_curvature is not None:
            rows.append((f"{config.loss} curvature at the target",
                         fmt(stable.loss_curvature)))
        if b.sgd is not None:
            rows.append(("max stable lr, plain SGD", f"2 / curvature = {fmt(b.sgd)}"))
            if sgd and (config.momentum or config.nesterov):
                rows.append((f"with momentum {config.momentum:g}"
                             + (" (Nesterov)" if config.nesterov else "")
                             + (f", dampening {config.dampening:g}" if config.dampening else ""),
                             f"{b.formula} = {fmt(b.sgd_configured or math.nan)}"))
            ratio = stable.lr_ratio(lr)
            if sgd and ratio is not None:
                verdict = "[green]stable[/green]" if ratio < 1 else "[red]unstable[/red]"
                rows.append(("configured lr",
                             f"{lr:g} = {ratio_text(ratio)} x the bound: {verdict}"))
        if not sgd:
            rows.append((config.optimizer, "normalises its steps: no curvature bound "
                         "applies; near the minimum the steps are about lr"))
    width = max(len(label) for label, _ in rows)
    lines = [f"{label.ljust(width)}  {text}" for label, text in rows]
    out_console.print(Panel("\n".join(lines), title="Step sizes", expand=False))
