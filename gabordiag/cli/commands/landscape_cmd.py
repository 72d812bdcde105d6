"""``gabordiag landscape``: the loss over theta (or another parameter), and why
descent cycles there."""

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.panel import Panel
from rich.table import Table

from ...errors import ConfigError
from ...experiment import parse_angle, parse_option, resolve_config
from ...io import FIGURE_SUFFIXES, check_output_path, write_atomic, write_text_atomic
from ...kernel import PARAM_NAMES
from ...landscape import LandscapeResult, run_landscape
from ...recover import kernel_description
from .. import app
from ..options import csv_option, json_flag, plot_option, with_experiment_options
from ..render import fmt, out_console, print_json


def _parse_param(value: Optional[str], option: str) -> Optional[str]:
    if value is None:
        return None
    name = value.strip().lower()
    if name not in PARAM_NAMES:
        raise ConfigError(f"{option}: invalid value {value!r}; expected one of "
                          + ", ".join(PARAM_NAMES))
    return name


def _parse_range(value: Optional[str], option: str, param: str
                 ) -> Optional[tuple[float, float]]:
    """``LOW,HIGH``: angles for theta and psi; for the others, values the parameter's
    own option accepts (``--sigma`` ...), so that the kernel stays finite."""
    if value is None:
        return None
    parts = value.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        low, high = parse_angle(parts[0]), parse_angle(parts[1])
    except ValueError:
        raise ConfigError(f"{option}: invalid value {value!r}; expected LOW,HIGH, e.g. "
                          "-pi/2,pi/2 or 5,20") from None
    if not low < high:
        raise ConfigError(f"{option}: {value!r} must have LOW < HIGH")
    if param not in ("theta", "psi"):
        try:
            parse_option(param, low)
            parse_option(param, high)
        except ConfigError as exc:
            allowed = str(exc).split("expected ", 1)[-1]
            raise ConfigError(f"{option}: {value!r} leaves the values --{param} accepts "
                              f"({allowed})") from None
    return low, high


def _parse_points(value: Optional[str]) -> Optional[int]:
    if value is None:
        return None
    try:
        points = int(value)
    except ValueError:
        raise ConfigError(f"--points: invalid value {value!r}; expected an integer "
                          ">= 8") from None
    if points < 8:
        raise ConfigError(f"--points: {points} is too few; expected an integer >= 8")
    return points


@app.command("landscape")
@with_experiment_options
def landscape_command(
    experiment: dict[str, Any],
    config_path: Optional[Path],
    param: Annotated[Optional[str], typer.Option(
        "--param", help="Parameter to vary: theta, lambda, sigma, gamma, psi. "
        "(default: theta)", metavar="NAME", rich_help_panel="Landscape")] = None,
    param2: Annotated[Optional[str], typer.Option(
        "--param2", help="A second parameter: a 2-D landscape (heatmap).", metavar="NAME",
        rich_help_panel="Landscape")] = None,
    span: Annotated[Optional[str], typer.Option(
        "--range", help="Interval LOW,HIGH of --param. (default: one period centred on the "
        "target for angles, 0.25x..4x the target otherwise)", metavar="LOW,HIGH",
        rich_help_panel="Landscape")] = None,
    span2: Annotated[Optional[str], typer.Option(
        "--range2", help="Interval of --param2.", metavar="LOW,HIGH",
        rich_help_panel="Landscape")] = None,
    points: Annotated[Optional[str], typer.Option(
        "--points", help="Samples (per axis in 2-D). Stationary points do not depend on "
        "it: exact roots of the Fourier series (spectral engine) or sign changes of the "
        "analytic gradient on at least 1024 samples, refined. (default: 720; 121 per axis "
        "in 2-D)", metavar="INT",
        rich_help_panel="Landscape")] = None,
    trajectory: Annotated[bool, typer.Option(
        "--trajectory", help="Overlay a `recover` run with the same config on the plot.",
        rich_help_panel="Output")] = False,
    json_output: Annotated[bool, json_flag("gabordiag.landscape/1")] = False,
    plot: Annotated[Optional[Path], plot_option()] = None,
    csv: Annotated[Optional[Path], csv_option("the samples")] = None,
) -> None:
    """The loss over theta: period, every minimum and maximum, where theta0 sits,
    the curvature at the target and the learning rates that are stable there.

    Example: gabordiag landscape --plot landscape.png
    """
    config, _ = resolve_config(experiment, config_path)
    name = _parse_param(param, "--param") or "theta"
    name2 = _parse_param(param2, "--param2")
    if name2 == name:
        raise ConfigError(f"--param2: must differ from --param ({name})")
    low_high = _parse_range(span, "--range", name)
    low_high2 = _parse_range(span2, "--range2", name2 or "theta")
    n_points = _parse_points(points)
    if plot is not None:
        check_output_path(plot, "--plot", FIGURE_SUFFIXES)
    if csv is not None:
        check_output_path(csv, "--csv")
    try:
        result = run_landscape(config, name, name2, low_high, low_high2, n_points)
    except ValueError as exc:
        raise ConfigError(f"--range: {exc}") from None
    if plot is not None:
        _write_plot(result, plot, trajectory)
    if csv is not None:
        write_text_atomic(csv, landscape_csv(result))
    if json_output:
        print_json(result.to_dict())
        return
    render_landscape(result)


