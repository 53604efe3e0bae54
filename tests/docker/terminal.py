"""A program driven through a real pseudo-terminal, as a person at a shell drives it.

`docker run -it` and `docker-compose exec` want a terminal on their side; this gives them
one, types lines when the expected text has appeared, and collects everything shown.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping


class Terminal:
    def __init__(self, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        master, slave = os.openpty()
        # Wide enough that tables are not wrapped or cut.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.fd = master
        self.screen = ""  # everything shown so far (terminal escapes removed)
        self._seen = 0  # how much of it `expect` has consumed

    def _read(self, timeout: float) -> bool:
        """Take in what the program shows within ``timeout``; False once its output ended."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the program closed its terminal
            return False
        if not data:
            return False
        text = data.decode(errors="replace").replace("\r", "")
        self.screen += re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07", "", text)
        return True

    def expect(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """Wait until ``pattern`` appears in output not yet consumed."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.compile(pattern).search(self.screen, self._seen)
            if found:
                self._seen = found.end()
                return found
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.5)):  # out of time, or output ended
                raise AssertionError(f"no {pattern!r} on the terminal; it shows:\n{self.screen}")

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def type(self, line: str) -> None:
        """Type ``line`` and press Enter."""
        self.send(line + "\r")

    def wait(self, timeout: float = 60) -> int:
        """Read until the program ends; its exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(0.2):
            if self.proc.poll() is not None and not select.select([self.fd], [], [], 0)[0]:
                break
        try:
            return self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        try:
            os.close(self.fd)
        except OSError:
            pass
