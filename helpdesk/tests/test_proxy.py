"""deploy/nginx.conf, the TLS proxy in front of daphne (docker-compose.yml's proxy).

The config is parsed and checked everywhere; where nginx and openssl are installed it is
also run, in front of a small upstream that echoes what it received.
"""

import getpass
import http.server
import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.http import HttpRequest

from core.ratelimits import client_ip
from helpdesk.testing import free_port
from helpdesk.tests.test_compose import environment, load_compose

CONFIG = (Path(settings.BASE_DIR) / "deploy" / "nginx.conf").read_text()


def parse(text: str) -> list:
    """nginx's syntax as nested [name, args, children] lists (children None for `x y;`)."""
    tokens = re.findall(r'"[^"]*"|[{};]|[^\s{};"]+', re.sub(r"#.*", "", text))
    stack, current, words = [], [], []
    for token in tokens:
        if token == ";":
            current.append([words[0], words[1:], None])
            words = []
        elif token == "{":
            block = [words[0], words[1:], []]
            current.append(block)
            stack.append(current)
            current, words = block[2], []
        elif token == "}":
            current = stack.pop()
        else:
            words.append(token)
    return current


def directives(block: list, name: str) -> list[list[str]]:
    return [args for entry, args, _ in block if entry == name]


def child(block: list, name: str, *args: str) -> list:
    [found] = [kids for entry, a, kids in block if entry == name and a == list(args)]
    return found


HTTP = child(parse(CONFIG), "http")
PLAIN, TLS = (kids for entry, _, kids in HTTP if entry == "server")


def upload_limit() -> int:
    """The largest upload the admin accepts: one article, or a bulk upload in all."""
    return max(settings.KB_UPLOAD_MAX_BYTES, getattr(settings, "KB_UPLOAD_MAX_TOTAL_BYTES", 0))


def size_in_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value).groups()
    return int(number) * 1024 ** " kmg".index(unit.lower() or " ")


def test_plain_http_only_redirects_to_https():
    assert directives(PLAIN, "listen") == [["80", "default_server"]]
    assert directives(child(PLAIN, "location", "/"), "return") == [
        ["301", "https://$host$request_uri"]
    ]


def test_the_tls_server_listens_on_443_with_the_mounted_certificate():
    assert directives(TLS, "listen") == [["443", "ssl", "default_server"]]
    assert directives(TLS, "ssl_certificate") == [["/etc/nginx/certs/fullchain.pem"]]
    assert directives(TLS, "ssl_certificate_key") == [["/etc/nginx/certs/privkey.pem"]]


def test_it_replaces_the_clients_x_forwarded_for_with_the_address_it_saw():
    # Appending ($proxy_add_x_forwarded_for) would keep whatever the client wrote.
    headers = {args[0]: args[1] for args in directives(TLS, "proxy_set_header")}
    assert headers["X-Forwarded-For"] == "$remote_addr"
    assert headers["X-Forwarded-Proto"] == "https"
    assert headers["Host"] == "$host"
    assert "$proxy_add_x_forwarded_for" not in CONFIG


def test_no_location_drops_the_forwarded_headers():
    # A location with a proxy_set_header of its own inherits none of the server's.
    for entry, args, kids in TLS:
        if entry == "location":
            assert not directives(kids, "proxy_set_header"), args


def test_websockets_are_upgraded_and_kept_open():
    headers = {args[0]: args[1] for args in directives(TLS, "proxy_set_header")}
    assert headers["Upgrade"] == "$http_upgrade"
    assert headers["Connection"] == "$connection_upgrade"
    assert directives(TLS, "proxy_http_version") == [["1.1"]]
    ws = child(TLS, "location", "/ws/")
    assert directives(ws, "proxy_pass") == [["http://web"]]
    assert directives(ws, "proxy_read_timeout") == [["1h"]]