def _write_plot(result: LandscapeResult, path: Path, with_trajectory: bool) -> None:
    from ...plotting import landscape_2d_figure, landscape_figure, wrap_into_period

    config = result.config
    title = (f"{config.loss} loss, {config.image} image, ksize {config.ksize}, "
             f"sigma {config.sigma:g}, lambda {config.lambd:g}, gamma {config.gamma:g}, "
             f"psi {config.psi:g}")
    if result.landscape_2d is not None:
        fig = landscape_2d_figure(result.landscape_2d, title)
    else:
        land = result.landscape
        assert land is not None
        overlay = None
        if with_trajectory and land.param in config.learn:
            from ...recover import recover

            run = recover(config)
            j = run.trajectory.names.index(land.param)
            overlay = wrap_into_period(run.trajectory.params[:, j], run.trajectory.loss,
                                       float(land.grid[0]), land.period)
        start = config.start.as_dict()[land.param] if land.param in config.learn else None
        fig = landscape_figure(land, start, config.target.as_dict()[land.param], overlay,
                               title)
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120))


def landscape_csv(result: LandscapeResult) -> str:
    """The samples: value, loss, gradient, curvature (or the 2-D grid, long form)."""
    if result.landscape_2d is not None:
        land2 = result.landscape_2d
        rows = [f"{land2.params[0]},{land2.params[1]},loss"]
        for i, a in enumerate(land2.grid):
            for k, b in enumerate(land2.grid2):
                rows.append(f"{a!r},{b!r},{float(land2.loss[i, k])!r}")
        return "\n".join(rows) + "\n"
    land = result.landscape
    assert land is not None
    rows = [f"{land.param},loss,grad,curvature"]
    for values in zip(land.grid, land.loss, land.grad, land.curvature):
        rows.append(",".join(repr(float(v)) for v in values))
    return "\n".join(rows) + "\n"


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
    _stationary_table(land, angular, result.engine.name)
    facts = land.facts
    if "start" in facts:
        _start_panel(land, facts["start"], angular)
    _step_panel(facts, config)
    basin = facts["target_basin"]
    width = basin["width"]
    console.print(Panel(
        f"largest |gradient|      {fmt(facts['max_abs_grad'])}\n"
        f"flat (|g| < 1% of max)  {facts['flat_fraction']:.1%} of the range\n"
        f"target's basin          {_angle_text(basin['from'], angular)} .. "
        f"{_angle_text(basin['to'], angular)}"
        + (f", width {width:.4f}" if width is not None else ""),
        title="Gradient magnitude", expand=False))
    console.print(f"[dim]engine {result.engine.name}; "
                  f"{kernel_description(config, result.engine.name)}; --plot FILE.png draws "
                  "it, --json for scripts.[/dim]")


