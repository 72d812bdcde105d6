"""Helpers shared by the command modules: the study of the options, output paths,
progress bars."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .render import print_warning

if TYPE_CHECKING:
    from ..analysis.study import Study

__all__ = ["progress_bar", "study_of", "write_figure", "write_table"]


def study_of(experiment: dict[str, Any], config_path: Optional[Path]) -> Study:
    """The study of the experiment options (and ``--config`` file); the warnings of the
    resolution go to stderr now and stay on the study for ``--json``."""
    from ..analysis.study import Study
    from ..config.resolve import resolve_config

    config, source = resolve_config(experiment, config_path)
    for warning in source.warnings:
        print_warning(warning)
    return Study(config, warnings=source.warnings)


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
