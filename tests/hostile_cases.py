"""Hostile input, second round (issue 15): what a new user or a careless script tries,
each case with what must hold.

Every case runs in a fresh directory and checks that the tool never destroys an input,
never hangs, never leaves litter, and ends in a correct run or one error line (exit 2,
no traceback), or the documented exit code of a signal. Most cases run the command
line in this process; signals, pipes, encodings and thread counts use a real process.

Run: ``python tests/hostile_cases.py`` (about 2 minutes) prints each case and
"N of N hostile cases held"; ``--quick`` leaves out the slow ones; ``-k WORD`` runs the
cases whose name contains WORD. The test suite runs it (tests/test_hostile.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PREFIX = "gabordiag: error:"
SMALL = ["--size", "32", "--ksize", "5", "--steps", "5"]
ON_FILE = ["--ksize", "5", "--steps", "5"]


@dataclass
class Outcome:
    """What a command did."""

    code: int
    out: str
    err: str
    seconds: float

    def __str__(self) -> str:
        return f"exit {self.code}, stderr {self.err[-300:]!r}, stdout {self.out[:100]!r}"


@dataclass
class Case:
    name: str
    check: Callable[[Path], None]
    slow: bool = False


CASES: list[Case] = []


def case(name: str, slow: bool = False) -> Callable[[Callable[[Path], None]], Callable[..., None]]:
    """Register a case: a function of a fresh directory that raises when it breaks."""
    def register(check: Callable[[Path], None]) -> Callable[[Path], None]:
        CASES.append(Case(name, check, slow))
        return check
    return register


# -- running the tool ---------------------------------------------------------------------

def run(*args: object, cwd: Path | None = None) -> Outcome:
    """``gabordiag ARGS`` in this process (output captured; warnings recorded, so that
    one reaching a user's stderr shows up in ``err``)."""
    import warnings

    from gabordiag.cli import main

    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with warnings.catch_warnings(record=True) as caught, \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            warnings.simplefilter("always")
            code = main([str(a) for a in args])
    finally:
        os.chdir(here)
    shown = "".join(f"{w.category.__name__}: {w.message}\n" for w in caught
                    if not issubclass(w.category, (DeprecationWarning, ResourceWarning)))
    return Outcome(code, out.getvalue(), err.getvalue() + shown, time.perf_counter() - start)


def command() -> list[str]:
    return [sys.executable, "-m", "gabordiag"]


def run_process(*args: object, cwd: Path, env: dict[str, str] | None = None,
                timeout: float = 120) -> Outcome:
    start = time.perf_counter()
    proc = subprocess.run([*command(), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout)
    return Outcome(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def default_signals() -> None:
    """In the child: SIGINT and SIGHUP at their defaults, as a terminal gives them (this
    script run under nohup, or as a background job, ignores them; the CLI rightly keeps
    an ignored signal ignored)."""
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def signalled(args: list[str], signum: int, cwd: Path) -> Outcome:
    """Run, wait until it has worked 1.5 s of CPU, send ``signum``."""
    start = time.perf_counter()
    proc = subprocess.Popen([*command(), *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    try:
        while cpu_seconds(proc.pid) < 1.5:
            assert proc.poll() is None, f"ended before the signal: {proc.communicate()}"
            time.sleep(0.05)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return Outcome(proc.returncode, out, err, time.perf_counter() - start)


# -- what must hold -----------------------------------------------------------------------

def one_error(o: Outcome, *names: str, within: float = 10.0) -> str:
    """Exit 2, one error line naming ``names``, no traceback, nothing on stdout, quickly."""
    assert o.code == 2, o
    assert "Traceback" not in o.err, o
    assert o.out == "", o
    lines = o.err.splitlines()
    assert lines, o
    assert lines[-1].startswith(PREFIX), o
    assert all(line.startswith("gabordiag: warning:") for line in lines[:-1]), o
    for name in names:
        assert name in lines[-1], (name, o)
    assert o.seconds < within, f"took {o.seconds:.1f} s"
    return lines[-1]


def success(o: Outcome) -> None:
    assert o.code == 0, o
    assert "Traceback" not in o.err, o


def no_litter(d: Path) -> None:
    litter = [p.name for p in d.rglob(".*") if p.name not in (".", "..")]
    assert litter == [], f"temporary files left: {litter}"


def image_files(d: Path) -> dict[str, Path]:
    from PIL import Image

    npy, png = d / "img.npy", d / "landscape.png"
    np.save(npy, np.random.default_rng(0).random((40, 40)))
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 40), dtype=np.uint8)
                    ).save(png)
    return {"npy": npy, "png": png}


def unchanged(path: Path, before: bytes) -> None:
    assert path.read_bytes() == before, f"{path.name} was changed"


# -- never destroy an input ---------------------------------------------------------------

def _over_input(args: list[str], target: str, names: list[str]) -> Callable[[Path], None]:
    def check(d: Path) -> None:
        files = image_files(d)
        files["toml"] = d / "c.toml"
        files["toml"].write_text('loss = "mse"\n[expect]\nverdict = "cycling"\n')
        files["code"] = d / "mine.py"
        files["code"].write_text("from gabordiag import gabor_kernel as k\n")
        os.link(files["npy"], d / "hard.npy")
        (d / "alias.png").symlink_to(files["png"])
        before = {k: p.read_bytes() for k, p in files.items()}
        one_error(run(*args, cwd=d), *names)
        for key, path in files.items():
            unchanged(path, before[key])
        no_litter(d)
    return check


for _name, _args, _target, _names in [
    ("recover --image img.npy --csv img.npy",
     ["recover", "--image", "img.npy", "--csv", "img.npy", *ON_FILE], "npy", ["--csv", "--image"]),
    ("recover --image img.png --plot img.png",
     ["recover", "--image", "landscape.png", "--plot", "landscape.png", *ON_FILE], "png",
     ["--plot", "--image"]),
    ("landscape --image x.png --plot ./x.png",
     ["landscape", "--image", "landscape.png", "--plot", "./landscape.png", "--ksize", "5"],
     "png", ["--plot"]),
    ("recover --plot through a link to the input image",
     ["recover", "--image", "landscape.png", "--plot", "alias.png", *ON_FILE], "png",
     ["--plot"]),
    ("recover --csv on a hard link of the input image",
     ["recover", "--image", "img.npy", "--csv", "hard.npy", *ON_FILE], "npy", ["--csv"]),
    ("recover --config c.toml --csv c.toml",
     ["recover", "--config", "c.toml", "--csv", "c.toml", *SMALL], "toml", ["--csv", "--config"]),
    ("check s.toml --junit s.toml", ["check", "c.toml", "--junit", "c.toml"], "toml",
     ["--junit"]),
    ("diagnose --image landscape.png --report .",
     ["diagnose", "--image", "landscape.png", "--report", ".", *ON_FILE], "png", ["--report"]),
    ("recover --kernel mine.py:k --csv mine.py",
     ["recover", "--kernel", "mine.py:k", "--csv", "mine.py", *SMALL], "code", ["--kernel"]),
    ("recover --plot x.png --csv x.png", ["recover", "--plot", "x.png", "--csv", "x.png", *SMALL],
     "", ["--csv", "--plot"]),
]:
    case(f"input kept: {_name}")(_over_input(_args, _target, _names))


@case("a report file linked to /dev/full is refused, the device kept")
def _(d: Path) -> None:
    (d / "R").mkdir()
    (d / "R" / "report.html").symlink_to("/dev/full")
    one_error(run("diagnose", "--report", "R", *SMALL, cwd=d), "--report", within=5)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@case("--csv linked to /dev/full is refused")
def _(d: Path) -> None:
    (d / "out.csv").symlink_to("/dev/full")
    one_error(run("recover", "--csv", "out.csv", *SMALL, cwd=d), "--csv")


@case("a report under a file is refused before any work")
def _(d: Path) -> None:
    (d / "file").write_text("x")
    one_error(run("diagnose", "--report", "file/R", *SMALL, cwd=d), "--report", within=5)


@case("replacing a mode-600 output keeps mode 600")
def _(d: Path) -> None:
    (d / "out.csv").write_text("old")
    (d / "out.csv").chmod(0o600)
    success(run("recover", "--csv", "out.csv", *SMALL, cwd=d))
    assert stat.S_IMODE((d / "out.csv").stat().st_mode) == 0o600
    no_litter(d)


@case("a hard link to an output keeps the old content (as the README says)")
def _(d: Path) -> None:
    (d / "out.csv").write_text("old")
    os.link(d / "out.csv", d / "other.csv")
    success(run("recover", "--csv", "out.csv", *SMALL, cwd=d))
    assert (d / "other.csv").read_text() == "old"
    assert (d / "out.csv").read_text() != "old"


@case("a symlinked output: the file it points to is replaced, the link kept")
def _(d: Path) -> None:
    (d / "real.csv").write_text("old")
    (d / "link.csv").symlink_to(d / "real.csv")
    success(run("recover", "--csv", "link.csv", *SMALL, cwd=d))
    assert (d / "link.csv").is_symlink()
    assert (d / "real.csv").read_text().startswith("step")


# -- signals: exit code, one line, no litter ------------------------------------------------

LONG = ["basins", "--starts", "20000", "--steps", "2000", "--plot", "out.png"]

for _sig, _code, _words in [(signal.SIGINT, 130, "interrupted"),
                            (signal.SIGTERM, 143, "terminated by SIGTERM"),
                            (signal.SIGHUP, 129, "terminated by SIGHUP")]:
    def _signal_case(d: Path, signum: int = _sig, code: int = _code, words: str = _words) -> None:
        o = signalled(LONG, signum, d)
        assert o.code == code, o
        assert o.err == f"{PREFIX} {words}\n", o
        assert list(d.iterdir()) == [], list(d.iterdir())

    case(f"{signal.Signals(_sig).name} during basins: exit {_code}, one line, no files",
         slow=True)(_signal_case)


@case("SIGTERM during diagnose --report R leaves no R", slow=True)
def _(d: Path) -> None:
    o = signalled(["diagnose", "--starts", "5000", "--steps", "1000", "--report", "R"],
                  signal.SIGTERM, d)
    assert o.code == 143, o
    assert list(d.iterdir()) == [], list(d.iterdir())


# -- never hang: inputs that are not files, limits up front ----------------------------------

@case("--config /dev/zero is one line (read 3.3 GB, then a traceback)")
def _(d: Path) -> None:
    one_error(run("recover", "--config", "/dev/zero", *SMALL, cwd=d), "--config", within=5)


@case("--config FIFO is one line (blocked forever)")
def _(d: Path) -> None:
    os.mkfifo(d / "c.toml")
    one_error(run("recover", "--config", "c.toml", *SMALL, cwd=d), "named pipe", within=5)


@case("--config directory is one line")
def _(d: Path) -> None:
    one_error(run("config", "show", "--config", ".", cwd=d), "is a directory")


@case("a config over 1 MiB is one line")
def _(d: Path) -> None:
    (d / "big.toml").write_bytes(b"# " + b"x" * (2 << 20))
    one_error(run("config", "show", "--config", "big.toml", cwd=d), "1 MiB")


for _command in (["recover", *SMALL, "--config"], ["check"]):
    def _nested(d: Path, args: list[str] = _command) -> None:
        (d / "deep.toml").write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
        one_error(run(*args, "deep.toml", cwd=d), "deep.toml")

    case(f"a 5,000-deep nested TOML is one line ({_command[0]})")(_nested)

for _args, _words in [
    (["landscape", "--range", "0,1e6"], ["--range"]),
    (["landscape", "--range", "0,1e9"], ["--range"]),
    (["landscape", "--range", "0,1e15"], ["--range"]),
    (["remedies", "--starts", "10000", "--steps", "20000"], ["--starts"]),
    (["remedies", "--steps", "1000000"], ["--steps"]),
    (["remedies", "--starts", "10000", "--steps", "5000"], ["--starts"]),
    (["diagnose", "--starts", "10000", "--steps", "1000000"], ["--starts"]),
    (["diagnose", "--starts", "10000", "--steps", "5000"], ["--starts"]),
    (["basins", "--starts", "100000", "--steps", "501"], ["--starts"]),
    (["basins", "--loss", "l1", "--steps", "3000"], ["--starts", "limit"]),
    (["recover", "--loss", "mse", "--learn", "theta,sigma", "--ksize", "89", "--size", "4096",
      "--steps", "1000000"], ["--steps", "limit"]),
    (["recover", "--engine", "direct", "--steps", "1000000"], ["--steps", "limit"]),
    (["landscape", "--target-theta=1.8014398509481988e+16"], ["--target-theta"]),
]:
    def _limit(d: Path, args: list[str] = _args, words: list[str] = _words) -> None:
        one_error(run(*args, cwd=d), *words)

    case(f"refused up front: {' '.join(_args)}")(_limit)


@case("refused up front: a slow --kernel's own time is counted")
def _(d: Path) -> None:
    (d / "slow.py").write_text("import time\nfrom gabordiag import gabor_kernel\n\n"
                               "def k(ksize, **p):\n    time.sleep(0.002)\n"
                               "    return gabor_kernel(ksize, **p)\n")
    one_error(run("recover", "--loss", "l1", "--steps", "100000", "--kernel", "slow.py:k",
                  cwd=d), "--steps", "limit")


@case("landscape --gamma 158 (a line-thin envelope) stays under 1 GiB (took 3.4 GB)",
      slow=True)
def _(d: Path) -> None:
    child = ("import sys\nfrom gabordiag.cli import main\ncode = main(sys.argv[1:])\n"
             "print([int(l.split()[1]) for l in open('/proc/self/status') if "
             "l.startswith('VmHWM:')][0], file=sys.stderr)\nsys.exit(code)\n")
    proc = subprocess.run([sys.executable, "-c", child, "landscape", "--json", "--gamma",
                           "158", "--size", "32", "--ksize", "5"], capture_output=True,
                          text=True, cwd=d, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stderr.split()[-1]) < 2**20, proc.stderr  # KiB


@case("accepted: basins --starts 100000 --steps 500 finishes within a minute", slow=True)
def _(d: Path) -> None:
    o = run_process("basins", "--starts", "100000", "--steps", "500", "--json", cwd=d)
    success(o)
    assert o.seconds < 60, o.seconds


# -- no tracebacks, no leaks -----------------------------------------------------------------

USER_CODE = """\
import sys, warnings
import numpy as np
from gabordiag import gabor_kernel

def objects(ksize, **p): return gabor_kernel(ksize, **p).astype(object)
def quits(ksize, **p): sys.exit()
def loud(ksize, **p):
    print("debug")
    return gabor_kernel(ksize, **p)
def warns(ksize, **p):
    with np.errstate(over="warn"):
        np.exp(np.array([1000.0]))
    return gabor_kernel(ksize, **p)
def complex_(ksize, **p): return gabor_kernel(ksize, **p) + 1j
def ints(ksize, **p): return np.round(gabor_kernel(ksize, **p) * 10).astype(int)
def huge(ksize, **p): return gabor_kernel(ksize, **p) * 1e300
"""


def _code(d: Path) -> None:
    (d / "mine.py").write_text(USER_CODE)


@case("a kernel returning an object array: run with one warning")
def _(d: Path) -> None:
    _code(d)
    o = run("recover", "--json", *SMALL, "--kernel", "mine.py:objects", cwd=d)
    success(o)
    assert len(json.loads(o.out)["warnings"]) == 1
    assert o.err.count("gabordiag: warning:") == 1, o


@case("a kernel calling sys.exit() is one line, not exit 0 with no output")
def _(d: Path) -> None:
    _code(d)
    one_error(run("recover", "--json", *SMALL, "--kernel", "mine.py:quits", cwd=d),
              "--kernel", "sys.exit")


@case("a kernel that prints does not corrupt --json")
def _(d: Path) -> None:
    _code(d)
    o = run("recover", "--json", *SMALL, "--kernel", "mine.py:loud", cwd=d)
    success(o)
    json.loads(o.out)
    assert "debug" in o.err


@case("a kernel's RuntimeWarning is reported once, not on the terminal per call")
def _(d: Path) -> None:
    _code(d)
    o = run("recover", "--json", *SMALL, "--kernel", "mine.py:warns", cwd=d)
    success(o)
    assert o.err.count("overflow") == 1, o


@case("a complex kernel is refused with a clear message (was a ComplexWarning)")
def _(d: Path) -> None:
    _code(d)
    one_error(run("recover", *SMALL, "--kernel", "mine.py:complex_", cwd=d), "--kernel",
              "imaginary")


@case("a huge kernel (1e300) is one line, not numpy's overflow warnings")
def _(d: Path) -> None:
    _code(d)
    for command in ("recover", "landscape", "gradcheck"):
        one_error(run(command, *SMALL, "--kernel", "mine.py:huge", cwd=d), "--kernel",
                  "overflows")


@case("an integer kernel is refused with a clear message")
def _(d: Path) -> None:
    _code(d)
    one_error(run("recover", *SMALL, "--kernel", "mine.py:ints", cwd=d), "--kernel", "int")


for _kind in ("directory", "fifo", "loop"):
    def _odd_input(d: Path, kind: str = _kind) -> None:
        path = d / "x.npy"
        if kind == "directory":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to(d / "y.npy")
            (d / "y.npy").symlink_to(path)
        words = {"directory": "directory", "fifo": "named pipe", "loop": "link loop"}[kind]
        message = one_error(run("recover", "--image", "x.npy", *ON_FILE, cwd=d), words)
        assert "does not exist" not in message
        message = one_error(run("check", "x.npy", cwd=d), "PATH")
        assert "does not exist" not in message

    case(f"a {_kind} as --image or check PATH says what it is")(_odd_input)


@case("a PNG renamed .npy gets our message, not numpy's allow_pickle= hint")
def _(d: Path) -> None:
    files = image_files(d)
    (d / "photo.npy").write_bytes(files["png"].read_bytes())
    message = one_error(run("recover", "--image", "photo.npy", *ON_FILE, cwd=d), "PNG")
    assert "pickle" not in message


for _command in ("recover", "landscape"):
    def _ascii(d: Path, name: str = _command) -> None:
        o = run_process(name, *SMALL[:4], cwd=d, env={"LC_ALL": "C",
                                                       "PYTHONIOENCODING": "ascii"})
        success(o)
        assert o.err == "", o

    case(f"LC_ALL=C PYTHONIOENCODING=ascii gabordiag {_command} draws ASCII", slow=True)(_ascii)


@case("gabordiag recover | head -2 exits 0 (was 1, silently)", slow=True)
def _(d: Path) -> None:
    read, write = os.pipe()
    proc = subprocess.Popen([*command(), "recover"], stdout=write, stderr=subprocess.PIPE,
                            cwd=d, text=True)
    os.close(write)
    with os.fdopen(read) as reader:
        [reader.readline() for _ in range(2)]
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (proc.returncode, err)
    assert err == "", err


for _args, _name in [(["recover", "--lr", "1", "--lr", "2"], "--lr"),
                     (["landscape", "--loss", "mse", "--loss", "rmse"], "--loss"),
                     (["remedies", "--lr", "1e-3", "--lr", "2e-3"], "--lr"),
                     (["landscape", "--range2", "1,2"], "--range2"),
                     (["landscape", "--param", "lambda", "--param2", "sigma", "--trajectory",
                       "--plot", "h.png"], "--trajectory")]:
    def _option(d: Path, args: list[str] = _args, name: str = _name) -> None:
        one_error(run(*args, *SMALL, cwd=d), name)
        assert not (d / "h.png").exists()

    case(f"an option repeated or without effect is an error: {' '.join(_args)}")(_option)


# -- the same hostile inputs to every command ------------------------------------------------

EXPERIMENT_COMMANDS = [["recover"], ["landscape"], ["basins", "--starts", "8"],
                       ["remedies", "--starts", "8"], ["diagnose", "--starts", "8"],
                       ["gradcheck", "--random", "1"], ["kernel"], ["config", "show"]]


def _bad_config(kind: str, d: Path) -> tuple[str, str]:
    """A config path of some kind, and a word its error must contain."""
    if kind == "/dev/zero":
        return "/dev/zero", "character device"
    path = d / "c.toml"
    if kind == "FIFO":
        os.mkfifo(path)
        return str(path), "named pipe"
    if kind == "directory":
        path.mkdir()
        return str(path), "directory"
    if kind == "link loop":
        path.symlink_to(d / "d.toml")
        (d / "d.toml").symlink_to(path)
        return str(path), "link loop"
    if kind == "2 MiB":
        path.write_bytes(b"#" * (2 << 20))
        return str(path), "1 MiB"
    path.write_text("a = " + "{b = " * 40 + "1" + "}" * 40 + "\n")
    return str(path), "nest"


for _cmd in EXPERIMENT_COMMANDS:
    for _kind in ("/dev/zero", "FIFO", "directory", "link loop", "2 MiB", "40-deep tables"):
        def _config_case(d: Path, cmd: list[str] = _cmd, kind: str = _kind) -> None:
            path, word = _bad_config(kind, d)
            one_error(run(*cmd, *SMALL, "--config", path, cwd=d), "--config", word, within=5)

        case(f"{' '.join(_cmd[:2] if _cmd[0] == 'config' else _cmd[:1])}: a {_kind} as "
             "--config is one line")(_config_case)

for _cmd in EXPERIMENT_COMMANDS:
    for _option, _values in (("--seed", ("1", "2")), ("--ksize", ("5", "7")),
                             ("--theta0", ("0.1", "0.2"))):
        def _repeat(d: Path, cmd: list[str] = _cmd, option: str = _option,
                    values: tuple[str, ...] = _values) -> None:
            one_error(run(*cmd, option, values[0], option, values[1], cwd=d), option,
                      "2 times")

        case(f"{' '.join(_cmd[:2] if _cmd[0] == 'config' else _cmd[:1])}: {_option} given "
             "twice is an error")(_repeat)

for _cmd in EXPERIMENT_COMMANDS:
    for _option in ("--target-theta", "--theta0", "--psi"):
        def _huge_angle(d: Path, cmd: list[str] = _cmd, option: str = _option) -> None:
            one_error(run(*cmd, *SMALL, f"{option}=1.8014398509481988e+16", cwd=d), option,
                      "1e+06 rad")

        case(f"{' '.join(_cmd[:2] if _cmd[0] == 'config' else _cmd[:1])}: {_option} "
             "1.8e16 names the option")(_huge_angle)

OUTPUTS = {"recover": ["--plot", "--csv"], "landscape": ["--plot", "--csv"],
           "basins": ["--plot", "--csv"], "remedies": ["--plot", "--csv"],
           "gradcheck": ["--plot", "--csv"], "kernel": ["--plot"], "diagnose": ["--plot"]}
for _name, _options in OUTPUTS.items():
    for _option in _options:
        for _kind in ("the input image", "a FIFO", "a link to /dev/null", "a directory"):
            _shown = ("an input (the image; for --csv the config, by a hard link)"
                      if _kind == "the input image" else _kind)
            def _output_case(d: Path, name: str = _name, option: str = _option,
                             kind: str = _kind) -> None:
                files = image_files(d)
                suffix = ".png" if option == "--plot" else ".csv"
                target = d / f"out{suffix}"
                if kind == "the input image":
                    target = files["png"] if option == "--plot" else d / "img.csv"
                    if option == "--csv":  # the config file, under another name
                        target.write_text("steps = 5\n")
                        os.link(target, d / "input.csv")
                elif kind == "a FIFO":
                    os.mkfifo(target)
                elif kind == "a link to /dev/null":
                    target.symlink_to("/dev/null")
                else:
                    target.mkdir()
                before = target.read_bytes() if target.is_file() else None
                extra = ["--starts", "8"] if name in ("basins", "remedies", "diagnose") else []
                image = ["--image", str(files["png"])] if kind == "the input image" else []
                if option == "--csv" and kind == "the input image":
                    image = ["--config", str(d / "input.csv")]  # an input: the config file
                    one_error(run(name, *extra, *ON_FILE[:2], *image, option, target, cwd=d),
                              option, "--config")
                else:
                    sizes = ON_FILE if image else SMALL
                    one_error(run(name, *extra, *sizes, *image, option, target, cwd=d), option)
                if before is not None:
                    unchanged(target, before)
                no_litter(d)

            case(f"{_name} {_option} onto {_shown} is refused before any work")(_output_case)


# -- trust and reproducibility ----------------------------------------------------------------

@case("check cfgs/ does not run the code a config file names")
def _(d: Path) -> None:
    (d / "cfgs").mkdir()
    (d / "cfgs" / "pwn.py").write_text("open('PWNED', 'w').close()\n"
                                       "from gabordiag import gabor_kernel as k\n")
    (d / "cfgs" / "a.toml").write_text('kernel = "pwn.py:k"\n[expect]\nverdict = "cycling"\n')
    one_error(run("check", "cfgs", cwd=d), "--allow-code")
    assert not (d / "PWNED").exists()
    assert not (d / "cfgs" / "PWNED").exists()


@case("paths in a config file resolve against its folder")
def _(d: Path) -> None:
    (d / "cfgs").mkdir()
    np.save(d / "cfgs" / "pic.npy", np.random.default_rng(0).random((40, 40)))
    (d / "cfgs" / "c.toml").write_text('image = "pic.npy"\nksize = 5\nsteps = 5\n')
    success(run("recover", "--json", "--config", "cfgs/c.toml", cwd=d))


@case("minimum_loss is the same 0 with 1 and 2 BLAS threads", slow=True)
def _(d: Path) -> None:
    values = []
    for threads in ("1", "2"):
        o = run_process("recover", "--json", cwd=d, env={"GABORDIAG_BLAS_THREADS": threads})
        success(o)
        values.append(json.loads(o.out)["verdict"]["evidence"]["minimum_loss"])
    assert values == [0.0, 0.0], values


# -- the runner ---------------------------------------------------------------------------------

def run_cases(quick: bool = False, word: str = "", echo: bool = True) -> tuple[int, int, list[str]]:
    """Run the cases; (held, tried, what broke)."""
    held, tried, broken = 0, 0, []
    for c in CASES:
        if (quick and c.slow) or word not in c.name:
            continue
        tried += 1
        with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
            try:
                c.check(Path(tmp))
            except Exception as exc:  # a broken case, reported and counted
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                broken.append(f"{c.name}: {detail[:500]}")
                if echo:
                    print(f"BROKEN {c.name}\n       {detail[:500]}")
                continue
        held += 1
        if echo:
            print(f"held   {c.name}")
    return held, tried, broken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="leave out the slow cases")
    parser.add_argument("-k", default="", metavar="WORD", help="cases whose name has WORD")
    options = parser.parse_args()
    held, tried, _ = run_cases(options.quick, options.k)
    print(f"{held} of {tried} hostile cases held")
    return 0 if held == tried else 1


if __name__ == "__main__":
    sys.exit(main())
