"""Recoverability as a regression check: ``[expect]`` tables in experiment files.

An expectation states what must hold for an experiment (its verdict, final error,
steps, loss period, stable learning rate, spurious minima, success rate over starts).
:func:`run_check` measures what each expectation needs and compares.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.choices import RECOVERED, SYNTHETIC
from ..config.expect import Expectation, parse_expectations
from ..config.model import Config
from ..config.paths import code_file, not_a_regular_file
from ..config.resolve import resolve_config
from ..core.kernel import period_label
from ..descent.verdicts import steps_to_settle
from ..errors import ConfigError, GabordiagError, LimitError
from .basins import MAX_RUN_STEPS, check_sweep, run_basins
from .cost import Cost, check_cost, refuse
from .landscape import run_landscape
from .recover import recover
from .study import Study

__all__ = ["CHECK_ATOL", "CHECK_RTOL", "SCHEMA", "CheckReport", "CheckResult", "FileCheck",
           "check_inputs", "collect_files", "load_check", "run_check", "run_checks"]

SCHEMA = "gabordiag.check/1"
CHECK_RTOL = 1e-9  # a measured value this close (relative) to its bound meets it
CHECK_ATOL = 1e-12  # ... and a final error (radians) this close to its bound
_NEEDS = {"verdict": "recover", "max_final_error": "recover", "max_steps": "recover",
          "period": "landscape", "max_stable_lr_at_least": "landscape",
          "max_stable_lr_at_most": "landscape", "n_spurious_minima_at_most": "landscape",
          "min_success_rate": "basins"}


@dataclass
class CheckResult:
    """An expectation, what was measured, and whether it holds."""

    key: str
    expected: Any
    measured: Any
    passed: bool
    message: str
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"key": self.key, "expected": self.expected, "measured": self.measured,
                "passed": self.passed, "message": self.message}


@dataclass
class FileCheck:
    """The expectations of one file and their results."""

    path: Path
    config: Config
    expectations: list[Expectation]
    results: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when every expectation holds."""
        return all(r.passed for r in self.results)


