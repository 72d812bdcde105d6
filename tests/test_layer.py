"""``gabordiag layer``: each test layer in tests/layers/ gets the finding its defect
calls for and nothing else; the measurements behind them are held to independent
references (OpenCV's kernel, torch.optim's own optimizers, gabordiag's spectral engine,
central differences written here).

The whole diagnosis of a layer takes a second or more (hundreds of float64 forwards), so
those tests are marked slow; the measurements and the error paths are fast."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_usage_error, entry_point, gabor, invoke

from gabordiag.descent.runner import run_descent

torch = pytest.importorskip("torch")

from gabordiag.analysis.layer import diagnose_layer  # noqa: E402
from gabordiag.analysis.layer.session import torch_session  # noqa: E402
from gabordiag.config import resolve_config  # noqa: E402
from gabordiag.core.user import load_callable  # noqa: E402

LAYERS = Path(__file__).parent / "layers"
SMALL = ["--size", "32", "--steps", "20"]


def spec(name: str, factory: str = "make") -> str:
    return f"{LAYERS / name}.py:{factory}"


def small_config(**values: str):
    return resolve_config({"size": "32", "steps": "20", **values})[0]


def serious(diagnosis) -> set[str]:
    return {f.id for f in diagnosis.findings if f.severity != "info"}


def finding(diagnosis, fid: str):
    found = [f for f in diagnosis.findings if f.id == fid]
    assert len(found) == 1, [f.id for f in diagnosis.findings]
    return found[0]


@pytest.fixture(scope="module")
def small() -> dict[str, object]:  # slow: the tests that use it are marked so
    """Every small test layer diagnosed once (a 32x32 image, 20 steps)."""
    names = ["correct", "data_write", "trainable_grid", "convention", "bad_backward",
             "unused_param"]
    return {name: diagnose_layer(spec(name, "make_small"), small_config()) for name in names}


# -- each defect is named, and nothing false on the correct layer ---------------------------

@pytest.mark.slow
def test_correct_layer_gets_a_clean_bill(small) -> None:
    d = small["correct"]
    assert d.clean, [(f.id, f.severity, f.message) for f in d.findings]
    ids = {f.id for f in d.findings}
    assert {"gradient-flow-ok", "derivatives-ok", "convention-matches", "recovery"} <= ids
    recovery = finding(d, "recovery")
    assert recovery.evidence["departs_at"] is None  # step for step the reference's run
    assert recovery.evidence["verdict"] == recovery.evidence["reference_verdict"]


@pytest.mark.slow
def test_data_write_cuts_the_graph(small) -> None:
    d = small["data_write"]
    assert serious(d) == {"graph-cut", "overwritten-parameter", "recovery"}
    cut = finding(d, "graph-cut")
    assert set(cut.evidence["params"]) == {"theta", "sigma", "lambd", "gamma", "psi"}
    assert cut.evidence["receives_instead"] == ["conv.weight"]
    assert ".data" in cut.message
    assert finding(d, "overwritten-parameter").evidence["params"] == ["conv.weight"]
    assert d.recovery is not None
    assert d.recovery.gradient_missing
    assert d.recovery.verdict.kind == "stalled"  # theta never moves
    assert np.all(d.recovery.trajectory.params[:, 0] == d.recovery.start)


@pytest.mark.slow
def test_trainable_grid_is_a_trainable_constant(small) -> None:
    d = small["trainable_grid"]
    assert serious(d) == {"trainable-constant"}
    grids = finding(d, "trainable-constant").evidence["grids"]
    assert set(grids) == {"x", "y"}
    assert "along the columns" in grids["x"]
    assert "along the rows" in grids["y"]


@pytest.mark.slow
def test_convention_layer_names_frequency_normalisation_and_swap(small) -> None:
    d = small["convention"]
    assert {"convention-xy-swap", "convention-angular-frequency", "normalisation"} <= serious(d)
    assert serious(d) <= {"convention-xy-swap", "convention-angular-frequency",
                          "normalisation", "recovery"}
    freq = d.convention.mapping_of("freq")
    assert freq.kind == "angular-frequency"
    assert freq.constant == pytest.approx(2 * math.pi, rel=1e-6)
    assert d.convention.fit.lambd == pytest.approx(2 * math.pi / freq.value, rel=1e-9)
    theta = d.convention.mapping_of("theta")
    assert theta.kind == "xy-swap"
    assert theta.slope == pytest.approx(-1, abs=1e-6)
    assert d.convention.normalisation == "1 / (2 pi sigma^2)"
    sigma = d.convention.mapping_of("sigma")
    assert sigma.kind == "same"
    assert sigma.amplitude_exponent == pytest.approx(-2, abs=1e-5)
    assert d.geometry.boundary == "same"  # make_small pads by ksize // 2


@pytest.mark.slow
def test_bad_backward_is_a_wrong_derivative(small) -> None:
    d = small["bad_backward"]
    assert serious(d) == {"derivative-wrong", "recovery"}
    wrong = finding(d, "derivative-wrong")
    assert wrong.evidence["param"] == "theta"
    assert wrong.evidence["pattern"] == "sign"
    assert wrong.evidence["custom_functions"] == ["Rotate"]
    assert "Rotate.backward" in (wrong.fix or "")
    checks = next(c for c in d.derivatives if c.param == "theta").checks
    for c in checks:  # autograd = -(central difference), at every point
        assert c.autograd == pytest.approx(-c.central, rel=1e-6)
    assert finding(d, "recovery").evidence["departs_at"] == 1


@pytest.mark.slow
def test_unused_parameter(small) -> None:
    d = small["unused_param"]
    assert serious(d) == {"unused-parameter"}
    assert finding(d, "unused-parameter").evidence["params"] == ["phase"]


# -- the measurements against independent references -----------------------------------------

def test_effective_kernels_are_opencv_kernels_whatever_the_padding() -> None:
    cv2 = pytest.importorskip("cv2")
    with torch_session():
        from gabordiag.analysis.layer.probe import LayerProbe, load_layer

        probe = LayerProbe(load_layer(spec("correct", "make_small_pair")))
        for o, theta in enumerate((0.3, 1.2)):
            ref = cv2.getGaborKernel((9, 9), 2.0, theta, 5.0, 0.5, 0.0, ktype=cv2.CV_64F)
            assert np.allclose(probe.kernel(o, 0), ref, rtol=0, atol=1e-12)
        padded = LayerProbe(load_layer(spec("convention", "make_small")))
        assert padded.geometry.padding == 4
        # x along the rows: the transpose of ours, times 1 / (2 pi sigma^2)
        expected = gabor(9, 0.3, 2.0, 5.0, 0.5).T / (2 * math.pi * 2.0**2)
        assert np.allclose(padded.kernel(0, 0), expected, rtol=0, atol=1e-12)
        assert padded.linearity(np.random.default_rng(0).standard_normal((20, 20)), 0)[
            "padding_mode"] == "zeros"


def test_off_by_one_grid_is_a_centre_shift() -> None:
    with torch_session():
        from gabordiag.analysis.layer.convention import measure_convention
        from gabordiag.analysis.layer.flow import Projection, gradient_flow
        from gabordiag.analysis.layer.probe import LayerProbe, load_layer

        probe = LayerProbe(load_layer(spec("off_centre", "make_small")))
        image = np.random.default_rng(4).standard_normal((24, 24))
        flow = gradient_flow(Projection.build(probe, image, 0))
        convention = measure_convention(probe, flow, (0, 0))
    # the grid's x = col - c + 1: the envelope's centre sits at x = 0, one column left
    assert convention.centre_shift == (-1.0, -1.0)
    assert all(m.kind == "same" for m in convention.mappings)


def test_gradient_flow_against_the_layers_construction() -> None:
    with torch_session():
        from gabordiag.analysis.layer.flow import Projection, describe_grid, gradient_flow
        from gabordiag.analysis.layer.probe import LayerProbe, load_layer

        image = np.random.default_rng(1).standard_normal((24, 24))
        probe = LayerProbe(load_layer(spec("data_write", "make_small")))
        flow = gradient_flow(Projection.build(probe, image, 0))
        weight = flow.by_name("conv.weight")
        assert weight.grad == "finite"
        assert not weight.used
        assert weight.in_graph
        theta = flow.by_name("theta")
        assert theta.grad == "none"
        assert theta.changes_kernel
        assert not theta.in_graph
        probe = LayerProbe(load_layer(spec("bad_backward", "make_small")))
        flow = gradient_flow(Projection.build(probe, image, 0))
        assert flow.by_name("theta").custom_functions == ["Rotate"]
        assert flow.by_name("sigma").custom_functions == []
    assert describe_grid(np.arange(-3.0, 4.0)) is not None
    assert describe_grid(np.array([0.0, 1.0, 3.0])) is None
    assert describe_grid(np.ones((5, 5))) is None


def test_derivative_check_is_central_differences_of_the_forward() -> None:
    """The check's central difference equals one written here on the raw module."""
    with torch_session():
        from gabordiag.analysis.layer.derivs import check_derivatives
        from gabordiag.analysis.layer.flow import Projection, gradient_flow
        from gabordiag.analysis.layer.probe import LayerProbe, load_layer

        image = np.random.default_rng(2).standard_normal((24, 24))
        probe = LayerProbe(load_layer(spec("bad_backward", "make_small")))
        projection = Projection.build(probe, image, 0)
        flow = gradient_flow(projection)
        checks = {c.param: c for c in check_derivatives(projection, flow, {"here": {}})}
        module = load_callable(spec("bad_backward", "make_small"), "SPEC")().double()
        x = torch.tensor(image)[None, None]
        h = 1e-5
        with torch.no_grad():
            module.theta += h
            plus = float((module(x) * projection.weights).sum())
            module.theta -= 2 * h
            minus = float((module(x) * projection.weights).sum())
        central = (plus - minus) / (2 * h)
        theta = checks["theta"].checks[0]
        assert theta.central == pytest.approx(central, rel=1e-6)
        assert not checks["theta"].passed
        assert checks["sigma"].passed


