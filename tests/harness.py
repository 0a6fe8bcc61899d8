"""The Python harness, standard library only, for tests/operations.py and bench/probe.py: raw
HTTP/1.1 over a loopback socket (connect, from a chosen source address if asked; send bytes as
they are; read one response by its Content-Length, its chunks or to the close; or read until
the server closes), one bounded poll loop, and a process's CPU time and RSS from /proc. Every
read has a timeout, every loop a bound. The Rust harness (tests/common/mod.rs) does the same for
the Rust tests.

    import harness                       # from tests/ (bench/probe.py puts tests/ on its path)
    with harness.Connection(port) as c:
        c.send(b"GET /who HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
        answer = c.response()            # .status, .headers, .header(name), .body
"""
import socket
import time

TIMEOUT = 3.0
GET_WHO = b"GET /who HTTP/1.1\r\nHost: harness\r\n\r\n"


class Incomplete(ConnectionError):
    """The connection ended before the response did."""


class Response:
    def __init__(self, status, reason, headers, body=b""):
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)], as received, in order
        self.body = body

    def header(self, name):
        """The first field named `name` (any case), or None."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)


class Connection:
    """One client connection to 127.0.0.1:port; the bytes read past a response are kept for the
    next one (keep-alive, pipelining)."""

    def __init__(self, port, source=None, timeout=TIMEOUT):
        self.sock = socket.socket()
        try:
            if source is not None:
                self.sock.bind((source, 0))
            self.sock.settimeout(timeout)
            self.sock.connect(("127.0.0.1", port))
        except OSError:
            self.sock.close()
            raise
        self.buffer = b""

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Incomplete("the connection closed in the middle of a response")
        self.buffer += chunk

    def _line(self):
        while b"\r\n" not in self.buffer:
            self._more()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _take(self, n):
        while len(self.buffer) < n:
            self._more()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def response(self, head_only=False):
        """Reads one response: its head, then its body by Content-Length, by its chunks, or to
        the close (neither said). `head_only` for an answer to HEAD. Raises Incomplete if the
        connection ends first, socket.timeout (an OSError) if the server stays silent."""
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise ValueError(f"not a status line: {lines[0]!r}")
        fields = (line.partition(":") for line in lines[1:])
        headers = [(name.strip(), value.strip()) for name, _, value in fields]
        answer = Response(int(code), reason, headers)
        if head_only or answer.status in (204, 304) or 100 <= answer.status < 200:
            return answer
        if (answer.header("Transfer-Encoding") or "").lower() == "chunked":
            body = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():  # the trailer section, up to its empty line
                        pass
                    break
                body.append(self._take(size))
                if self._take(2) != b"\r\n":
                    raise ValueError("no CRLF after a chunk")
            answer.body = b"".join(body)
        elif answer.header("Content-Length") is not None:
            answer.body = self._take(int(answer.header("Content-Length")))
        else:
            answer.body = self.until_close(self.sock.gettimeout() or TIMEOUT)[2]
        return answer

    def until_close(self, timeout=TIMEOUT):
        """Reads until the server closes, at most `timeout` seconds; returns (state, seconds,
        bytes), state "eof", "reset" or "timeout". The bytes include any left unread before."""
        received, self.buffer = self.buffer, b""
        start = time.monotonic()
        deadline = start + timeout
        state = "timeout"
        while time.monotonic() < deadline:
            try:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                state = "reset"
                break
            if not chunk:
                state = "eof"
                break
            received += chunk
        return state, time.monotonic() - start, received


def status(port, request=GET_WHO, timeout=1.0):
    """The status of the answer to `request` on a new connection; None if none came whole."""
    try:
        with Connection(port, timeout=timeout) as c:
            c.send(request)
            return c.response().status
    except (OSError, ValueError):
        return None


def wait_until(seconds, condition, pause=0.1):
    """Calls condition() every `pause` seconds until it is true, at most `seconds`; returns
    whether it came true."""
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)


def with_children(pid):
    """pid and its children (nginx's worker is the master's child)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [pid] + [int(p) for p in f.read().split()]
    except OSError:
        return [pid]


def cpu_ticks(pid):
    """CPU time (user + system, clock ticks) of pid and its children."""
    total = 0
    for p in with_children(pid):
        with open(f"/proc/{p}/stat") as f:
            # The command name, in parentheses, may hold spaces: fields are counted after it.
            fields = f.read().rsplit(") ", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def rss_kib(pid):
    """Resident memory (VmRSS, KiB) of pid and its children."""
    total = 0
    for p in with_children(pid):
        with open(f"/proc/{p}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total
