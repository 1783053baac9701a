"""Children of `up` die with it, however it dies.

Why: a supervisor killed with SIGKILL runs no clean-up, and its children used to keep running
(web workers serving the port, workers taking jobs), so a second `up` started a second copy
beside them. Two mechanisms, because each covers what the other cannot:

- `PR_SET_PDEATHSIG` (Linux): the kernel sends SIGTERM to a direct child when its parent dies.
  It does not reach grandchildren (the web server's worker processes).
- A lifeline pipe: the supervisor holds the only write end; each child watches the read end
  in a thread, and when it reads end-of-file (the supervisor is gone, however it died) the
  child ends its whole process group — itself and everything it started — SIGTERM first,
  SIGKILL after a grace period.

Each child also inherits the DATA_DIR lock (see `supervisor.acquire_lock`): the lock is freed
only when the last process holding it exits, so a second `up` is refused until every child of
the first is gone.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time

ENV = "AP_LIFELINE_FD"
PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 10.0
log = logging.getLogger("agent_platform.lifeline")


def die_with_parent(parent_pid: int) -> None:
    """Run in the child between fork and exec (Popen's preexec_fn): SIGTERM on parent death."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def watch() -> None:
    """In a child of `up`: end this process group when the supervisor's pipe closes."""
    fd = os.environ.pop(ENV, "")
    if not fd.isdigit():
        return
    thread = threading.Thread(target=_wait_for_eof, args=(int(fd),), daemon=True)
    thread.name = "lifeline"
    thread.start()


def _wait_for_eof(fd: int) -> None:
    try:
        while os.read(fd, 1):
            pass  # the supervisor never writes; anything read is ignored
    except OSError:
        pass
    log.warning("the supervisor is gone; stopping this process group")
    group = os.getpgrp()
    try:
        os.killpg(group, signal.SIGTERM)
    except ProcessLookupError:
        return
    time.sleep(GRACE_SECONDS)  # still alive: something ignored SIGTERM
    os.killpg(group, signal.SIGKILL)
