"""The example page in headless Chromium: EventSource progress, retries, polling fallback.

Needs Debian's Chromium (``scripts/ensure-chromium.sh``); the example app runs on gunicorn
gthread with a real RQ worker (``--with-scheduler``, for the retry interval).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, venv_bin, wait_for_port
from tests.tasks.helpers import ROOT, running, stop

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# Collects every text the status line shows, so the test sees the intermediate states.
RECORDER = """
window.__seen = [];
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("status");
  new MutationObserver(() => window.__seen.push(el.textContent))
    .observe(el, { childList: true, characterData: true, subtree: true });
});
"""


def gunicorn_cmd(redis_url: str, port: int) -> list[str]:
    return [
        venv_bin("gunicorn"),
        "--no-control-socket",
        "-k",
        "gthread",
        "--threads",
        "16",
        "-b",
        f"127.0.0.1:{port}",
        f"examples.task_progress.app:create_app({redis_url!r})",
    ]


@pytest.fixture
def rq_worker(redis_url: str) -> Iterator[None]:
    worker = subprocess.Popen(
        [
            venv_bin("rq"),
            "worker",
            "--with-scheduler",
            "-w",
            "tocsin.tasks.rq.TrackingWorker",
            "-u",
            redis_url,
            "-P",
            str(ROOT),
        ],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        stop(worker)


@pytest.fixture
def example_url(redis_url: str, rq_worker: None) -> Iterator[str]:
    port = free_port()
    with running(gunicorn_cmd(redis_url, port), port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium missing: run scripts/ensure-chromium.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def run_report(browser: Any, url: str, timeout_ms: int = 20000) -> tuple[list[str], str, Any]:
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(RECORDER)
    page.goto(url)
    with page.expect_response(lambda r: "/reports" in r.url) as started:
        page.click("#start")
    task_id = started.value.json()["id"]
    page.wait_for_function(
        "['done', 'cancelled'].includes(document.getElementById('status').textContent)"
        " || document.getElementById('status').textContent.startsWith('failed:')",
        timeout=timeout_ms,
    )
    seen = page.evaluate("window.__seen")
    assert page.eval_on_selector("#bar", "el => el.value") == 100
    return seen, task_id, context


def test_progress_bar_over_sse(browser: Any, example_url: str) -> None:
    seen, task_id, context = run_report(browser, f"{example_url}/?steps=6")
    assert context.pages[0].text_content("#transport") == "sse"
    assert seen[0] == "queued"
    running = [s for s in seen if s.startswith("running ")]
    assert "running 50 %" in running
    assert seen[-1] == "done"
    # Someone else's session cannot see the task: 404, not 403.
    assert httpx.get(f"{example_url}/tasks/{task_id}").status_code == 404
    own = context.request.get(f"{example_url}/tasks/{task_id}")
    assert own.status == 200
    assert own.json()["state"] == "succeeded"
    context.close()


def test_retry_shows_countdown_then_done(browser: Any, example_url: str) -> None:
    seen, _task_id, context = run_report(browser, f"{example_url}/?steps=6&fail=1")
    retrying = [s for s in seen if "retrying in" in s]
    assert retrying, seen
    assert "the database went away" in retrying[0]
    assert seen[-1] == "done"
    context.close()


def test_polling_fallback(browser: Any, example_url: str) -> None:
    seen, _task_id, context = run_report(browser, f"{example_url}/?steps=4&transport=poll")
    assert context.pages[0].text_content("#transport") == "polling"
    assert seen[-1] == "done"
    context.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def test_stream_resumes_after_a_server_restart(
    browser: Any, redis_url: str, rq_worker: None
) -> None:
    """Kill the web server mid-task: EventSource reconnects with Last-Event-ID and goes on."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    server = subprocess.Popen(
        gunicorn_cmd(redis_url, port), cwd=ROOT, start_new_session=True, **quiet
    )
    restarted = None
    try:
        wait_for_port(port)
        context = browser.new_context()
        page = context.new_page()
        page.add_init_script(RECORDER)
        page.goto(f"{url}/?steps=12")
        page.click("#start")
        page.wait_for_function("document.getElementById('status').textContent === 'running 25 %'")
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        restarted = subprocess.Popen(
            gunicorn_cmd(redis_url, port), cwd=ROOT, start_new_session=True, **quiet
        )
        wait_for_port(port)
        page.wait_for_function(
            "document.getElementById('status').textContent === 'done'", timeout=20000
        )
        seen = page.evaluate("window.__seen")
        assert page.text_content("#transport") == "sse"  # resumed, did not fall back
        percents = [int(s.split()[1]) for s in seen if s.startswith("running ")]
        assert percents == sorted(percents)
        assert percents[-1] == 100
        context.close()
    finally:
        for proc in (server, restarted):
            if proc is not None:
                stop(proc)
