"""Runs a command on a pseudo-terminal, as an operator's terminal would, for
the signal tests (tests/it/signals.rs).

usage: pty_run.py WAIT ACTION -- COMMAND [ARG...]

WAIT    text:STRING       until STRING appears on the terminal
        ledger:N:PATH     until the ledger at PATH holds N user records
ACTION  signal:NAME       send SIGNAME (TERM, INT, HUP) to the command
        type:STRING       type STRING on the terminal (\\x03 is Ctrl-C)
        close             close the terminal (the kernel sends SIGHUP)
        none              nothing: let the command end by itself

Prints one JSON object: the exit code (or the signal that killed the
command), everything the terminal showed, and whether the 120 s deadline
passed (a hang: the command is then killed).
"""

import json
import os
import pty
import select
import signal
import sys
import time

DEADLINE_S = 120


def user_records(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b'"record":"user"')
    except FileNotFoundError:
        return 0


def main():
    wait, action = sys.argv[1], sys.argv[2]
    assert sys.argv[3] == "--", "usage: pty_run.py WAIT ACTION -- COMMAND"
    argv = sys.argv[4:]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)

    shown = bytearray()
    deadline = time.monotonic() + DEADLINE_S
    is_open = True

    def pump(timeout):
        """Reads what the terminal shows; False once it is closed."""
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        shown.extend(data)
        return bool(data)

    def waited():
        if wait.startswith("text:"):
            return wait[len("text:"):].encode() in shown
        _, count, path = wait.split(":", 2)
        return user_records(path) >= int(count)

    timed_out = False
    while is_open and not waited():
        if time.monotonic() > deadline:
            timed_out = True
            break
        is_open = pump(0.05)

    if not timed_out:
        kind, _, arg = action.partition(":")
        try:
            if kind == "signal":
                os.kill(pid, getattr(signal, "SIG" + arg))
            elif kind == "type":
                os.write(fd, arg.encode().decode("unicode_escape").encode())
            elif kind == "close":
                os.close(fd)
                is_open = False
            elif kind == "none":
                pass
            else:
                raise SystemExit(f"unknown action {action}")
        except OSError:
            pass  # the command had already ended: its exit code says why

    while is_open and time.monotonic() < deadline:
        is_open = pump(0.1)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    print(json.dumps({
        "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "shown": shown.decode("utf-8", "replace"),
        "timed_out": timed_out,
    }))


if __name__ == "__main__":
    main()
