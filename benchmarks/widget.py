"""The widget's loader: its size, and its time to interactive on a blank host page.

Sets Django up in-process (the embedded Postgres and Redis under HELPDESK_VAR_DIR; no LLM:
nothing here asks a question), migrates, loads the demo KB if the KB is empty, makes one
`widget.Site` and starts daphne, the desk, on http://localhost:<port>. A tiny HTTP server
of its own on http://127.0.0.1:<port> is the host, another origin: `/widget` is a blank page
with only the script tag, `/blank` the same page without it (the baseline).

- **Sizes**: static/widget/loader.js raw; gzip as `/widget.js` sends it (`Accept-Encoding:
  gzip`, the body's bytes on the wire); brotli -q 11 if the `brotli` module is installed.
  And what the frame fetches at the first click, from the frame's own Resource Timing.
- **Time to interactive**, in headless Chromium (/usr/bin/chromium), `--runs` times, each
  in a fresh browser context (cold cache), then reloaded in it (warm). An init script
  measures inside the page, in `performance.now()` (ms from navigation start): a
  MutationObserver sees the widget's host element appear with its shadow root, then
  `requestAnimationFrame` polls until `elementFromPoint` at the launcher's centre hits it
  (laid out, on top: clickable). The host's own `load` event (`loadEventStart`) beside it.
- **First open**: the launcher is clicked, and the clock runs from the click event's
  timestamp to `#status` turning `data-state="connected"` in the frame (a MutationObserver
  there; the two documents' clocks meet through `performance.timeOrigin`).
See benchmarks/README.md.
"""

import argparse
import gzip
import http.server
import json
import os
import shlex
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
VAR_AS_GIVEN = os.environ.get("HELPDESK_VAR_DIR")  # for printing the command line
if VAR_AS_GIVEN:  # absolute, so the daphne child (cwd=ROOT) finds the same services
    os.environ["HELPDESK_VAR_DIR"] = str(Path(VAR_AS_GIVEN).resolve())
LOAD_AT_START = os.getloadavg()[0]

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--runs", type=int, default=20, help="fresh browser contexts (cold+warm)")
parser.add_argument("--port", type=int, default=0, help="daphne's port (default: a free one)")
parser.add_argument("--open-timeout", type=float, default=15.0,
                    help="seconds to wait for the frame's chat to connect")  # fmt: skip
parser.add_argument("--json", action="store_true", help="also print the results as JSON")
args = parser.parse_args()
# Set before settings load, so this process and the daphne child agree: every page, frame
# and socket comes from 127.0.0.1, more often than one visitor would.
os.environ.update(RATELIMIT_PAGES="100000/m", RATELIMIT_IP="100000/m",
                  CHAT_CONNECTIONS_PER_IP="100000")  # fmt: skip

import django  # noqa: E402

from helpdesk import devstack  # noqa: E402

devstack.hand_over(llm=False)
django.setup()

from django.contrib.staticfiles import finders  # noqa: E402
from django.core.management import call_command  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from benchmarks.wsclient import free_port, start_daphne, stop  # noqa: E402
from chat.models import Conversation  # noqa: E402
from knowledge.selectors import article_count  # noqa: E402
from widget.models import Site  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]  # fmt: skip
BUDGET = 5 * 1024  # the budget for the loader, compressed
SITE_NAME = "bench-widget"
COLUMNS = ("transfer", "encoded", "decoded", "gzip")

# Runs in every document of the context, before its own scripts (not subject to its CSP).
PROBE = """(() => {
  const B = window.__bench = { origin: performance.timeOrigin };
  if (location.origin === %(desk)s) {  // the widget's frame
    const seen = new MutationObserver(() => {
      if (B.connected || document.getElementById('status')?.dataset.state !== 'connected') return;
      B.connected = performance.timeOrigin + performance.now();
      seen.disconnect();
    });
    const state = { attributes: true, attributeFilter: ['data-state'] };
    seen.observe(document, { childList: true, subtree: true, ...state });
    return;
  }
  const clicked = (e) => { B.click = B.click || performance.timeOrigin + e.timeStamp; };
  addEventListener('click', clicked, true);
  const drawn = new MutationObserver(() => {
    const host = document.querySelector('[data-helpdesk-widget]');
    const button = host?.shadowRoot?.querySelector('button');
    if (!button) return;
    B.inDom = performance.now();
    drawn.disconnect();
    const hit = () => {
      const r = button.getBoundingClientRect();
      if (r.width && document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === host) {
        B.clickable = performance.now();
      } else requestAnimationFrame(hit);
    };
    requestAnimationFrame(hit);
  });
  drawn.observe(document, { childList: true, subtree: true });
})();"""

