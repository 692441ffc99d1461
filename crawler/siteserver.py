"""A real HTTP server for a directory of HTML: the offline demo's site and the tests' fixture.

Like Scrapy's mockserver it runs in its own process on a free port of 127.0.0.1 and prints
its address; unlike a mock it speaks real HTTP: status codes, redirects, ETag/Last-Modified
with 304 answers, gzip, delays, trickling bodies. Files are read on every request, so a test
can edit the site between two crawls. Special behaviour per path comes from ``_routes.json``
in the site root (re-read on every request)::

    {"/flaky.html": {"status": 500, "times": 1},          # 500 once, then the file
     "/old":        {"redirect": "/new.html", "status": 301},
     "/slow.html":  {"delay": 2.0},
     "/gbk.html":   {"encode": "gbk", "content_type": "text/html"},  # no charset in header
     "/gz.html":    {"gzip": true},
     "/big.html":   {"size": 12000000},                     # generated body of that many bytes
     "/cal/":       {"prefix": true, "generate": "calendar"},
     "/gone.html":  {"status": 410}}

Every request is appended as one JSON line to the request log (method, path, status, the
conditional headers and the user agent), so tests can assert what was and wasn't asked for.
Only the standard library is used: the demo starts it without importing the crawler's deps.
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import json
import mimetypes
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROUTES_FILE = "_routes.json"


class SiteHandler(BaseHTTPRequestHandler):
    server_version = "AestheticsSiteServer/1.0"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, every keep-alive response
    # waits ~40 ms for the client's delayed ACK, which would dominate every crawl benchmark.
    disable_nagle_algorithm = True
    root: Path
    log_path: Path | None
    counters: dict[str, int]
    lock: threading.Lock

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep stderr quiet
        pass

    # ------------------------------------------------------------------ plumbing
    def _log(self, status: int) -> None:
        if not self.log_path:
            return
        entry = {
            "method": self.command, "path": self.path, "status": status,
            "if_none_match": self.headers.get("If-None-Match"),
            "if_modified_since": self.headers.get("If-Modified-Since"),
            "user_agent": self.headers.get("User-Agent"),
            "time": time.time(),
        }
        with self.lock, open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self._log(status)
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def _routes(self) -> dict:
        try:
            return json.loads((self.root / ROUTES_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _route_for(self, path: str, full: str) -> tuple[str, dict] | None:
        routes = self._routes()
        for key in (full, path):
            if key in routes:
                return key, routes[key]
        for key, spec in routes.items():
            if spec.get("prefix") and path.startswith(key):
                return key, spec
        return None

    def _file_for(self, path: str) -> Path | None:
        rel = path.lstrip("/")
        if ".." in Path(rel).parts or rel.startswith(ROUTES_FILE):
            return None
        base = self.root / rel
        for candidate in (base, Path(str(base) + ".html"), base / "index.html"):
            if candidate.is_file():
                return candidate
        return None

    # ------------------------------------------------------------------ methods
    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path or "/"
        found = self._route_for(path, self.path)
        spec: dict = {}
        if found:
            key, spec = found
            with self.lock:
                self.counters[key] = self.counters.get(key, 0) + 1
                count = self.counters[key]
            if "times" in spec and count > spec["times"]:
                spec = {k: v for k, v in spec.items() if k in ("file",)}
        if spec.get("delay"):
            time.sleep(float(spec["delay"]))
        if "redirect" in spec:
            self._send(int(spec.get("status", 302)), headers={"Location": spec["redirect"]})
            return
        if spec.get("generate") == "calendar":
            self._calendar(path)
            return
        if spec.get("endless"):
            self._endless(spec)
            return
        if "size" in spec:
            self._big(int(spec["size"]), spec)
            return
        status = int(spec.get("status", 200))
        if "body" in spec:
            body = spec["body"].encode(spec.get("encode", "utf-8"))
            self._body(status, body, spec, etag=None, mtime=None)
            return
        file = self._file_for(spec.get("file", path)) if "file" in spec or status < 400 else None
        if file is None:
            if status < 400:
                status = 404
            self._send(status, f"<html><body><h1>{status}</h1></body></html>".encode(),
                       {"Content-Type": "text/html; charset=utf-8"})
            return
        data = file.read_bytes()
        if "encode" in spec:
            data = data.decode("utf-8").encode(spec["encode"])
        etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
        mtime = int(file.stat().st_mtime)
        if status == 200 and not spec.get("no_validators"):
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if inm == etag or (inm is None and ims and _parse_http_date(ims) >= mtime):
                self._send(304, headers={"ETag": etag, "Content-Length": "0"})
                return
        if spec.get("no_validators"):
            etag, mtime = None, None
        self._body(status, data, spec, etag=etag, mtime=mtime, file=file)

    def _body(self, status: int, data: bytes, spec: dict, *, etag: str | None,
              mtime: int | None, file: Path | None = None) -> None:
        ctype = spec.get("content_type")
        if not ctype:
            guess = mimetypes.guess_type(str(file))[0] if file else None
            ctype = guess or "text/html"
            if ctype.startswith("text/") or ctype in ("application/xml",):
                ctype += "; charset=utf-8"
        headers = {"Content-Type": ctype}
        headers.update(spec.get("headers", {}))
        if etag:
            headers["ETag"] = etag
        if mtime is not None:
            headers["Last-Modified"] = email.utils.formatdate(mtime, usegmt=True)
        if spec.get("gzip"):
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        if spec.get("trickle"):
            self._trickle(status, data, headers, float(spec["trickle"]))
            return
        self._send(status, data, headers)

    def _big(self, size: int, spec: dict) -> None:
        chunk = b"<p>" + b"filler text about nothing " * 40 + b"</p>\n"
        self._log(200)
        self.send_response(200)
        self.send_header("Content-Type", spec.get("content_type", "text/html; charset=utf-8"))
        self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        try:
            while sent < size:
                part = chunk[: size - sent]
                self.wfile.write(part)
                sent += len(part)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _endless(self, spec: dict) -> None:
        """A chunked body that never ends (until the client hangs up)."""
        self._log(200)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"<p>" + b"more " * 200 + b"</p>"
        try:
            while True:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                time.sleep(float(spec.get("interval", 0.01)))
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    def _trickle(self, status: int, data: bytes, headers: dict, per_byte: float) -> None:
        self._log(status)
        self.send_response(status)
        headers["Content-Length"] = str(len(data))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(per_byte)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _calendar(self, path: str) -> None:
        """An endless calendar: every day page links to the next and previous day."""
        parts = [p for p in path.split("/") if p.isdigit()]
        day = int(parts[-1]) if parts else 0
        base = path.rsplit("/", 1)[0] if parts else path.rstrip("/")
        links = "".join(f'<a href="{base}/{d}">day {d}</a> ' for d in (day - 1, day + 1, day + 7))
        body = (f"<html><head><title>Calendar {day}</title></head><body><h1>Events on day {day}"
                f"</h1><p>No events.</p>{links}</body></html>").encode()
        self._send(200, body, {"Content-Type": "text/html; charset=utf-8"})


def _parse_http_date(value: str) -> float:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return -1


def serve(root: Path, port: int = 0, log_path: Path | None = None) -> ThreadingHTTPServer:
    handler = type("BoundSiteHandler", (SiteHandler,), {
        "root": Path(root), "log_path": log_path, "counters": {}, "lock": threading.Lock()})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server


class SiteServer:
    """Run the server in a child process: ``with SiteServer(root) as s: s.url("/a.html")``."""

    def __init__(self, root: Path, log_path: Path | None = None, port: int = 0):
        self.root = Path(root)
        self.log_path = Path(log_path) if log_path else None
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.base = ""

    def start(self) -> SiteServer:
        cmd = [sys.executable, "-m", "crawler.siteserver", str(self.root), "--port", str(self.port)]
        if self.log_path:
            cmd += ["--log", str(self.log_path)]
        env = dict(os.environ)
        pkg_parent = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = pkg_parent + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"site server failed to start: {line!r}")
        self.base = line
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def url(self, path: str = "/") -> str:
        return self.base + (path if path.startswith("/") else "/" + path)

    def requests(self) -> list[dict]:
        """Every request served so far, from the request log."""
        if not self.log_path or not self.log_path.exists():
            return []
        with open(self.log_path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a directory of HTML on 127.0.0.1.")
    parser.add_argument("root", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, default=None)
    args = parser.parse_args(argv)
    server = serve(args.root, args.port, args.log)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
