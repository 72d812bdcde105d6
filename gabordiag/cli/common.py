"""Helpers shared by the command modules: the study of the options, output paths,
progress bars."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .options import allow_code
from .render import print_warning

if TYPE_CHECKING:
    from ..analysis.study import Study
    from ..config.model import Config
    from ..io import Output

__all__ = ["check_report", "check_run_outputs", "progress_bar", "run_inputs", "study_of",
           "write_figure",
           "write_table"]


def study_of(experiment: dict[str, Any], config_path: Optional[Path],
             several: Optional[dict[str, Any]] = None) -> Study:
    """The study of the experiment options (and ``--config`` file); the warnings of the
    resolution go to stderr now and stay on the study for ``--json``.

    An option given here that has no effect on the run is an error naming it
    (``several``: the values a command compares, e.g. basins' optimizers)."""
    from ..analysis.study import Study
    from ..config.model import ineffective_option, parse_option
    from ..config.resolve import resolve_config
    from ..errors import ConfigError

    config, source = resolve_config(experiment, config_path, allow_code=allow_code())
    compared = {key: [parse_option(key, v) for v in (several or {}).get(key) or []]
                for key in ("optimizer", "loss")}
    why = ineffective_option({k for k, v in experiment.items() if v is not None}, config,
                             compared["optimizer"], compared["loss"])
    if why is not None:
        raise ConfigError(why)
    for warning in source.warnings:
        print_warning(warning)
    return Study(config, warnings=source.warnings)


def run_inputs(config: Config, config_path: Optional[Path]) -> list[tuple[str, Path]]:
    """The files a run reads, by the option that names them: the config file, the image
    file, the user's code files. No output may be written over one of them."""
    from ..config.choices import SYNTHETIC
    from ..config.paths import code_file

    inputs: list[tuple[str, Path]] = []
    if config_path is not None:
        inputs.append(("--config", config_path))
    if config.image not in SYNTHETIC:
        inputs.append(("--image", Path(config.image)))
    for option, spec in (("--kernel", config.kernel), ("--derivative", config.derivative)):
        found = code_file(spec) if spec else None
        if found is not None:
            inputs.append((option, found))
    return inputs


def check_run_outputs(config: Config, config_path: Optional[Path], *,
                      plot: Optional[Path] = None, csv: Optional[Path] = None,
                      others: tuple[Output, ...] = (),
                      extra_inputs: tuple[tuple[str, Path], ...] = ()) -> None:
    """Check a run's output files before any work (writable, not a device or pipe, not
    an input of the run or one of ``extra_inputs``, no two the same); errors name the
    options."""
    from ..io import FIGURE_SUFFIXES, Output, check_outputs

    outputs = [*others]
    if plot is not None:
        outputs.append(Output("--plot", plot, FIGURE_SUFFIXES))
    if csv is not None:
        outputs.append(Output("--csv", csv))
    check_outputs(outputs, [*run_inputs(config, config_path), *extra_inputs])


def check_report(report: Path, names: tuple[str, ...], inputs: list[tuple[str, Path]],
                 plot: Optional[Path] = None) -> None:
    """Check every file ``--report DIR`` will hold (``names``) before any work: not an
    input of the run, not the ``--plot`` file, not a device."""
    from ..io import FIGURE_SUFFIXES, Output, check_report_directory

    outputs = [Output("--plot", plot, FIGURE_SUFFIXES)] if plot is not None else []
    check_report_directory(report, "--report", names, inputs, outputs)


@contextlib.contextmanager
def progress_bar(total: int, description: str, enabled: bool = True, min_total: int = 50
                 ) -> Iterator[Optional[Callable[..., None]]]:
    """A rich progress bar on stderr when it is a terminal and the work is long
    (``total >= min_total``); yields ``advance_to(done, new_total=None)``."""
    if not enabled or total < min_total or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from .render import err_console

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        last = [0]

        def advance_to(done: int, new_total: int | None = None) -> None:
            if new_total is not None:
                progress.update(task, total=new_total)
            if done - last[0] >= max(1, total // 200) or done == total or new_total:
                progress.update(task, completed=done)
                last[0] = done

        yield advance_to


def write_figure(make: Callable[[], Any], path: Path) -> None:
    """Build a figure (matplotlib is imported only now), write it atomically in the
    format of the suffix, and say so on stderr: ``wrote FILE``."""
    from ..viz.figures import save_figure

    save_figure(make(), path)
    sys.stderr.write(f"wrote {path}\n")


def write_table(text: str, path: Path) -> None:
    """Write CSV text atomically (quietly: stdout and stderr stay the command's)."""
    from ..io import write_text_atomic

    write_text_atomic(path, text)
