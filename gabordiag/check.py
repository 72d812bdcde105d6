"""Recoverability as a regression check: ``[expect]`` tables in experiment files.

An expectation states what must hold for an experiment (its verdict, final error,
steps, loss period, stable learning rate, spurious minima, success rate over starts).
:func:`run_check` measures what each expectation needs and compares.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from .errors import ConfigError
from .experiment import Config, resolve_config
from .trajectory import VERDICTS

__all__ = ["EXPECT_KEYS", "SCHEMA", "CheckResult", "Expectation", "FileCheck",
           "collect_files", "load_check", "parse_expectations", "run_check", "to_junit"]

SCHEMA = "gabordiag.check/1"
EXPECT_KEYS = ("verdict", "max_final_error", "max_steps", "period", "min_success_rate",
               "basins_starts", "max_stable_lr_at_least", "max_stable_lr_at_most",
               "n_spurious_minima_at_most")
_NEEDS = {"verdict": "recover", "max_final_error": "recover", "max_steps": "recover",
          "period": "landscape", "max_stable_lr_at_least": "landscape",
          "max_stable_lr_at_most": "landscape", "n_spurious_minima_at_most": "landscape",
          "min_success_rate": "basins"}


@dataclass(frozen=True)
class Expectation:
    """One ``[expect]`` entry: its key and the value it must satisfy."""

    key: str
    value: Any


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

    @property
    def passed(self) -> bool:
        """True when every expectation holds."""
        return all(r.passed for r in self.results)


def _number(key: str, value: Any, *, low: float = 0.0, integer: bool = False) -> float:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not math.isfinite(value) or value < low:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{kind} >= {low:g}")
    return value


def parse_expectations(table: dict[str, Any], where: str) -> list[Expectation]:
    """Validate an ``[expect]`` table; errors name the file and key."""
    out = []
    for key, value in table.items():
        label = f"{where}: [expect] key {key!r}"
        if key not in EXPECT_KEYS:
            raise ConfigError(f"{label} is unknown; allowed keys: {', '.join(EXPECT_KEYS)}")
        try:
            out.append(Expectation(key, _validate(key, value)))
        except ValueError as exc:
            raise ConfigError(f"{label}: invalid value {value!r}; expected {exc}") from None
    if not any(e.key != "basins_starts" for e in out):
        raise ConfigError(f"{where}: [expect] states nothing to check")
    return out


def _validate(key: str, value: Any) -> Any:
    if key == "verdict":
        allowed = value if isinstance(value, list) else [value]
        if not allowed or any(v not in VERDICTS for v in allowed):
            raise ValueError("a verdict or a list of verdicts from " + ", ".join(VERDICTS))
        return allowed
    if key == "period":
        if value not in ("pi", "2pi"):
            raise ValueError('"pi" or "2pi"')
        return value
    if key == "min_success_rate":
        rate = _number(key, value)
        if rate > 1:
            raise ValueError("a number from 0 to 1")
        return float(rate)
    if key in ("max_steps", "n_spurious_minima_at_most"):
        return int(_number(key, value, integer=True))
    if key == "basins_starts":
        starts = int(_number(key, value, low=1, integer=True))
        if starts > 10_000:
            raise ValueError("an integer from 1 to 10000")
        return starts
    return float(_number(key, value))


def collect_files(paths: list[Path]) -> list[Path]:
    """TOML files from files and directories (searched recursively, sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.toml")))
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError(f"PATH: {path} does not exist")
    unique: dict[Path, Path] = {}
    for f in files:  # a file named twice (directly and through its directory) runs once
        unique.setdefault(f.resolve(), f)
    files = list(unique.values())
    if not files:
        raise ConfigError("PATH: no .toml files found in " + ", ".join(map(str, paths)))
    return files


def load_check(path: Path) -> FileCheck | None:
    """The config and expectations of a file; ``None`` when it has no ``[expect]``."""
    config, source = resolve_config(config_path=path)
    table = source.sections.get("expect")
    if table is None:
        return None
    return FileCheck(path=path, config=config,
                     expectations=parse_expectations(table, str(path)))


def run_check(check: FileCheck) -> FileCheck:
    """Measure what the file's expectations need and compare."""
    needs = {_NEEDS[e.key] for e in check.expectations if e.key in _NEEDS}
    measured: dict[str, Any] = {}
    timing: dict[str, float] = {}
    if "recover" in needs:
        measured["recover"], timing["recover"] = _timed(_measure_recover, check.config)
    if "landscape" in needs:
        measured["landscape"], timing["landscape"] = _timed(_measure_landscape, check.config)
    if "basins" in needs:
        starts = next((e.value for e in check.expectations if e.key == "basins_starts"), 72)
        measured["basins"], timing["basins"] = _timed(_measure_basins, check.config, starts)
    check.seconds = sum(timing.values())
    for e in check.expectations:
        if e.key == "basins_starts":
            continue
        result = _compare(e, measured[_NEEDS[e.key]])
        result.seconds = timing[_NEEDS[e.key]]  # shared by the keys it measured
        check.results.append(result)
    return check


def _timed(func: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = func(*args)
    return value, time.perf_counter() - start


def _measure_recover(config: Config) -> dict[str, Any]:
    from .basins import steps_to_settle
    from .recover import recover

    result = recover(config)
    t = result.trajectory
    out: dict[str, Any] = {"verdict": result.verdict.kind, "final_error": None,
                           "steps": None}
    if "theta" in t.names and t.stopped_at is None:
        j = t.names.index("theta")
        period = result.period or 2 * math.pi
        offset = (float(t.params[-1, j]) - config.target_theta) % period
        out["final_error"] = min(offset, period - offset)
        if result.verdict.kind in ("converged", "converged-equivalent"):
            out["steps"] = steps_to_settle(t.params[:, j])
    return out


def _measure_landscape(config: Config) -> dict[str, Any]:
    from .landscape import run_landscape

    land = run_landscape(config).landscape
    assert land is not None
    period = None if land.period is None else (
        "pi" if abs(land.period - math.pi) < 1e-12 else "2pi")
    facts = land.facts
    bound = facts.get("max_stable_lr", {}).get("sgd") if facts else None
    return {"period": period, "max_stable_lr": bound,
            "n_spurious_minima": facts.get("n_spurious_minima") if facts else None}


def _measure_basins(config: Config, starts: int) -> dict[str, Any]:
    from .basins import run_basins

    case = run_basins(config, starts=starts).cases[0]
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
    ok = got >= want if at_least else got <= want
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


def to_junit(checks: list[FileCheck], seconds: float) -> str:
    """JUnit XML: one test suite per file, one test case per expectation."""
    root = ElementTree.Element("testsuites", name="gabordiag check",
                               tests=str(sum(len(c.results) for c in checks)),
                               failures=str(sum(not r.passed for c in checks
                                                for r in c.results)),
                               time=f"{seconds:.3f}")
    for check in checks:
        suite = ElementTree.SubElement(
            root, "testsuite", name=str(check.path), tests=str(len(check.results)),
            failures=str(sum(not r.passed for r in check.results)), errors="0",
            time=f"{check.seconds:.3f}")
        for r in check.results:
            case = ElementTree.SubElement(suite, "testcase", classname=str(check.path),
                                          name=r.key, time=f"{r.seconds:.3f}")
            if not r.passed:
                failure = ElementTree.SubElement(case, "failure", message=r.message,
                                                 type="ExpectationFailed")
                failure.text = (f"expected {r.key} = {r.expected!r}, measured "
                                f"{r.measured!r}: {r.message}")
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(
        root, encoding="unicode") + "\n"
