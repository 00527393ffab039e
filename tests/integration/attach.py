#!/usr/bin/env python3
"""airlock attach against a real Docker engine, through a real pseudo-terminal.

AIRLOCK_TEST_ATTACH_BIN is a driver that calls relay_terminal for the container named on
its command line (tests/backends/attach_driver.cpp). The test creates a busybox container
with `docker create -it` running `sh`, starts it, then runs the driver with a pty as its
controlling terminal and checks: a typed command runs (hello-42), the container's TTY has
the terminal's size and follows a resize (SIGWINCH), ctrl-p ctrl-q detaches with the
container still running and the terminal restored, SIGTERM restores the terminal too, and
`exit 3` ends the session with code 3 reported.

Prints "ok - ..." / "not ok - ..." per check. Exits 77 (skipped) without an engine, or 1
when CI=true (or AIRLOCK_DOCKER_TESTS_REQUIRED=1) so that CI cannot skip it silently.
"""

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time

BUSYBOX = "airlock-test/busybox:latest"
LABEL = "dev.airlock.test=1"
failures = 0


def check(ok, what, detail=""):
    global failures
    print(("ok - " if ok else "not ok - ") + what)
    if not ok:
        failures += 1
        if detail:
            for line in detail.splitlines()[-15:]:
                print("#   " + line)
    sys.stdout.flush()
    return ok


def docker(*args, timeout=60):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def require_engine():
    try:
        up = docker("info", timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        up = False
    if up:
        return
    if os.environ.get("CI") == "true" or os.environ.get("AIRLOCK_DOCKER_TESTS_REQUIRED") == "1":
        print("#" * 72 + "\n###  FAIL: no Docker engine, and CI=true (skipping is not allowed)\n" + "#" * 72,
              file=sys.stderr)
        sys.exit(1)
    print("#" * 72 + "\n###  SKIPPED: no Docker engine (run scripts/ensure-docker)\n"
          "###  The attach test did NOT run.\n" + "#" * 72, file=sys.stderr)
    sys.exit(77)


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def cooked(fd):
    lflag = termios.tcgetattr(fd)[3]
    return bool(lflag & termios.ECHO) and bool(lflag & termios.ICANON)


class Session:
    """The driver running with a fresh pty as its controlling terminal."""

    def __init__(self, driver, container, rows=40, cols=100):
        self.master, self.slave = os.openpty()
        set_size(self.master, rows, cols)
        self.cooked_before = cooked(self.slave)
        slave = self.slave

        def controlling_tty():
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([driver, container], stdin=slave, stdout=slave, stderr=slave,
                                     preexec_fn=controlling_tty, close_fds=True)
        self.output = b""

    def send(self, data):
        os.write(self.master, data)

    def read_some(self, timeout):
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:
            return False
        self.output += chunk
        return bool(chunk)

    def expect(self, needle, timeout=15):
        if isinstance(needle, str):
            needle = needle.encode()
        start = len(self.output)
        deadline = time.monotonic() + timeout
        while needle not in self.output[start:]:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.read_some(min(left, 0.5))
        return True

    def expect_any(self, needle, timeout=15):
        """Like expect, but also counts what was already read."""
        if isinstance(needle, str):
            needle = needle.encode()
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.read_some(min(left, 0.5))
        return True

    def wait(self, timeout=20):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read_some(0.1)
        while self.read_some(0.1):  # what the driver wrote last
            pass
        return self.proc.poll()

    def text(self):
        return self.output.decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def state(container):
    r = docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", container)
    return r.stdout.strip() if r.returncode == 0 else "gone"


def main():
    require_engine()
    driver = os.environ.get("AIRLOCK_TEST_ATTACH_BIN")
    if not driver or not os.access(driver, os.X_OK):
        print(f"not ok - AIRLOCK_TEST_ATTACH_BIN is not an executable: {driver!r}")
        return 1
    if docker("image", "inspect", BUSYBOX).returncode != 0:
        root = os.environ.get("AIRLOCK_SOURCE_ROOT",
                              os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
        subprocess.run([os.path.join(root, "tests", "images", "build-images")], check=False)
    if not check(docker("image", "inspect", BUSYBOX).returncode == 0, f"image {BUSYBOX} is present"):
        return 1

    name = f"airlock-attach-test-{os.getpid()}"
    sessions = []
    try:
        r = docker("create", "-it", "--init", "--label", LABEL, "--name", name, BUSYBOX, "sh")
        if not check(r.returncode == 0, "docker create -it busybox sh", r.stderr):
            return 1
        r = docker("start", name)
        if not check(r.returncode == 0, "docker start", r.stderr):
            return 1

        # 1. attach, run a command, check the size, follow a resize, detach.
        s = Session(driver, name, rows=40, cols=100)
        sessions.append(s)
        s.send(b"\r")
        check(s.expect("# "), "a shell prompt appears", s.text())
        check(not cooked(s.slave), "the terminal is in raw mode while attached")
        s.send(b"echo hello-$((6*7))\r")
        check(s.expect("hello-42"), "typed command runs in the container (hello-42)", s.text())
        s.send(b"stty size\r")
        check(s.expect("40 100"), "the container's TTY has the terminal's size (40 100)", s.text())
        set_size(s.master, 50, 120)  # the kernel sends SIGWINCH to the driver
        time.sleep(0.5)
        s.send(b"stty size\r")
        check(s.expect("50 120"), "a resize (SIGWINCH) reaches the container's TTY (50 120)", s.text())
        s.send(b"\x10\x11")  # ctrl-p ctrl-q
        code = s.wait()
        check(code == 0, f"ctrl-p ctrl-q ends the attach with status 0 (got {code})", s.text())
        check("detached from " + name + " (ctrl-p ctrl-q)" in s.text(),
              "it says 'detached from <name> (ctrl-p ctrl-q)'", s.text())
        check(cooked(s.slave), "the terminal is restored after detaching")
        st = state(name)
        check(st.startswith("running"), f"the container still runs after detaching ({st})")

        # 2. SIGTERM while attached: the terminal is restored, the signal still kills.
        s = Session(driver, name)
        sessions.append(s)
        s.send(b"echo second-$((2+3))\r")
        check(s.expect("second-5"), "re-attach works", s.text())
        s.proc.send_signal(signal.SIGTERM)
        code = s.wait()
        check(code == -signal.SIGTERM, f"SIGTERM ends the driver by the signal (got {code})", s.text())
        check(cooked(s.slave), "the terminal is restored after SIGTERM")
        st = state(name)
        check(st.startswith("running"), f"the container still runs after SIGTERM of the client ({st})")

        # 3. re-attach and exit with a code.
        s = Session(driver, name)
        sessions.append(s)
        s.send(b"echo third-$((3*3))\r")
        check(s.expect("third-9"), "attach again", s.text())
        s.send(b"exit 3\r")
        code = s.wait()
        check(code == 3, f"the driver exits with the container's code 3 (got {code})", s.text())
        check(f"session {name} exited (code 3)" in s.text(), "it says 'session <name> exited (code 3)'", s.text())
        check(cooked(s.slave), "the terminal is restored after the session exited")
        st = state(name)
        check(st == "exited 3", f"the container exited with 3 ({st})")

        # 4. attaching to a stopped container is a clear error.
        s = Session(driver, name)
        sessions.append(s)
        code = s.wait()
        check(code == 125 and "not running" in s.text(), f"attach to a stopped container fails clearly ({code})",
              s.text())
    finally:
        for s in sessions:
            s.close()
        docker("rm", "-f", name)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
