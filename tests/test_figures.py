"""Figures and terminal output (issue 12): what each figure shows, checked through
matplotlib's artists (labels, units, segment lengths, bounding boxes), not pixels; the
figure options of every command; the report; narrow terminals and the help style."""

from __future__ import annotations

import io
import math
import os
import subprocess

import numpy as np
import pytest
from conftest import PNG_MAGIC, entry_point, invoke
from matplotlib.colors import LogNorm, to_hex
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle
from matplotlib.text import Annotation

from gabordiag.analysis.basins import run_basins
from gabordiag.analysis.kernels import run_kernels
from gabordiag.analysis.landscape import run_landscape
from gabordiag.analysis.recover import recover
from gabordiag.analysis.stability import stability
from gabordiag.analysis.study import Study
from gabordiag.config import resolve_config
from gabordiag.config.choices import (
    BOUNDARIES,
    ENGINES,
    LOSSES,
    OPS,
    OPTIMIZERS,
    SYNTHETIC,
    VERDICTS,
)
from gabordiag.descent.verdicts import Verdict
from gabordiag.viz import figures as F
from gabordiag.viz.captions import angle_name, mechanism_caption, relative_to_target
from gabordiag.viz.layout import bbox_of, overlaps

SMALL = {"size": "48", "ksize": "9", "sigma": "2", "lambda": "5"}
SMALL_ARGS = ["--size", "48", "--ksize", "9", "--sigma", "2", "--lambda", "5"]
CYCLING = {**SMALL, "lr": "3e-2", "steps": "100"}          # rmse bounces across the kink
THROWN = {**SMALL, "loss": "mse", "lr": "1e-1", "steps": "100"}  # thrown across basins
SPURIOUS = {**SMALL, "sigma": "3"}                          # a spurious minimum


def study(**values: str) -> Study:
    return Study(resolve_config(values)[0])


def segments(line: Line2D) -> np.ndarray:
    """Lengths along x of the drawn segments of a line (NaN breaks it)."""
    x = np.asarray(line.get_xdata(), dtype=float)
    dx = np.abs(np.diff(x))
    return dx[np.isfinite(dx)]


def main_axes(fig):
    return fig.axes[0]


# -- words derived from results ----------------------------------------------------------

def test_angle_names_and_target_relations():
    assert angle_name(-3 * math.pi / 4) == "-3pi/4"
    assert angle_name(math.pi / 4) == "pi/4"
    assert angle_name(2 * math.pi) == "2pi"
    assert angle_name(0.3) == "0.300"
    target = math.pi / 4
    assert relative_to_target(target - math.pi, target, math.pi) == "target - pi"
    assert relative_to_target(target + 2 * math.pi, target, math.pi) == "target + 2pi"
    assert relative_to_target(target, target, math.pi) == "target"
    assert relative_to_target(0.1, target, math.pi) is None


def test_the_mechanism_caption_says_what_the_evidence_says():
    target = math.pi / 4
    evidence = {"period": 2, "limit_cycle": False, "repeat_error": 0.9, "amplitude": 0.0621,
                "amplitude_range": [0.0578, 0.0631], "centre_range": [-2.421, -2.300],
                "phase_slips": [289], "minimum": target - math.pi, "minimum_found": True,
                "minimum_is_target": True, "across_basins": False}
    text = mechanism_caption(Verdict("cycling", "", evidence), target, math.pi, 41.6, 3e-3)
    assert "period-2 oscillation of amplitude 0.062 rad around -3pi/4 = target - pi" in text
    assert "not a fixed cycle: its centre wanders over -2.421 .. -2.300" in text
    assert "1 phase slip (step 289)" in text
    assert "0.003 x 41.6 = 0.125 rad" in text
    fixed = {**evidence, "limit_cycle": True, "repeat_error": 1e-6}
    text = mechanism_caption(Verdict("cycling", "", fixed), target, math.pi, 41.6, 3e-3)
    assert "a fixed cycle" in text
    assert "not a fixed cycle" not in text
    # a cycle around a spurious minimum is not blamed on the target's kink
    spurious = {**evidence, "minimum": 0.3, "minimum_is_target": False}
    text = mechanism_caption(Verdict("cycling", "", spurious), target, math.pi, 41.6, 3e-3)
    assert "kink" not in text
    # with momentum a step is not lr x slope: the caption says only what holds for it
    text = mechanism_caption(Verdict("cycling", "", evidence), target, math.pi, 41.6, 3e-3,
                             plain=False)
    assert "kink at the minimum (slopes ±41.6)" in text
    assert "lr x slope" not in text
    assert "0.125" not in text