READ_HOST = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const at = (part) => performance.getEntriesByType('resource').find((e) => e.name.includes(part));
  return { ...window.__bench, html: nav.responseEnd, load: nav.loadEventStart,
           script: at('/widget.js')?.responseEnd, config: at('/widget/sites/')?.responseEnd };
}"""

READ_FRAME = """() => {
  const pick = (e) => ({ name: e.name, transfer: e.transferSize, encoded: e.encodedBodySize,
                         decoded: e.decodedBodySize });
  const nav = performance.getEntriesByType('navigation')[0];
  return { ...window.__bench, dcl: performance.timeOrigin + nav.domContentLoadedEventEnd,
           files: [nav, ...performance.getEntriesByType('resource')].map(pick) };
}"""

LOADED = """() => performance.getEntriesByType('navigation')[0]?.loadEventEnd > 0
  && (!document.querySelector('script[data-site]') || window.__bench.clickable > 0)"""
CONNECTED = "() => window.__bench.connected > 0"


# --- The host: another origin, one script tag -------------------------------------------


def host_pages(desk: str, key: str) -> dict[str, bytes]:
    tag = f'<script src="{desk}/widget.js" data-site="{key}" async></script>'
    return {
        "/widget": f"<!doctype html><title>Host</title>{tag}".encode(),
        "/blank": b"<!doctype html><title>Host</title>",
    }


def host_server(pages: dict[str, bytes]) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            try:
                self.wfile.write(body or b"")
            except BrokenPipeError:
                pass  # the run ended and closed its page first

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- Sizes ----------------------------------------------------------------------------------


def sizes(desk: str) -> dict:
    raw = Path(finders.find("widget/loader.js")).read_bytes()
    request = urllib.request.Request(desk + "/widget.js", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        wire, encoding = resp.read(), resp.headers.get("Content-Encoding", "")
    assert gzip.decompress(wire) == raw if encoding == "gzip" else wire == raw
    try:
        import brotli  # not in requirements: measured only where it happens to be installed
    except ImportError:
        brotli = None
    return {"raw": len(raw), "served": len(wire), "encoding": encoding or "identity",
            "brotli": len(brotli.compress(raw, quality=11)) if brotli else None}  # fmt: skip


# --- Browser runs ---------------------------------------------------------------------------


class LoaderNetwork:
    """Bytes of /widget.js that came over the network on each load of a page (Chromium's
    encodedDataLength, headers included): a load served from the cache adds none."""

    def __init__(self, context, page):
        self.loads: list[int] = []
        self.ids: set[str] = set()
        cdp = context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", self.sent)
        cdp.on("Network.responseReceived", self.received)
        cdp.on("Network.loadingFinished", self.finished)
        cdp.send("Network.enable")

    def next_load(self) -> None:
        self.loads.append(0)

    def sent(self, e: dict) -> None:
        if e["request"]["url"].endswith("/widget.js"):
            self.ids.add(e["requestId"])

    def received(self, e: dict) -> None:
        if e["response"].get("fromDiskCache"):
            self.ids.discard(e["requestId"])

    def finished(self, e: dict) -> None:
        if e["requestId"] in self.ids:
            self.loads[-1] += e["encodedDataLength"]


def load(page, url: str, network: LoaderNetwork | None = None) -> dict:
    if network:
        network.next_load()
    if page.url.startswith(url):
        page.reload()
    else:
        page.goto(url)
    page.wait_for_function(LOADED, timeout=30_000)
    return page.evaluate(READ_HOST)


def fresh_context(browser, desk: str):
    """A new context: its own empty cache and connections, the probe in every document."""
    context = browser.new_context()
    context.add_init_script(PROBE % {"desk": json.dumps(desk)})
    return context


def run_widget(browser, url: str, desk: str) -> dict:
    context = fresh_context(browser, desk)
    try:
        page = context.new_page()
        network = LoaderNetwork(context, page)
        cold = load(page, url, network)
        warm = load(page, url, network)
        page.click("[data-helpdesk-widget] button")  # Playwright pierces the open shadow root
        frame = page.wait_for_selector("[data-helpdesk-widget] iframe").content_frame()
        frame.wait_for_load_state("load")
        try:
            frame.wait_for_function(CONNECTED, timeout=args.open_timeout * 1000)
        except PlaywrightTimeout:
            pass  # counted as never connected (open_table)
        inside = frame.evaluate(READ_FRAME)
        click = page.evaluate("() => window.__bench.click")
        connected = inside.get("connected")
        opened = {"frame_start": inside["origin"] - click, "frame_dcl": inside["dcl"] - click,
                  "connected": connected - click if connected else None,
                  "files": inside["files"]}  # fmt: skip
        return {"cold": cold, "warm": warm, "open": opened, "loader_bytes": network.loads}
    finally:
        context.close()


def run_blank(browser, url: str, desk: str) -> dict:
    context = fresh_context(browser, desk)
    try:
        page = context.new_page()
        return {"cold": load(page, url), "warm": load(page, url)}
    finally:
        context.close()


def browse(desk: str, host: str) -> tuple[list[dict], list[dict], str]:
    widget, blank = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # Untimed: daphne's first requests (imports, connections) are not the loader's.
            run_widget(browser, host + "/widget", desk)
            for i in range(args.runs):
                # Alternate which goes first, so drift in the machine's load hits both.
                for kind in ("widget", "blank") if i % 2 == 0 else ("blank", "widget"):
                    if kind == "widget":
                        widget.append(run_widget(browser, host + "/widget", desk))
                    else:
                        blank.append(run_blank(browser, host + "/blank", desk))
                w = widget[-1]
                connected = w["open"]["connected"]
                connected = f"{connected:6.1f} ms" if connected else "never"
                print(f"  {i + 1:2}/{args.runs} clickable cold {w['cold']['clickable']:6.1f} "
                      f"warm {w['warm']['clickable']:6.1f}  connected {connected}",
                      file=sys.stderr)  # fmt: skip
            return widget, blank, browser.version
        finally:
            browser.close()


# --- Reporting ----------------------------------------------------------------------------


def pct(values: list[float], p: int) -> float:
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def size_table(s: dict) -> None:
    print(f"\nLoader size (static/widget/loader.js), against the budget of {BUDGET} B compressed")
    print(f"{'':44}{'bytes':>8}{'of budget':>11}")
    print(f"{'raw':44}{s['raw']:>8}")
    print(f"{'as /widget.js serves it (' + s['encoding'] + ', -9), body':44}{s['served']:>8}"
          f"{s['served'] / BUDGET:>11.0%}")  # fmt: skip
    if s["brotli"]:
        print(f"{'brotli -q 11':44}{s['brotli']:>8}{s['brotli'] / BUDGET:>11.0%}")
    else:
        print(f"{'brotli':44}{'-':>8}  (the brotli module is not installed)")


def frame_table(files: list[dict]) -> None:
    """Each file as the browser fetched it, and what gzip -9 would make of its body."""
    print("\nWhat the frame fetches at the first click (its own Resource Timing, first run)")
    print(f"{'file':24}{'transfer':>10}{'encoded':>10}{'decoded':>10}{'gzip -9':>10}")
    for i, f in enumerate(files):
        with urllib.request.urlopen(f["name"], timeout=30) as resp:
            f["gzip"] = len(gzip.compress(resp.read(), compresslevel=9))
        name = (
            "frame HTML"
            if i == 0
            else f["name"].rstrip("/").rsplit("/", 1)[-1]
            if "/jsi18n/" not in f["name"]
            else "jsi18n (catalog)"
        )
        print(f"{name:24}" + "".join(f"{f[k]:>10}" for k in COLUMNS))
    print(f"{'total':24}" + "".join(f"{sum(f[k] for f in files):>10}" for k in COLUMNS))
    print("transfer: as Chromium counts it (body + headers); gzip -9: the same bytes, packed")


def tti_table(widget: list[dict], blank: list[dict]) -> dict:
    rows = [("with the widget: host HTML received", widget, "html"),
            ("  loader fetched (responseEnd)", widget, "script"),
            ("  host load event", widget, "load"),
            ("  site settings fetched", widget, "config"),
            ("  launcher in the shadow root, in DOM", widget, "inDom"),
            ("  launcher clickable (first rAF hit)", widget, "clickable"),
            ("no widget: host HTML received", blank, "html"),
            ("no widget: host load event", blank, "load")]  # fmt: skip
    print(f"\nBlank host page, ms from navigation start ({len(widget)} runs each)")
    print(f"{'':40}{'cold p50':>10}{'cold p95':>10}{'warm p50':>10}{'warm p95':>10}")
    table = {}
    for label, runs, key in rows:
        cells = [
            pct([r[when][key] for r in runs], p) for when in ("cold", "warm") for p in (50, 95)
        ]
        table[label.strip()] = cells
        print(f"{label:40}" + "".join(f"{c:>10.1f}" for c in cells))
    cold = [r["loader_bytes"][0] for r in widget]
    warm = [r["loader_bytes"][1] for r in widget]
    print(f"/widget.js over the network: cold {sum(b > 0 for b in cold)}/{len(cold)} loads "
          f"({statistics.median(cold):.0f} B with headers), warm "
          f"{sum(b > 0 for b in warm)}/{len(warm)}")  # fmt: skip
    return table


def open_table(widget: list[dict]) -> dict:
    print(f"\nFirst open: ms from the click event ({len(widget)} runs)")
    print(f"{'':40}{'p50':>10}{'p95':>10}")
    table = {}
    for label, key in (("frame's navigation starts", "frame_start"),
                       ("frame's DOMContentLoaded", "frame_dcl"),
                       ("chat connected (#status)", "connected")):  # fmt: skip
        values = [r["open"][key] for r in widget]
        table[label] = [pct(values, 50), pct(values, 95)]
        print(f"{label:40}{table[label][0]:>10.1f}{table[label][1]:>10.1f}")
    never = sum(r["open"]["connected"] is None for r in widget)
    if never:
        # chat.js connects at frame.js's `chat:ready`, which is lost when the host's `init`
        # arrives before chat.js has run (it is deferred after frame.js): see the report.
        print(f"never connected within {args.open_timeout:g} s: {never} of {len(widget)} "
              f"first opens (left out of the percentiles)")  # fmt: skip
    return table


def report(s: dict, widget: list[dict], blank: list[dict], version: str, started: float):
    prefix = f"HELPDESK_VAR_DIR={VAR_AS_GIVEN} " if VAR_AS_GIVEN else ""
    command = prefix + shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])
    machine = f"{cpu_model()}, {os.cpu_count()} cores"
    print(f"\nCommand: {command}\nmachine           {machine}\nbrowser           "
          f"Chromium {version}, headless, a fresh context per run\nload avg (1 min)  "
          f"{LOAD_AT_START:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
          f"{time.monotonic() - started:.0f} s in all")  # fmt: skip
    size_table(s)
    frame_table(widget[0]["open"]["files"])
    tti = tti_table(widget, blank)
    opened = open_table(widget)
    if args.json:
        result = {"command": command, "machine": machine, "chromium": version, "sizes": s,
                  "tti_ms": tti, "open_ms": opened, "widget": widget, "blank": blank}  # fmt: skip
        print(json.dumps(result, indent=2))


def main() -> None:
    started = time.monotonic()
    daphne = server = site = None
    try:
        call_command("migrate", interactive=False, verbosity=0)
        if article_count() == 0:
            call_command("ingest_kb", str(ROOT / "knowledge" / "demo_kb"), verbosity=0)
        port = args.port or free_port()
        daphne = start_daphne(port)
        desk = f"http://localhost:{port}"  # another site than the host's 127.0.0.1
        pages: dict[str, bytes] = {}
        server = host_server(pages)
        host = f"http://127.0.0.1:{server.server_address[1]}"
        site = Site.objects.create(name=SITE_NAME, allowed_origins=host)
        pages.update(host_pages(desk, site.key))
        s = sizes(desk)
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop in this thread
        widget, blank, version = browse(desk, host)
        report(s, widget, blank, version, started)
    finally:
        if server:
            server.shutdown()
        if daphne:
            stop(daphne)
        if site:
            Conversation.objects.filter(site=site).delete()
            site.delete()
        devstack.stop_started()  # only what this process started; a running stack stays


if __name__ == "__main__":
    main()