def _torch_run(factory: str, optimizer: str, steps: int, image: np.ndarray,
               **hyper: float) -> np.ndarray:
    """The recovery run written with torch.optim on the layer itself."""
    module = load_callable(spec("correct", factory), "SPEC")().double()
    x = torch.tensor(image)[None, None]
    with torch.no_grad():
        module.theta[0] = math.pi / 4
        target = module(x)[0, 0].clone()
        module.theta[0] = -0.785
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer](
        [module.theta], **hyper)
    values = [float(module.theta.detach()[0])]
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.sqrt(torch.mean((module(x)[0, 0] - target) ** 2))
        loss.backward()
        opt.step()
        values.append(float(module.theta.detach()[0]))
    return np.array(values)


@pytest.mark.slow  # torch.optim's first optimizer imports torch._dynamo: seconds
@pytest.mark.parametrize(("optimizer", "hyper"), [
    ("sgd", {"lr": 0.001, "momentum": 0.9}), ("adam", {"lr": 0.01})])
def test_recovery_steps_like_torch_optim(optimizer: str, hyper: dict[str, float]) -> None:
    """gabordiag's optimizers fed the layer's loss and autograd gradient step like
    torch.optim stepping the layer itself."""
    config = small_config(optimizer=optimizer, **{k: str(v) for k, v in hyper.items()})
    image = np.random.default_rng(3).standard_normal((24, 24))
    with torch_session():
        from gabordiag.analysis.layer.experiment import layer_engine
        from gabordiag.analysis.layer.fit import GaborFit
        from gabordiag.analysis.layer.probe import LayerProbe, load_layer

        probe = LayerProbe(load_layer(spec("correct", "make_small")))
        labels = GaborFit(0.3, 5.0, 2.0, 0.5, 0.0, 1.0, 0.0, 0.0, 0.0)  # names only
        engine = layer_engine(probe, "theta", [0], (0, 0), image, config, labels)
        run = run_descent(engine, config.optimizer_settings, np.array([config.theta0]),
                          config.steps)
        expected = _torch_run("make_small", optimizer, config.steps, image, **hyper)
    assert np.allclose(run.params[:, 0], expected, rtol=0, atol=1e-10)