def collect_files(paths: list[Path]) -> list[Path]:
    """TOML files from files and directories (searched recursively, sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.toml")))
        elif path.is_file():
            files.append(path)
        else:  # say what it is: a pipe, a device or a link loop is not "missing"
            words = not_a_regular_file(path) or "is not a file or directory"
            raise ConfigError(f"PATH: {path} {words}; give TOML files or directories")
    unique: dict[Path, Path] = {}
    for f in files:  # a file named twice (directly and through its directory) runs once
        unique.setdefault(f.resolve(), f)
    files = list(unique.values())
    if not files:
        raise ConfigError("PATH: no .toml files found in " + ", ".join(map(str, paths)))
    return files


def check_inputs(files: list[Path]) -> list[tuple[str, Path]]:
    """What checking ``files`` reads, by what names it: the files, and the image and code
    files their configs name (a file that does not load is left to :func:`run_checks`,
    which says why)."""
    inputs: list[tuple[str, Path]] = []
    for path in files:
        inputs.append(("PATH", path))
        try:
            config, _ = resolve_config(config_path=path, allow_code=True)  # nothing runs
        except GabordiagError:
            continue
        if config.image not in SYNTHETIC:
            inputs.append((f"{path}: image", Path(config.image)))
        for key, spec in (("kernel", config.kernel), ("derivative", config.derivative)):
            found = code_file(spec) if spec else None
            if found is not None:
                inputs.append((f"{path}: {key}", found))
    return inputs


def load_check(path: Path, allow_code: bool = False) -> FileCheck | None:
    """The config and expectations of a file; ``None`` when it has no ``[expect]``.
    A file that names code to run is refused unless ``allow_code``."""
    config, source = resolve_config(config_path=path, allow_code=allow_code)
    table = source.sections.get("expect")
    if table is None:
        return None
    expectations = parse_expectations(table, str(path))
    _refuse_sweep(path, config, expectations)
    return FileCheck(path=path, config=config, expectations=expectations,
                     warnings=source.warnings)


def _refuse_sweep(path: Path, config: Config, expectations: list[Expectation]) -> None:
    """Refuse, in the file's own words and before any file runs, a basins sweep that its
    expectations need and that :func:`~gabordiag.analysis.basins.check_sweep` refuses."""
    keys = [e.key for e in expectations if _NEEDS.get(e.key) == "basins"]
    if not keys:
        return
    if config.learn != ("theta",):
        raise ConfigError(f"{path}: key 'learn': [expect] {keys[0]} sweeps starting angles "
                          'and needs learn = ["theta"]')
    starts = next((e.value for e in expectations if e.key == "basins_starts"), 72)
    try:
        check_sweep(Study(config), starts, 1)
    except LimitError:
        raise LimitError(f"{path}: keys 'steps' and [expect] 'basins_starts': {starts:,} "
                         f"starts x {config.steps:,} steps exceeds {MAX_RUN_STEPS:,} "
                         "descent steps; use fewer") from None


def run_check(check: FileCheck) -> FileCheck:
    """Measure what the file's expectations need, on one study of its config, and
    compare."""
    study = Study(check.config, warnings=check.warnings)
    needs = {_NEEDS[e.key] for e in check.expectations if e.key in _NEEDS}
    measured: dict[str, Any] = {}
    timing: dict[str, float] = {}
    if "recover" in needs:
        measured["recover"], timing["recover"] = _timed(_measure_recover, study)
    if "landscape" in needs:
        measured["landscape"], timing["landscape"] = _timed(_measure_landscape, study)
    if "basins" in needs:
        starts = next((e.value for e in check.expectations if e.key == "basins_starts"), 72)
        measured["basins"], timing["basins"] = _timed(_measure_basins, study, starts)
    check.seconds = sum(timing.values())
    for e in check.expectations:
        if e.key == "basins_starts":
            continue
        result = _compare(e, measured[_NEEDS[e.key]])
        result.seconds = timing[_NEEDS[e.key]]  # shared by the keys it measured
        check.results.append(result)
    return check


def _timed(func: Callable[..., dict[str, Any]], *args: Any) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    value = func(*args)
    return value, time.perf_counter() - start


def _measure_recover(study: Study) -> dict[str, Any]:
    result = recover(study)
    t = result.trajectory
    out: dict[str, Any] = {"verdict": result.verdict.kind, "final_error": None,
                           "steps": None}
    if "theta" in t.names and t.stopped_at is None:
        j = t.names.index("theta")
        period = result.period or 2 * math.pi
        offset = (float(t.params[-1, j]) - study.config.target_theta) % period
        out["final_error"] = min(offset, period - offset)
        if result.verdict.kind in RECOVERED:
            out["steps"] = int(steps_to_settle(t.params[:, j]))
    return out


def _measure_landscape(study: Study) -> dict[str, Any]:
    land = run_landscape(study).landscape
    assert land is not None
    facts = land.facts
    bound = facts.get("max_stable_lr", {}).get("sgd") if facts else None
    return {"period": period_label(land.period), "max_stable_lr": bound,
            "n_spurious_minima": facts.get("n_spurious_minima") if facts else None}


def _measure_basins(study: Study, starts: int) -> dict[str, Any]:
    case = run_basins(study, starts=starts).cases[0]
    return {"success_rate": case.summary()["success_rate"], "starts": starts}


def _compare(e: Expectation, m: dict[str, Any]) -> CheckResult:
    key, want = e.key, e.value
    if key == "verdict":
        got = m["verdict"]
        ok = got in want
        shown = want[0] if len(want) == 1 else " or ".join(want)
        return CheckResult(key, shown, got, ok, f"verdict {got}" + ("" if ok else
                           f", expected {shown}"))
    if key == "period":
        got = m["period"]
        return CheckResult(key, want, got, got == want,
                           f"period {got}" + ("" if got == want else f", expected {want}"))
    field_of = {"max_final_error": "final_error", "max_steps": "steps",
                "max_stable_lr_at_least": "max_stable_lr",
                "max_stable_lr_at_most": "max_stable_lr",
                "n_spurious_minima_at_most": "n_spurious_minima",
                "min_success_rate": "success_rate"}
    got = m[field_of[key]]
    if got is None:
        why = {"max_steps": "the run did not converge",
               "max_final_error": "the run has no final theta (not learned, or diverged)"
               }.get(key, "no curvature bound exists (a non-smooth loss at the minimum)")
        return CheckResult(key, want, None, False, f"not measurable: {why}")
    at_least = key in ("max_stable_lr_at_least", "min_success_rate")
    # a bound is met within rounding noise: the last bits of a measurement change with
    # the BLAS thread count or the machine, and must not flip a CI result
    slack = CHECK_RTOL * max(abs(got), abs(want)) + (CHECK_ATOL if key == "max_final_error"
                                                     else 0.0)
    ok = got >= want - slack if at_least else got <= want + slack
    relation = ">=" if at_least else "<="
    message = f"{_fmt(got)} {relation} {_fmt(want)}"
    if not ok:
        message = (f"{_fmt(got)} is not {relation} {_fmt(want)} "
                   f"(off by {_fmt(abs(got - want))})")
    return CheckResult(key, want, got, ok, message)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@dataclass
class CheckReport:
    """Every checked file, the files without expectations, and the time it took."""

    files: list[FileCheck]
    skipped: list[Path]
    seconds: float

    @property
    def passed(self) -> bool:
        """True when every expectation of every file holds."""
        return all(c.passed for c in self.files)

    @property
    def warnings(self) -> list[str]:
        """What reading the files found worth saying."""
        return [w for c in self.files for w in c.warnings]

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready (``schema`` gabordiag.check/1)."""
        return {"schema": SCHEMA, "passed": self.passed,
                "skipped": [str(p) for p in self.skipped],
                "files": [{"path": str(c.path), "passed": c.passed,
                           "results": [r.to_dict() for r in c.results]}
                          for c in self.files]}


def run_checks(files: list[Path], progress: Callable[[int], None] | None = None,
               allow_code: bool = False) -> CheckReport:
    """Load every file (from :func:`collect_files`) first, so that a bad one fails
    before any work, then check those with an ``[expect]`` table; a set with none is an
    error."""
    loaded = [(path, load_check(path, allow_code)) for path in files]
    checks = [c for _, c in loaded if c is not None]
    skipped = [path for path, c in loaded if c is None]
    if not checks:  # a CI job must not pass while checking nothing
        raise ConfigError("PATH: none of the files has an [expect] table; nothing to check")
    total = Cost()
    for check in checks:  # every file's cost, before any of them runs
        needs = {_NEEDS[e.key] for e in check.expectations if e.key in _NEEDS}
        starts = next((e.value for e in check.expectations if e.key == "basins_starts"), 72)
        total = total + check_cost(Study(check.config), needs, starts)
    refuse(total, "PATH", "check fewer or smaller experiments (steps, basins_starts, image "
           "and kernel sizes)")
    start = time.perf_counter()
    for i, check in enumerate(checks):
        run_check(check)
        if progress is not None:
            progress(i + 1)
    return CheckReport(checks, skipped, time.perf_counter() - start)