def zones(name: str) -> dict[str, list[str]]:
    """{zone: its declaration's arguments} for limit_conn_zone or limit_req_zone."""
    found = {}
    for args in directives(HTTP, name):
        assert args[0] == "$binary_remote_addr"  # per client address
        [zone] = [arg.split("=")[1].split(":")[0] for arg in args if arg.startswith("zone=")]
        found[zone] = args
    return found


def test_websockets_are_limited_per_address_in_number_and_rate():
    ws = child(TLS, "location", "/ws/")
    [[zone, count]] = directives(ws, "limit_conn")
    assert zone in zones("limit_conn_zone") and 0 < int(count) <= 50
    [[req]] = [args[:1] for args in directives(ws, "limit_req")]
    assert req.removeprefix("zone=") in zones("limit_req_zone")


def test_every_other_request_is_limited_per_address():
    [[zone, count]] = directives(TLS, "limit_conn")
    assert zone in zones("limit_conn_zone") and int(count) > 0
    [args] = directives(TLS, "limit_req")
    assert args[0].removeprefix("zone=") in zones("limit_req_zone")
    assert directives(HTTP, "limit_conn_status") == directives(HTTP, "limit_req_status")


def test_the_admin_takes_an_upload_as_large_as_the_app_accepts_and_no_larger():
    cap = size_in_bytes(directives(child(TLS, "location", "/admin/"), "client_max_body_size")[0][0])
    assert upload_limit() < cap <= upload_limit() + 1024 * 1024
    assert size_in_bytes(directives(HTTP, "client_max_body_size")[0][0]) <= 1024 * 1024


def test_every_path_but_metrics_reaches_web():
    for entry, args, kids in TLS:
        if entry == "location":
            expected = [["404"]] if args == ["=", "/metrics"] else []
            assert directives(kids, "return") == expected, args
            assert directives(kids, "proxy_pass") == ([] if expected else [["http://web"]])


# --- The config, run ------------------------------------------------------------------------