@pytest.mark.slow
def test_recovery_matches_gabordiag_reference_engine(small) -> None:
    """Torch autograd through the layer against the spectral engine's exact series."""
    r = small["correct"].recovery
    assert r is not None
    assert r.reference_values is not None
    assert np.allclose(r.trajectory.params[:, 0], r.reference_values, rtol=0, atol=1e-9)
    assert r.landscape.period == pytest.approx(math.pi)
    assert r.reference_loss is not None
    assert np.allclose(r.landscape.loss, r.reference_loss, rtol=1e-9, atol=1e-12)
    assert r.landscape.sign_agreement == 1.0


@pytest.mark.slow
def test_channel_picks_the_filter_and_its_theta_element() -> None:
    d = diagnose_layer(spec("correct", "make_small_pair"), small_config(), channel=(1, 0))
    assert d.convention.fit.theta == pytest.approx(1.2, abs=1e-9)
    assert d.convention.mapping_of("theta").param == "theta[1]"
    assert d.recovery is not None
    assert d.recovery.elements == [1]


# -- the command line ----------------------------------------------------------------------------

@pytest.mark.slow
def test_cli_json(tmp_path: Path) -> None:
    result = invoke("layer", spec("correct", "make_small"), *SMALL, "--json")
    assert result.code == 0, result.describe()
    data = result.json()
    assert result.out.strip() == json.dumps(data, sort_keys=True)
    assert data["schema"] == "gabordiag.layer/1"
    assert data["clean"] is True
    assert data["param"] == "theta"
    assert {f["id"] for f in data["findings"]} >= {"convention-matches", "derivatives-ok"}
    assert all(set(f) == {"id", "severity", "message", "fix", "evidence"}
               for f in data["findings"])


