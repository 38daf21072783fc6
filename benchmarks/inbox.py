"""How long the inbox takes to render with the demo data, server side (Streamlit's AppTest runs the real page) and
in a real browser (Chromium, from the sign-in click to the first ticket on screen), next to the bare SQL page
query measured in the same run. Usage: ``python benchmarks/inbox.py [--tickets 200]`` (builds its own demo)."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results_file import write_section  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tickets", type=int, default=200)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="tandem-bench-"))
    os.environ["TANDEM_DATA_DIR"] = str(data)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    subprocess.run([sys.executable, "-m", "cx_core", "demo", "--tickets", str(args.tickets)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from streamlit.testing.v1 import AppTest

    from cx_core import desk
    from cx_core.access import StaffUser
    from cx_core.services import Services

    svc = Services()
    sql_ms = []
    for _ in range(args.runs):
        t = time.perf_counter()
        desk.inbox(svc.db, where=desk.InboxFilter(statuses=("new", "processing", "open")), limit=15)
        desk.counts(svc.db, me="ada")
        sql_ms.append((time.perf_counter() - t) * 1000)
    from cx_core.models import Role

    page_ms = []
    for _ in range(args.runs):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.session_state["user"] = StaffUser("ada", "Ada Advisor", Role.advisor)
        t = time.perf_counter()
        at.run()
        page_ms.append((time.perf_counter() - t) * 1000)
        assert not at.exception
    browser_ms = browser_render(data)
    text = (f"## Inbox render time (measured {time.strftime('%Y-%m-%d')}, `python benchmarks/inbox.py`)\n\n"
            f"Demo data with {args.tickets} tickets; median of {args.runs} runs (first run included in the max).\n\n"
            "| what | median ms | max ms |\n|---|---|---|\n"
            f"| SQL: one inbox page + queue counts | {statistics.median(sql_ms):.1f} | {max(sql_ms):.1f} |\n"
            f"| whole inbox page, server side (AppTest) | {statistics.median(page_ms):.0f} | {max(page_ms):.0f} |\n"
            + (f"| browser: sign-in click → first ticket visible | {statistics.median(browser_ms):.0f} | "
               f"{max(browser_ms):.0f} |\n" if browser_ms else "| browser | not measured (no chromium) | |\n"))
    print(text)
    write_section("inbox", text)


def browser_render(data: Path) -> list[float]:
    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        return []
    from playwright.sync_api import expect, sync_playwright

    port = 8611
    proc = subprocess.Popen([sys.executable, "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"], cwd=ROOT,
                            env={**os.environ, "TANDEM_DATA_DIR": str(data)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    out = []
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=flags)
            for _ in range(5):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(url)
                page.get_by_role("textbox", name="Username").fill("ada")
                page.get_by_role("textbox", name="Password").fill("advisor-demo")
                t = time.perf_counter()
                page.get_by_role("button", name="Sign in").click()
                expect(page.locator("a[href*='ticket=']").first).to_be_visible(timeout=60_000)
                out.append((time.perf_counter() - t) * 1000)
                page.close()
            browser.close()
    finally:
        proc.terminate()
    return out


if __name__ == "__main__":
    main()