class Echo(http.server.BaseHTTPRequestHandler):
    """daphne's stand-in: answers with the headers and body size it received; a WebSocket
    handshake is accepted and the socket held until the client closes it."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            self.wfile.flush()
            self.rfile.read(1)  # until the client goes
            self.close_connection = True
            return
        self.answer(0)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.answer(len(self.rfile.read(length)))

    def answer(self, received: int):
        body = json.dumps({"headers": dict(self.headers), "received": received}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def runnable_config(tmp: Path, *, http_port: int, https_port: int, upstream: int) -> Path:
    """deploy/nginx.conf with only what ties it to the container replaced: ports, the
    certificate directory, the user, and `web` (a compose name; `resolve` is nginx 1.27.3+)."""
    # nginx's workers run as this user, to write the temporary files below (ignored, with a
    # warning, when the tests do not run as root).
    text = CONFIG.replace("user nginx;", f"user {getpass.getuser()};")
    text = text.replace("listen 80 ", f"listen 127.0.0.1:{http_port} ")
    text = text.replace("listen 443 ", f"listen 127.0.0.1:{https_port} ")
    text = text.replace("/etc/nginx/certs", str(tmp))
    text = text.replace("server web:8000 resolve;", f"server 127.0.0.1:{upstream};")
    # Files of this run's own, wherever this nginx was built to keep them.
    paths = "".join(
        f"{name}_temp_path {tmp / name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", f"http {{\n{paths}access_log {tmp / 'access.log'};\n", 1)
    path = tmp / "nginx.conf"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    if not (shutil.which("nginx") and shutil.which("openssl")):
        pytest.skip("nginx and openssl are not installed (apt-get install nginx-light openssl)")
    tmp = tmp_path_factory.mktemp("proxy")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=support.example.com", "-keyout", tmp / "privkey.pem",
         "-out", tmp / "fullchain.pem"],
        check=True, capture_output=True,
    )  # fmt: skip
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    ports = {"http_port": free_port(), "https_port": free_port()}
    config = runnable_config(tmp, upstream=upstream.server_address[1], **ports)
    globals_ = f"daemon off; pid {tmp / 'nginx.pid'}; error_log {tmp / 'error.log'};"
    test = subprocess.run(
        ["nginx", "-t", "-p", str(tmp), "-c", str(config), "-g", globals_],
        capture_output=True, text=True,
    )  # fmt: skip
    assert test.returncode == 0, test.stderr
    process = subprocess.Popen(["nginx", "-p", str(tmp), "-c", str(config), "-g", globals_])
    for port in ports.values():
        wait_for_port(port, process)
    yield {**ports, "log": tmp / "error.log"}
    process.terminate()
    process.wait(timeout=10)
    upstream.shutdown()


def wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nginx is not listening on {port}")


def https(proxy, path: str, *, headers=None, data: bytes | None = None):
    context = ssl._create_unverified_context()
    request = urllib.request.Request(
        f"https://127.0.0.1:{proxy['https_port']}{path}",
        data=data,
        headers={"Host": "support.example.com", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def websocket_handshake(proxy) -> tuple[ssl.SSLSocket, int]:
    raw = socket.create_connection(("127.0.0.1", proxy["https_port"]), timeout=10)
    sock = ssl._create_unverified_context().wrap_socket(raw)
    sock.sendall(
        b"GET /ws/chat/ HTTP/1.1\r\nHost: support.example.com\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    status = int(sock.recv(4096).split(b" ", 2)[1])
    return sock, status


def test_nginx_accepts_the_config(proxy):
    pass  # the fixture has run `nginx -t` on it and started it


def test_it_redirects_plain_http_to_the_same_url_on_https(proxy):
    conn = socket.create_connection(("127.0.0.1", proxy["http_port"]), timeout=10)
    conn.sendall(b"GET /kb/?q=1 HTTP/1.1\r\nHost: support.example.com\r\nConnection: close\r\n\r\n")
    reply = conn.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 301")
    assert "Location: https://support.example.com/kb/?q=1" in reply


@pytest.mark.parametrize("path", ["/", "/kb/", "/admin/", "/static/chat.js"])
def test_the_app_sees_the_address_nginx_saw_not_the_one_the_client_wrote(proxy, path, settings):
    status, seen = https(proxy, path, headers={"X-Forwarded-For": "203.0.113.7"})
    assert status == 200
    assert seen["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert seen["headers"]["X-Forwarded-Proto"] == "https"
    assert seen["headers"]["Host"] == "support.example.com"
    # What the rate limits (and django-axes) count, with compose's TRUSTED_PROXY_COUNT.
    web = environment(load_compose()["services"]["web"])
    settings.TRUSTED_PROXY_COUNT = int(web["TRUSTED_PROXY_COUNT"])
    request = HttpRequest()
    request.META.update(
        REMOTE_ADDR="172.18.0.9", HTTP_X_FORWARDED_FOR=seen["headers"]["X-Forwarded-For"]
    )
    assert client_ip(request) == "127.0.0.1"


def test_metrics_are_not_served_to_the_internet(proxy):
    assert https(proxy, "/metrics")[0] == 404


def test_an_address_holds_at_most_twenty_chat_sockets(proxy):
    sockets = []
    try:
        for _ in range(20):
            sock, status = websocket_handshake(proxy)
            sockets.append(sock)
            assert status == 101
        sock, status = websocket_handshake(proxy)
        sockets.append(sock)
        assert status == 429
        assert 'limiting connections by zone "sockets_per_addr"' in proxy["log"].read_text()
    finally:
        for sock in sockets:
            sock.close()


def test_an_admin_upload_of_the_apps_limit_gets_through_and_a_larger_one_does_not(proxy):
    limit = upload_limit()
    status, seen = https(proxy, "/admin/upload/", data=b"x" * (limit + 64 * 1024))
    assert (status, seen["received"]) == (200, limit + 64 * 1024)
    assert https(proxy, "/admin/upload/", data=b"x" * (limit + 2 * 1024 * 1024))[0] == 413
    # Elsewhere, nothing needs more than a small form.
    assert https(proxy, "/", data=b"x" * (2 * 1024 * 1024))[0] == 413