def test_a_momentum_run_is_not_drawn_with_plain_steps() -> None:
    s = study(**{**CYCLING, "lr": "1e-2", "momentum": "0.9", "steps": "150"})
    fig = F.recover_figure(recover(s), stability(s, "theta"))
    texts = [o.get_text() for o in fig.findobj(lambda o: hasattr(o, "get_text"))]
    texts += [sf._suptitle.get_text() for sf in fig.subfigs if sf._suptitle is not None]
    assert any("kink at the minimum" in t for t in texts), texts
    assert not any("lr x slope" in t or "1 - lr c" in t for t in texts), texts


# -- recover --plot: the run and its mechanism -------------------------------------------

@pytest.fixture(scope="module")
def cycling_run():
    s = study(**CYCLING)
    return recover(s), stability(s, "theta")


def test_recover_theta_panel_is_zoomed_on_the_run_with_labelled_equivalents(cycling_run):
    result, stable = cycling_run
    fig = F.recover_figure(result, stable)
    theta_axes = [ax for ax in fig.axes if ax.get_title() == "theta over the steps"]
    assert len(theta_axes) == 1
    ax = theta_axes[0]
    values = result.trajectory.params[:, 0]
    low, high = ax.get_ylim()
    span = values.max() - values.min()
    assert low >= values.min() - 0.1 * span
    assert high <= values.max() + 0.1 * span
    assert ax.get_ylabel() == "theta (rad)"
    lines = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    labels = [c.get_text() for c in ax.get_children() if isinstance(c, Annotation)]
    assert len(labels) == len(lines)  # every target-equivalent line is labelled
    for text in labels:
        assert text.startswith("target")
    # the tail zoom shows the oscillation: its y range is the tail's, not the run's
    tail = next(ax for ax in fig.axes if "(zoom)" in ax.get_title())
    t_low, t_high = tail.get_ylim()
    assert t_high - t_low < 0.8 * (high - low)


def test_recover_mechanism_panels(cycling_run):
    result, stable = cycling_run
    fig = F.recover_figure(result, stable)
    cobweb = next(ax for ax in fig.axes if ax.get_title().startswith("return map"))
    assert cobweb.get_xlabel() == "theta_t (rad)"
    assert cobweb.get_ylabel() == "theta_{t+1} (rad)"
    identity = [line for line in cobweb.get_lines() if line.get_label().startswith("identity")]
    assert identity
    x, y = identity[0].get_data()
    np.testing.assert_allclose(x, y)
    zoom = next(ax for ax in fig.axes if ax.get_title().startswith("the loss around"))
    slopes = [line for line in zoom.get_lines()
              if line.get_label().startswith("one-sided slopes")]
    assert slopes
    assert f"±{stable.kink_slope:.3g}" in slopes[0].get_label()
    texts = [c.get_text() for c in zoom.get_children() if isinstance(c, Annotation)]
    assert any(f"{result.config.lr:g} x {stable.kink_slope:.3g}" in t for t in texts)
    captions = [sf._suptitle.get_text() for sf in fig.subfigs if sf._suptitle is not None]
    ev = result.verdict.evidence
    assert any(f"amplitude {ev['amplitude']:.2g} rad" in c for c in captions), captions


def test_recover_figure_of_a_converging_run_is_a_staircase():
    s = study(**SMALL, loss="mse", lr="1e-3", steps="200")
    result = recover(s)
    assert result.verdict.recovered
    fig = F.recover_figure(result, stability(s, "theta"))
    captions = [sf._suptitle.get_text() for sf in fig.subfigs if sf._suptitle is not None]
    assert any(result.verdict.kind in c and "1 - lr c" in c for c in captions), captions


# -- landscape --plot ------------------------------------------------------------------

@pytest.fixture(scope="module", params=["cycling", "thrown"])
def landscape_with_run(request):
    values = CYCLING if request.param == "cycling" else THROWN
    return run_landscape(study(**values), points=240, trajectory=True)


def test_no_drawn_segment_crosses_half_the_axis(landscape_with_run):
    fig = F.landscape_plot(landscape_with_run)
    ax = main_axes(fig)
    low, high = ax.get_xlim()
    for line in ax.get_lines():
        if len(line.get_xdata()) > 2:
            assert np.all(segments(line) <= 0.5 * (high - low)), line.get_label()


