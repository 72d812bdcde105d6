"""A small launcher that starts commands and reports their time and peak memory.

``bench_cli.py`` runs this script once and sends it one JSON request per line
(``{"argv": [...], "stdout": PATH}``); for each it starts the command, waits for it and
answers one JSON line: wall seconds (monotonic clock around the start and the reaping),
CPU seconds and peak RSS from the kernel's accounting of the finished child
(``wait4``), the exit code and the end of stderr.

It is a separate, small process because a child started by a large process (the
benchmark, with torch loaded) inherits that process's peak RSS until it execs: the
figures of a child started from here cannot read below this launcher's own memory (what
``/bin/true`` reads). The first line it writes, ``{"floor_mib": ...}``, is its own
accounting, which counts what it inherited from the benchmark before it exec'd.
"""

import json
import os
import resource
import sys
import tempfile
import time


def serve() -> None:
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(json.dumps({"floor_mib": floor}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        argv = request["argv"]
        with tempfile.TemporaryFile() as err:
            actions = [
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, request.get("stdout", os.devnull),
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            ]
            start = time.perf_counter()
            pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
            _, status, usage = os.wait4(pid, 0)
            wall = time.perf_counter() - start
            err.seek(0)
            tail = err.read()[-2000:].decode(errors="replace")
        sys.stdout.write(json.dumps({
            "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mib": usage.ru_maxrss / 1024, "code": os.waitstatus_to_exitcode(status),
            "stderr": tail}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
