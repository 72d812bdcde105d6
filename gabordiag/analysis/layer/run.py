"""``gabordiag layer``: the whole diagnosis of a user's PyTorch layer, in order: load and
probe it, gradient flow, the effective kernel and its convention, the derivatives, the
recovery experiment beside the reference, and the findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ...config.model import Config
from ...errors import ConfigError
from ..study import Study
from .convention import measure_convention
from .derivs import check_derivatives
from .experiment import LayerRecovery, layer_engine, run_layer_recovery
from .findings import layer_findings
from .fit import fit_gabor
from .flow import Projection, gradient_flow
from .probe import LayerProbe, load_layer
from .result import LayerDiagnosis
from .session import torch_session

__all__ = ["diagnose_layer"]

ANGLE_KINDS = ("same", "opposite", "xy-swap", "offset", "degrees", "other")


def _orientation(probe: LayerProbe, param: str | None) -> str:
    """The parameter ``--param`` names, or the one called theta; errors list the
    layer's parameters."""
    names = list(probe.params)
    listed = ", ".join(names)
    if param is not None:
        if param not in names:
            raise ConfigError(f"--param: the layer has no parameter {param!r}; its "
                              f"parameters: {listed}")
        return param
    found = [n for n in names if n.split(".")[-1] == "theta"]
    if not found:
        raise ConfigError(f"--param: the layer has no parameter called theta; its "
                          f"parameters: {listed}; name its orientation with --param NAME")
    if len(found) > 1:
        raise ConfigError(f"--param: several parameters are called theta ({', '.join(found)}); "
                          "name one with --param NAME")
    return found[0]


def _channel(probe: LayerProbe, channel: tuple[int, int] | None) -> tuple[int, int]:
    g = probe.geometry
    o, i = channel or (0, 0)
    if not (0 <= o < g.out_channels and 0 <= i < g.in_channels):
        raise ConfigError(f"--channel: {o},{i} is outside the layer's {g.out_channels} output "
                          f"x {g.in_channels} input channel(s); use OUT,IN from 0,0 to "
                          f"{g.out_channels - 1},{g.in_channels - 1}")
    return o, i


def diagnose_layer(spec: str, config: Config, param: str | None = None,
                   channel: tuple[int, int] | None = None,
                   progress: Callable[[str], None] | None = None) -> LayerDiagnosis:
    """Diagnose the layer the factory ``spec`` makes (``module:function`` or
    ``file.py:function``; it is imported and run).

    Parameters
    ----------
    spec : str
        The factory: no arguments, returns a ``torch.nn.Module`` taking ``(N, C, H, W)``.
    config : Config
        The image (``image``, ``size``, ``seed``, ``standardize``) and the recovery
        experiment (``target_theta``, ``theta0``, loss, optimizer, lr, steps ...), in the
        units of the layer's orientation parameter.
    param : str, optional
        The layer's orientation parameter (default: the one called theta).
    channel : (int, int), optional
        The (out, in) filter to fit and recover (default ``(0, 0)``).
    progress : callable, optional
        Called with the name of each stage as it starts.
    """
    def stage(name: str) -> None:
        if progress is not None:
            progress(name)

    with torch_session():
        stage("loading the layer")
        module = load_layer(spec)
        probe = LayerProbe(module, spec)
        name = _orientation(probe, param)
        o, i = _channel(probe, channel)
        k = probe.geometry.ksize
        if config.size < k and config.image in ("pink", "white", "grating"):
            raise ConfigError(f"--size: {config.size} is smaller than the layer's kernel "
                              f"({k}x{k}); use --size {max(2 * k, 64)} or more")
        image = Study(replace(config, ksize=k, boundary="same", learn=("theta",),
                              kernel=None, derivative=None)).image
        if min(image.shape) < k:
            raise ConfigError(f"--image: the image ({image.shape[0]}x{image.shape[1]}) is "
                              f"smaller than the layer's kernel ({k}x{k})")
        stage("gradient flow")
        projection = Projection.build(probe, image, i, seed=config.seed)
        flow = gradient_flow(projection)
        stage("effective kernel")
        convention = measure_convention(probe, flow, (o, i))
        linearity = probe.linearity(image, i)
        elements = probe.elements_of(name, o, i)
        stage("derivatives")
        points: dict[str, dict[str, tuple[list[int], float]]] = {"as loaded": {}}
        if elements:
            points[f"at {name} = {config.target_theta:.4g}"] = {
                name: (elements, config.target_theta)}
        derivatives = check_derivatives(projection, flow, points)
        recovery: LayerRecovery | None = None
        note = ""
        if not elements:
            note = (f"{name} does not change filter ({o}, {i}) (or has more than 256 "
                    "elements): no recovery experiment; choose another --param or --channel")
        else:
            stage("recovery")
            with probe.changed({name: (elements, config.target_theta)}):
                target_fit = fit_gabor(probe.kernel(o, i))
            mapping = convention.mapping_of(name)
            slope = mapping.slope if mapping is not None and mapping.kind in ANGLE_KINDS \
                and mapping.ours == "theta" else None
            engine = layer_engine(probe, name, elements, (o, i), image, config, target_fit)
            boundary = probe.geometry.boundary
            mode = linearity.get("padding_mode")
            if boundary == "same" and mode != "zeros":  # ours: zero padding or wrap-around
                boundary = "circular" if mode == "circular" else None
            recovery = run_layer_recovery(engine, config, target_fit, slope, boundary)
        probe.restore()
        findings = layer_findings(flow, convention, derivatives, probe.geometry, linearity,
                                  recovery, note, config)
        return LayerDiagnosis(spec=spec, module=type(module).__name__, config=config,
                              param=name, channel=(o, i), geometry=probe.geometry,
                              linearity=linearity, flow=flow, convention=convention,
                              derivatives=derivatives, recovery=recovery, recovery_note=note,
                              findings=findings)