def _period_panel(land: Any) -> None:
    if land.period is None:
        out_console.print(Panel(land.period_reason, title="Period", expand=False))
        return
    name = "pi" if abs(land.period - math.pi) < 1e-12 else "2pi"
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
    table = Table(title=f"Stationary points over {land.param} in [{land.grid[0]:.4f}, "
                  f"{end} ({how})", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    table.add_column(land.param + (" (rad)" if angular else ""), justify="right",
                     no_wrap=True)
    for column in ("kind", "loss", "curvature"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("note", no_wrap=True)
    target_value = land.facts.get("target_value")
    for p in land.stationary_points:
        notes = []
        if p.is_global:
            notes.append("global minimum")
        if p.target_equivalent:
            exact = target_value is not None and abs(p.value - target_value) < 1e-9
            notes.append("target" if exact else "target-equivalent")
        elif p.kind == "minimum":
            notes.append("[yellow]spurious[/yellow]")
        curvature = "kink" if p.curvature is None else fmt(p.curvature)
        table.add_row(f"{p.value:.4f}", p.kind, fmt(p.loss), curvature, ", ".join(notes))
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


def _step_panel(facts: dict[str, Any], config: Any) -> None:
    """Curvature at the target and what it means for the configured optimizer."""
    lr = config.lr
    rows = [("MSE curvature at the target", fmt(facts["mse_curvature_at_target"]))]
    bounds = facts["max_stable_lr"]
    sgd = config.optimizer == "sgd"
    if config.loss in ("rmse", "l1"):
        slope = facts.get("one_sided_slope")
        rows.append((f"{config.loss} at the target",
                     f"a kink: one-sided slope ±{fmt(slope) if slope else '?'}; the gradient "
                     "does not vanish"))
        if slope and sgd:
            rows.append(("fixed-step descent",
                         f"cannot settle: each step is about lr x {fmt(slope)} = "
                         f"{fmt(lr * slope)} at lr {lr:g}"
                         + (" (more with momentum)" if config.momentum else "")
                         + ", so it bounces across the minimum (a 2-cycle) or jumps to "
                         "another basin"))
        elif slope:
            rows.append((config.optimizer, "normalises its steps to about lr: it keeps "
                         f"moving by ~{lr:g} around the kink instead of settling"))
        rows.append(("stable lr", "none: use mse, rmse-eps or a decaying lr"))
    else:
        if config.loss != "mse":
            rows.append((f"{config.loss} curvature at the target",
                         fmt(facts["loss_curvature_at_target"])))
        if bounds["sgd"] is not None:
            rows.append(("max stable lr, plain SGD", f"2 / curvature = {fmt(bounds['sgd'])}"))
            if sgd and (config.momentum or config.nesterov):
                formula = ("2 (1 + mu) / ((1 + 2 mu) c)" if config.nesterov else
                           "2 (1 + mu) / ((1 - d) c)")
                rows.append((f"with momentum {config.momentum:g}"
                             + (" (Nesterov)" if config.nesterov else "")
                             + (f", dampening {config.dampening:g}" if config.dampening else ""),
                             f"{formula} = {fmt(bounds['sgd_configured'])}"))
            if sgd:
                ratio = lr / bounds["sgd_configured"]
                verdict = "[green]stable[/green]" if ratio < 1 else "[red]unstable[/red]"
                rows.append(("configured lr", f"{lr:g} = {ratio:.2g} x the bound: {verdict}"))
        if not sgd:
            rows.append((config.optimizer, "normalises its steps: no curvature bound "
                         "applies; near the minimum the steps are about lr"))
    width = max(len(label) for label, _ in rows)
    lines = [f"{label.ljust(width)}  {text}" for label, text in rows]
    out_console.print(Panel("\n".join(lines), title="Step sizes", expand=False))