@pytest.mark.slow
def test_cli_text_ends_with_what_to_change(tmp_path: Path) -> None:
    result = invoke("layer", spec("bad_backward", "make_small"), *SMALL,
                    "--report", tmp_path / "rep", "--plot", tmp_path / "l.png")
    assert result.code == 0, result.describe()
    assert "derivative-wrong" in result.out
    tail = result.out[result.out.index("What to change in your code"):]
    assert "Rotate.backward" in tail
    assert "Findings" not in tail
    assert "report written to" in tail
    assert f"wrote {tmp_path / 'l.png'}" in result.err
    report = (tmp_path / "rep" / "report.md").read_text()
    ending = report[report.index("## What to change in your code"):]
    assert "Rotate.backward" in ending
    assert "##" not in ending[3:]  # the last section
    assert "derivative-wrong" in report
    assert "imported and run" in report
    assert (tmp_path / "rep" / "report.html").read_text().count("data:image/png;base64") == 1
    assert (tmp_path / "l.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(("args", "names"), [
    (["nocolon"], ["SPEC", "module:function"]),
    ([str(LAYERS / "missing.py") + ":make"], ["SPEC", "does not exist"]),
    ([spec("broken", "nothing")], ["SPEC", "no function"]),
    ([spec("broken", "raises")], ["SPEC", "ValueError", "no weights file found"]),
    ([spec("broken", "not_a_module")], ["SPEC", "int", "torch.nn.Module"]),
    ([spec("broken", "no_theta")], ["--param", "angle", "conv.weight"]),
    ([spec("broken", "bad_input")], ["SPEC", "(1, 1, 65, 65)", "expected 7 channels"]),
    ([spec("broken", "not_finite")], ["SPEC", "NaN or infinite", "finite input"]),
    ([spec("correct", "make_small"), "--param", "phi"], ["--param", "phi", "sigma"]),
    ([spec("correct", "make_small"), "--channel", "1,0"], ["--channel", "1 output"]),
    ([spec("correct", "make_small"), "--channel", "a"], ["--channel", "OUT,IN"]),
    ([spec("correct", "make_small"), "--size", "5"], ["--size", "9x9"]),
    ([spec("correct", "make_small"), "--loss", "nope"], ["--loss"]),
])
def test_cli_errors_are_one_line(args: list[str], names: list[str]) -> None:
    assert_usage_error(invoke("layer", *args), *names)


@pytest.mark.slow
def test_steps_beyond_the_time_limit_are_refused_before_the_run() -> None:
    result = invoke("layer", spec("correct", "make"), "--steps", "1000000")
    message = assert_usage_error(result, "--steps", "through your layer", "10 minutes")
    assert "minutes" in message.split("would take about")[1].split("here")[0]


def test_a_factory_that_exits_is_one_line() -> None:
    assert_usage_error(invoke("layer", spec("broken", "exits")), "SPEC", "sys.exit(3)")


def test_a_layer_that_prints_leaves_json_alone() -> None:
    result = invoke("layer", spec("broken", "chatty"), "--size", "16", "--steps", "5",
                    "--json")
    assert result.code == 0, result.describe()
    assert result.json()["param"] == "theta"  # stdout is one JSON object
    assert "building the layer" in result.err
    assert "forward (1, 1, 16, 16)" in result.err


@pytest.mark.parametrize("option", ["--plot", "--report"])
def test_no_output_over_the_layers_file(tmp_path: Path, option: str) -> None:
    code = tmp_path / "mylayer.py"
    code.write_text((LAYERS / "correct.py").read_text())
    before = code.read_bytes()
    if option == "--plot":  # a figure path that is the layer's code, through a link
        target = tmp_path / "figure.png"
        target.symlink_to(code)
    else:  # a report file that is the layer's code, through a link
        target = tmp_path / "rep"
        target.mkdir()
        (target / "report.md").symlink_to(code)
    result = invoke("layer", f"{code}:make_small", option, target)
    assert_usage_error(result, option, "SPEC")
    assert code.read_bytes() == before


# -- the full-size layers, as the README runs them (slow) -------------------------------------

EXPECTED = {"correct": set(), "data_write": {"graph-cut", "overwritten-parameter", "recovery"},
            "trainable_grid": {"trainable-constant"},
            "convention": {"convention-xy-swap", "convention-angular-frequency",
                           "normalisation", "recovery"},
            "bad_backward": {"derivative-wrong", "recovery"},
            "unused_param": {"unused-parameter"},
            "off_centre": {"centre-shift", "recovery"}}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_full_size_layers(name: str) -> None:
    result = invoke("layer", spec(name), "--json")
    assert result.code == 0, result.describe()
    data = result.json()
    serious_ids = {f["id"] for f in data["findings"] if f["severity"] != "info"}
    assert serious_ids == EXPECTED[name]
    assert data["clean"] is (name == "correct")


@pytest.mark.slow
def test_installed_entry_point(tmp_path: Path) -> None:
    done = subprocess.run([*entry_point(), "layer", spec("correct", "make_small"), *SMALL,
                           "--json"], capture_output=True, text=True, cwd=tmp_path,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["schema"] == "gabordiag.layer/1"
