"""A real S3-compatible server on loopback for the S3 tests and benchmarks:
OpenStack Swift (Debian packages) with the s3api middleware, which verifies
SigV4 signatures for real. One node, one replica, everything under a temp dir.

    with SwiftS3(tmpdir) as s3:    # starts memcached + 4 swift servers
        s3.endpoint                # http://127.0.0.1:PORT
        s3.restart_proxy()         # kill -9 the proxy and start it again

Credentials: access key "test:tester", secret "testing", region us-east-1,
path-style addressing. Servers drop to user swift, so the data dirs are
chowned to it (the tests run as root in CI).

`python3 swiftenv.py install` installs the Debian packages (exit 77 when that
is impossible); `python3 swiftenv.py serve DIR` runs a server until killed.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

PKGS = ["swift", "swift-proxy", "swift-account", "swift-container", "swift-object",
        "memcached", "python3-boto3"]
ACCESS_KEY = "test:tester"
SECRET_KEY = "testing"
REGION = "us-east-1"


def have_packages():
    return all(os.path.exists(p) for p in (
        "/usr/bin/swift-proxy-server", "/usr/bin/swift-object-server",
        "/usr/bin/swift-container-server", "/usr/bin/swift-account-server",
        "/usr/bin/swift-ring-builder", "/usr/bin/memcached")) and _have_boto3()


def _have_boto3():
    return subprocess.call(["/usr/bin/python3", "-c", "import boto3"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def install():
    """True when the packages are there (installing them if we can)."""
    if have_packages():
        return True
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + PKGS,
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=900)
    except Exception:
        pass
    return have_packages()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SwiftS3:
    def __init__(self, root, port=None):
        self.root = os.path.abspath(root)
        self.port = port or free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.procs = {}
        self.ports = {"object": free_port(), "container": free_port(), "account": free_port(),
                      "memcached": free_port()}

    # -- set-up --
    def _conf(self, name, text):
        path = os.path.join(self.root, "etc", name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def _rings(self):
        etc = os.path.join(self.root, "etc")
        for kind in ("account", "container", "object"):
            b = os.path.join(etc, kind + ".builder")
            subprocess.run(["swift-ring-builder", b, "create", "6", "1", "0"], check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run(["swift-ring-builder", b, "add",
                            "r1z1-127.0.0.1:%d/d1" % self.ports[kind], "100"], check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run(["swift-ring-builder", b, "rebalance"], stdout=subprocess.DEVNULL)

    def setup(self):
        etc = os.path.join(self.root, "etc")
        devs = os.path.join(self.root, "srv")
        os.makedirs(etc, exist_ok=True)
        os.makedirs(os.path.join(devs, "d1"), exist_ok=True)
        os.makedirs(os.path.join(self.root, "run"), exist_ok=True)
        self._rings()
        common = ("[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\nswift_dir = " + etc +
                  "\ndevices = " + devs + "\nmount_check = false\nworkers = %d\nlog_level = WARNING\n"
                  "log_facility = LOG_LOCAL0\n")
        for kind in ("account", "container", "object"):
            extra = "\n[%s-replicator]\n[%s-auditor]\n" % (kind, kind)
            if kind == "container":
                extra += "[container-updater]\n[container-sync]\n"
            if kind == "object":
                extra += "[object-updater]\n"
            self._conf(kind + "-server.conf",
                       common % (self.ports[kind], 1) +
                       "\n[pipeline:main]\npipeline = %s-server\n\n[app:%s-server]\n"
                       "use = egg:swift#%s\n" % (kind, kind, kind) + extra)
        self.proxy_conf = self._conf("proxy-server.conf", (
            "[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\nswift_dir = %s\nworkers = 2\n"
            "log_level = WARNING\n\n"
            "[pipeline:main]\npipeline = catch_errors gatekeeper healthcheck proxy-logging cache "
            "listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server\n\n"
            "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\n"
            "[filter:s3api]\nuse = egg:swift#s3api\nlocation = us-east-1\n\n"
            "[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = testing .admin\n\n"
            "[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:%d\n\n"
            "[filter:catch_errors]\nuse = egg:swift#catch_errors\n"
            "[filter:gatekeeper]\nuse = egg:swift#gatekeeper\n"
            "[filter:healthcheck]\nuse = egg:swift#healthcheck\n"
            "[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n"
            "[filter:listing_formats]\nuse = egg:swift#listing_formats\n"
            "[filter:bulk]\nuse = egg:swift#bulk\n"
            "[filter:copy]\nuse = egg:swift#copy\n"
            "[filter:slo]\nuse = egg:swift#slo\n"
            "[filter:dlo]\nuse = egg:swift#dlo\n") % (self.port, etc, self.ports["memcached"]))
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "swift:swift", self.root], check=True)

    # -- processes --
    def _spawn(self, name, argv):
        log = open(os.path.join(self.root, "run", name + ".log"), "ab")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        log.close()

    def start_proxy(self):
        self._spawn("proxy", ["swift-proxy-server", self.proxy_conf])

    def start(self):
        user = ["-u", "swift"] if os.geteuid() == 0 else []
        self._spawn("memcached", ["memcached", "-l", "127.0.0.1", "-p", str(self.ports["memcached"]),
                                  "-U", "0"] + user)
        for kind in ("account", "container", "object"):
            self._spawn(kind, ["swift-%s-server" % kind,
                               os.path.join(self.root, "etc", kind + "-server.conf")])
        self.start_proxy()
        self.wait_ready()

    def wait_ready(self, timeout=60):
        t0 = time.time()
        while time.time() - t0 < timeout:
            for name, p in self.procs.items():
                if p.poll() is not None and name != "proxy-old":
                    raise RuntimeError("swift %s exited; see %s/run/%s.log" % (name, self.root, name))
            try:
                with urllib.request.urlopen(self.endpoint + "/healthcheck", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError("swift proxy not up after %d s" % timeout)

    def kill_proxy(self):
        p = self.procs.pop("proxy", None)
        if p:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()

    def restart_proxy(self, down_s=0.0):
        self.kill_proxy()
        time.sleep(down_s)
        self.start_proxy()
        self.wait_ready()

    def stop(self):
        for name, p in list(self.procs.items()):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for name, p in list(self.procs.items()):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()

    def __enter__(self):
        self.setup()
        try:
            self.start()
        except Exception:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- helpers --
    def env(self, base=None):
        """Environment for vcurate/curl: credentials through AWS_* variables."""
        e = dict(base if base is not None else os.environ)
        for k in list(e):
            if k.startswith("AWS_"):
                del e[k]
        e.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                 AWS_REGION=REGION, AWS_ENDPOINT_URL=self.endpoint,
                 AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.root, "no-credentials"),
                 AWS_CONFIG_FILE=os.path.join(self.root, "no-config"))
        return e

    def boto3(self):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION,
                            config=Config(s3={"addressing_style": "path"},
                                          retries={"max_attempts": 10}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "install":
        sys.exit(0 if install() else 77)
    if len(sys.argv) > 2 and sys.argv[1] == "serve":
        port = int(sys.argv[3]) if len(sys.argv) > 3 else 8080
        shutil.rmtree(sys.argv[2], ignore_errors=True)
        os.makedirs(sys.argv[2])
        with SwiftS3(sys.argv[2], port) as s:
            print("S3 endpoint", s.endpoint, flush=True)
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
        sys.exit(0)
    print(__doc__)
    sys.exit(2)