def test_wrapped_paths_break_at_the_period_boundary():
    values = np.array([0.1, -0.05, -0.2, 3.0, 3.1, 6.5])
    x, _ = F.trajectory_path(values, np.zeros_like(values), (0.0, math.pi), math.pi, 0.0)
    dx = np.abs(np.diff(x))
    assert np.all(dx[np.isfinite(dx)] <= math.pi / 4)
    assert np.all((x[np.isfinite(x)] >= 0) & (x[np.isfinite(x)] < math.pi))


def test_landscape_axes_units_wrap_degrees_and_curvature_bound(landscape_with_run):
    result = landscape_with_run
    fig = F.landscape_plot(result)
    ax = main_axes(fig)
    label = ax.get_xlabel()
    assert label.startswith("theta (rad)")
    assert "repeats every pi" in label
    secondary = [c for c in ax.get_children() if hasattr(c, "get_xlabel")
                 and "degrees" in str(c.get_xlabel())]
    assert secondary, "a degree axis"
    curvature = fig.axes[1]
    lr = result.config.lr
    bound = [line for line in curvature.get_lines() if "/ lr" in line.get_label()]
    assert bound
    np.testing.assert_allclose(bound[0].get_ydata()[0], 2.0 / lr)
    stable = result.landscape.stability
    title = curvature.get_title(loc="left")
    if stable.kink_slope is not None:
        assert f"±{stable.kink_slope:.3g}" in title
    else:
        assert f"{stable.bounds.sgd:.3g}" in title


def test_unwrapped_run_starts_at_the_start_line():
    result = run_landscape(study(**CYCLING), points=240, trajectory=True)
    ax = main_axes(F.landscape_plot(result))
    start = [line for line in ax.get_lines() if line.get_label().startswith("start")]
    assert start
    np.testing.assert_allclose(start[0].get_xdata()[0], result.config.theta0)
    low, high = ax.get_xlim()
    values = result.trajectory.params[:, 0]
    assert low <= values.min()
    assert values.max() <= high


def test_the_basin_is_shaded_only_where_it_is():
    result = run_landscape(study(**SPURIOUS), points=240)
    land = result.landscape
    assert land.spurious_minima()
    ax = main_axes(F.landscape_plot(result))
    spans = [p for p in ax.patches if isinstance(p, (Polygon, Rectangle))
             and "basin" in str(p.get_label())]
    assert len(spans) == 1
    span = spans[0]
    xs = (span.get_xy()[:, 0] if isinstance(span, Polygon)
          else np.array([span.get_x(), span.get_x() + span.get_width()]))
    np.testing.assert_allclose([xs.min(), xs.max()], [land.basin.lower, land.basin.upper])
    low, high = ax.get_xlim()
    assert xs.max() - xs.min() < 0.9 * (high - low)


