"""A small stand-in for Hugging Face's file endpoints, on loopback only.

Two HTTP servers on 127.0.0.1 (ephemeral ports):
  hub  GET/HEAD /{org}/{name}/resolve/{revision}/{file}
       - 401 (X-Error-Code: GatedRepo) without "Authorization: Bearer TOKEN";
         with echo_bad_token set, a wrong token is echoed back in the error
         message (to check the client never prints what a server sends back)
       - regular files: 200, ETag = git blob sha1, X-Repo-Commit
       - LFS files (.bin .pth .safetensors): 302 to the CDN server, with
         X-Linked-Etag = sha256, X-Linked-Size, X-Repo-Commit
       - 404 with X-Error-Code RepoNotFound / EntryNotFound
  cdn  GET /cdn/{sha256}?X-Amz-Signature=... serving the bytes, with ranged
       GETs (206), and faults on demand: connection dropped after N bytes,
       throttling, a corrupted body, a Range header ignored.
Every request is logged (server, method, path, headers) for the tests.
"""

import hashlib
import http.server
import socket
import threading
import time

LFS_SUFFIXES = (".bin", ".pth", ".safetensors", ".pt")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    def __init__(self, token, hub_tls=None, cdn_tls=None):
        """hub_tls / cdn_tls: server-side ssl.SSLContext to serve https."""
        self.token = token
        self.repos = {}          # repo -> {file: bytes}
        self.gated = True
        self.echo_bad_token = False
        self.lock = threading.Lock()
        self.log = []            # (server, method, path, headers dict, status)
        self.drop_after = {}     # sha256 -> bytes to send before dropping (once each)
        self.fail_hub = {}       # (repo, file) -> number of 503s still to send
        self.corrupt_once = set()  # sha256s served corrupted once
        self.ignore_range = set()  # sha256s whose Range header is ignored
        self.throttle = 0        # bytes/s on the CDN, 0 = unlimited
        self.cdn_inflight = 0
        self.cdn_max_inflight = 0
        self.objects = {}        # sha256 -> bytes
        self.hub_scheme = "https" if hub_tls else "http"
        self.cdn_scheme = "https" if cdn_tls else "http"
        self.hub = self._serve(self._hub_handler(), hub_tls)
        self.cdn = self._serve(self._cdn_handler(), cdn_tls)

    # ---- setup ----
    def add(self, repo, files):
        self.repos.setdefault(repo, {}).update(files)
        for data in files.values():
            self.objects[hashlib.sha256(data).hexdigest()] = data

    @property
    def endpoint(self):
        return "%s://127.0.0.1:%d" % (self.hub_scheme, self.hub.server_address[1])

    def requests(self, server=None, method=None, contains=None):
        with self.lock:
            return [r for r in self.log if (server is None or r[0] == server) and
                    (method is None or r[1] == method) and (contains is None or contains in r[2])]

    def close(self):
        for s in (self.hub, self.cdn):
            s.shutdown()
            s.server_close()

    def _serve(self, handler, tls=None):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        srv.daemon_threads = True
        if tls:
            srv.socket = tls.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv

    # ---- handlers ----
    def _hub_handler(self):
        fake = self

        class Hub(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _reply(self, status, headers=(), body=b""):
                with fake.lock:
                    fake.log.append(("hub", self.command, self.path, dict(self.headers), status))
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD" and body:
                    self.wfile.write(body)

            def _handle(self):
                parts = self.path.split("?")[0].split("/")
                # ['', org, name, 'resolve', rev, file...]
                if len(parts) < 6 or parts[3] != "resolve":
                    return self._reply(404, [("X-Error-Code", "RepoNotFound")], b'{"error":"not found"}')
                repo = parts[1] + "/" + parts[2]
                fname = "/".join(parts[5:])
                auth = self.headers.get("Authorization", "")
                if fake.gated and auth != "Bearer " + fake.token:
                    if auth and fake.echo_bad_token:
                        msg = "Invalid credentials in Authorization header: %s" % auth
                    else:
                        msg = "Access to model %s is restricted. You must have access to it and be authenticated." % repo
                    return self._reply(401, [("X-Error-Code", "GatedRepo"), ("X-Error-Message", msg)],
                                       b'{"error":"%s"}' % msg.encode())
                key = (repo, fname)
                with fake.lock:
                    left = fake.fail_hub.get(key, 0)
                    if left:
                        fake.fail_hub[key] = left - 1
                if left:
                    return self._reply(503, [("Retry-After", "0")], b"busy")
                if repo not in fake.repos:
                    return self._reply(404, [("X-Error-Code", "RepoNotFound"),
                                             ("X-Error-Message", "Repository not found")])
                data = fake.repos[repo].get(fname)
                if data is None:
                    return self._reply(404, [("X-Error-Code", "EntryNotFound"),
                                             ("X-Error-Message", "Entry not found")])
                common = [("X-Repo-Commit", COMMIT)]
                if fname.endswith(LFS_SUFFIXES):
                    sha = hashlib.sha256(data).hexdigest()
                    loc = "%s://127.0.0.1:%d/cdn/%s?X-Amz-Signature=sig%s" % (
                        fake.cdn_scheme, fake.cdn.server_address[1], sha, sha[:8])
                    return self._reply(302, common + [
                        ("Location", loc), ("X-Linked-Etag", '"%s"' % sha),
                        ("X-Linked-Size", str(len(data))), ("ETag", '"%s"' % git_sha1(data))])
                if self.command == "HEAD":
                    return self._head_regular(common, data)
                return self._reply(200, common + [("ETag", '"%s"' % git_sha1(data))], data)

            def _head_regular(self, common, data):
                with fake.lock:
                    fake.log.append(("hub", self.command, self.path, dict(self.headers), 200))
                self.send_response(200)
                for k, v in common + [("ETag", '"%s"' % git_sha1(data))]:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()

            do_GET = _handle
            do_HEAD = _handle

        return Hub

    def _cdn_handler(self):
        fake = self

        class Cdn(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                sha = self.path.split("?")[0].rsplit("/", 1)[-1]
                data = fake.objects.get(sha)
                rng = self.headers.get("Range")
                status = 200
                start = 0
                if data is not None and rng and sha not in fake.ignore_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    status = 206 if start < len(data) else 416
                with fake.lock:
                    fake.log.append(("cdn", "GET", self.path, dict(self.headers),
                                     404 if data is None else status))
                    drop = fake.drop_after.pop(sha, None)
                    corrupt = sha in fake.corrupt_once
                    fake.corrupt_once.discard(sha)
                    fake.cdn_inflight += 1
                    fake.cdn_max_inflight = max(fake.cdn_max_inflight, fake.cdn_inflight)
                try:
                    if data is None:
                        self.send_response(404)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    if status == 416:
                        self.send_response(416)
                        self.send_header("Content-Range", "bytes */%d" % len(data))
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    body = data[start:]
                    if corrupt:
                        mid = len(body) // 2
                        body = body[:mid] + bytes([body[mid] ^ 0xFF]) + body[mid + 1:]
                    self.send_response(status)
                    if status == 206:
                        self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("ETag", '"%s"' % sha)
                    self.end_headers()
                    if drop is not None:
                        self.wfile.write(body[:drop])
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    chunk = 65536
                    for i in range(0, len(body), chunk):
                        self.wfile.write(body[i:i + chunk])
                        if fake.throttle:
                            time.sleep(chunk / fake.throttle)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True
                finally:
                    with fake.lock:
                        fake.cdn_inflight -= 1

        return Cdn