@pytest.mark.parametrize("values", [SPURIOUS, CYCLING, {**SMALL, "sigma": "4"}])
def test_stationary_labels_overlap_neither_each_other_nor_the_legend(values):
    result = run_landscape(study(**values), points=240, trajectory=True)
    fig = F.landscape_plot(result)
    ax = main_axes(fig)
    labels = [c for c in ax.get_children()
              if isinstance(c, Annotation) and c.get_gid() == F.STATIONARY_GID]
    shown = [p for p in result.landscape.stationary_points]
    assert len(labels) >= len(shown)  # every point (and its copies in the window)
    fig.draw_without_rendering()
    boxes = [bbox_of(a) for a in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not overlaps(a, b, pad=0.5)
    legend = bbox_of(fig.legends[0])
    for a in [*boxes, *(bbox_of(c) for c in ax.get_children() if isinstance(c, Annotation))]:
        assert not overlaps(a, legend)


# -- basins, heatmap, kernels --------------------------------------------------------------

def test_basins_figure_one_panel_per_loss_legend_below_maxima_not_cycling():
    s = study(**SMALL, steps="40")
    result = run_basins(s, starts=12, losses=["rmse", "mse"])
    landscapes = {loss: run_landscape(s.variant(loss=loss), points=120).landscape
                  for loss in ("rmse", "mse")}
    fig = F.basins_figure(result, landscapes)
    assert len(fig.axes) == 3
    assert [ax.get_ylabel() for ax in fig.axes[:2]] == ["rmse loss", "mse loss"]
    cycling = F.OUTCOME_COLOURS["cycling"]
    for ax in fig.axes[:2]:
        for line in ax.get_lines():
            if line.get_marker() == "^":
                assert to_hex(line.get_color()) != cycling
    fig.draw_without_rendering()
    legend = bbox_of(fig.legends[0])
    bottom = fig.axes[-1]
    assert not overlaps(legend, bbox_of(bottom.xaxis.label))
    assert not overlaps(legend, bottom.get_window_extent())


def test_heatmap_theta_on_x_log_scale_title_and_trajectory():
    s = study(**SMALL, learn="theta,lambda", steps="30")
    result = run_landscape(s, "lambda", "theta", points=16, trajectory=True)
    fig = F.landscape_plot(result)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "theta (rad)"
    assert ax.get_ylabel() == "lambda"
    mesh = ax.collections[0]
    loss = result.landscape_2d.loss
    positive = loss[loss > 0]
    assert isinstance(mesh.norm, LogNorm) == (positive.max() / positive.min() >= 100)
    assert "lambda" not in fig._suptitle.get_text()
    assert "theta" not in fig._suptitle.get_text()
    assert any(line.get_label() == "descent" for line in ax.get_lines())


def test_kernel_panels_are_titled_with_their_parameters():
    result = run_kernels(study(**SMALL))
    fig = F.kernels_plot(result)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    c = result.config
    assert any(f"theta {c.target_theta:.3f}" in t for t in titles)
    assert any(f"theta {c.theta0:.3f}" in t for t in titles)
    assert "sigma 2" in fig._suptitle.get_text()


# -- the command line: figure options, CSV, report ----------------------------------------

@pytest.mark.parametrize("command", [
    pytest.param(["recover", "--lr", "3e-2", "--steps", "60"], marks=pytest.mark.slow),
    ["landscape", "--points", "60", "--trajectory", "--steps", "30"],
    ["basins", "--starts", "8", "--steps", "30"],
    ["kernel"],
    pytest.param(["gradcheck", "--random", "1"], marks=pytest.mark.slow),
])
def test_every_plot_says_wrote_file(tmp_path, command):
    path = tmp_path / "figure.png"
    r = invoke(*command, *SMALL_ARGS, "--plot", path)
    assert r.code == 0, r.err
    assert r.err == f"wrote {path}\n"
    assert path.read_bytes().startswith(PNG_MAGIC)


@pytest.mark.slow
@pytest.mark.parametrize(("command", "suffix", "magic"), [
    (["remedies", "--starts", "8", "--steps", "30"], ".svg", b"<?xml"),
    (["diagnose", "--starts", "8", "--steps", "30"], ".pdf", b"%PDF"),
])
def test_remedies_and_diagnose_plot_by_suffix(tmp_path, command, suffix, magic):
    path = tmp_path / f"figure{suffix}"
    r = invoke(*command, *SMALL_ARGS, "--plot", path)
    assert r.code == 0, r.err
    assert r.err == f"wrote {path}\n"
    assert path.read_bytes().startswith(magic)


def test_csv_of_basins_and_gradcheck(tmp_path):
    path = tmp_path / "b.csv"
    r = invoke("basins", *SMALL_ARGS, "--starts", "6", "--steps", "20", "--lr", "1e-3",
               "--lr", "1e-2", "--csv", path, "--json")
    assert r.code == 0, r.err
    rows = path.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "theta0,loss,optimizer,lr,verdict,steps_to_converge,final_theta"
    assert len(rows) == 1 + 6 * 2
    assert {row.split(",")[4] for row in rows[1:]} <= set(VERDICTS)
    assert r.json()["schema"] == "gabordiag.basins/1"
    path = tmp_path / "g.csv"
    r = invoke("gradcheck", *SMALL_ARGS, "--random", "1", "--csv", path)
    assert r.code == 0, r.err
    rows = path.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("of,param,max_abs_error")
    assert len(rows) == 1 + 5 + 1  # five kernel derivatives and the loss's


@pytest.mark.slow
def test_remedies_csv(tmp_path):
    path = tmp_path / "r.csv"
    r = invoke("remedies", *SMALL_ARGS, "--starts", "8", "--steps", "30", "--csv", path)
    assert r.code == 0, r.err
    rows = path.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("rank,remedy,success_rate")
    assert rows[1].split(",")[1] == "baseline"


@pytest.mark.slow
def test_report_has_provenance_config_recipe_figures_and_tables(tmp_path):
    import gabordiag

    directory = tmp_path / "report"
    r = invoke("diagnose", *SMALL_ARGS, "--starts", "8", "--steps", "30", "--report",
               directory)
    assert r.code == 0, r.err
    md = (directory / "report.md").read_text(encoding="utf-8")
    assert f"gabordiag {gabordiag.__version__}" in md
    assert "- date: 20" in md
    assert "- command: `gabordiag diagnose --size " in md
    assert "```toml" in md
    assert "target-theta = " in md
    assert "## How to debug it: the next commands" in md
    assert "1. `gabordiag gradcheck" in md
    assert "see the remedies ranking" not in md
    assert "## Gradcheck" in md
    assert "| d kernel / d theta |" in md
    assert "## Stationary points over one period" in md
    for name in ("landscape", "trajectory", "basins", "remedies", "kernels", "gradcheck"):
        assert f"({name}.png)" in md
        assert (directory / f"{name}.png").read_bytes().startswith(PNG_MAGIC)
    page = (directory / "report.html").read_text(encoding="utf-8")
    assert "<pre># gabordiag experiment" in page
    assert "How to debug it" in page


# -- the terminal ----------------------------------------------------------------------------

def test_recover_table_folds_then_drops_columns_and_says_so():
    from rich.console import Console

    result = recover(study(**CYCLING))
    from gabordiag.cli.views.recover import trajectory_table

    for width in (100, 60, 50, 40):
        console = Console(width=width, record=True, file=io.StringIO())
        table = trajectory_table(result, console)
        console.print(table)
        text = console.export_text()
        assert "…" not in text.replace("│    … │", "").replace("… ", ""), text
        for line in text.splitlines():
            assert len(line) <= width
        headers = [c.header for c in table.columns]
        if any("mod" in str(h) for h in headers):
            assert any("2.3" in line or "0." in line for line in text.splitlines())
        if width == 100:
            assert table.caption is None
    assert table.caption is not None
    assert "left out" in table.caption


def test_kernel_picture_only_on_a_terminal():
    r = invoke("kernel", *SMALL_ARGS)
    assert r.code == 0
    assert "picture" not in r.out
    assert "▀" not in r.out


def test_choices_are_enums_of_the_configs_vocabulary():
    from gabordiag.cli.options import CHOICES

    expected = {"loss": LOSSES, "optimizer": OPTIMIZERS, "engine": ENGINES,
                "image": SYNTHETIC, "op": OPS, "boundary": BOUNDARIES}
    for key, names in expected.items():
        assert tuple(m.value for m in CHOICES[key]) == names


def test_help_lists_choices_one_defaults_style_no_bool_metavar():
    r = invoke("basins", "--help")
    assert r.code == 0
    flat = " ".join(r.out.replace("│", " ").split())
    assert "<bool>" not in r.out
    assert "[default:" not in r.out
    assert "(default: 360)" in flat
    assert "mse, rmse, rmse-eps, l1, huber" in flat
    assert "sgd, rmsprop, adam" in flat


def test_a_mistyped_config_key_gets_a_suggestion(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("lamda = 5\n", encoding="utf-8")
    r = invoke("recover", "--config", path)
    assert r.code == 2
    assert "did you mean 'lambda'?" in r.err


def test_completion_offers_the_choices():
    env = {**os.environ, "_GABORDIAG_COMPLETE": "complete_bash",
           "COMP_WORDS": "gabordiag recover --loss rm", "COMP_CWORD": "3"}
    out = subprocess.run(entry_point(), env=env, capture_output=True, text=True,
                         timeout=60).stdout
    assert out.split() == ["rmse", "rmse-eps"]


@pytest.mark.slow
def test_narrow_terminal_help_and_tables_cut_no_word():
    def run(columns: int, *args: str) -> str:
        env = {**os.environ, "COLUMNS": str(columns)}
        return subprocess.run([*entry_point(), *args], env=env, capture_output=True,
                              text=True, timeout=120).stdout

    wide = set(run(200, "recover", "--help").split())
    narrow = run(60, "recover", "--help")
    assert "…" not in narrow

    def whole(token: str) -> bool:
        """A word of the wide help, or a hyphenated one broken after its hyphen."""
        return (token in wide or token in ("Options:", "-h,")
                or (token.endswith("-") and any(w.startswith(token) for w in wide))
                or (len(token) > 2 and any(w.endswith(token) and "-" in w for w in wide)))

    assert all(whole(t) for t in narrow.split()), [t for t in narrow.split() if not whole(t)]
    out = run(60, "landscape", *SMALL_ARGS)
    assert "…" not in out
    for line in out.splitlines():
        assert len(line) <= 60

