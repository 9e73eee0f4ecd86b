"""The live page when the translators are behind (translation/jobs/capacity.py and
static/js/capacity.js): the real stack is made busy by a final that has waited in the queue for
seconds (a row put in its database), the connected page shows "Translator busy: translations N s
behind", a page that connects meanwhile is refused (close code 1013) and says so, and the line
goes once the queue is empty again."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.browser.conftest import open_page, wait_for_event
from tests.stack import PYTHON, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.timeout(240)]

STALE_QUEUED_ROW = """
from datetime import timedelta
from django.utils import timezone
from translation.models import Translation
row = Translation.objects.create(status="queued", duration_s=2.0, session_id="overload-test")
Translation.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(seconds=5))
"""
REMOVE_IT = """
from translation.models import Translation
Translation.objects.filter(session_id="overload-test").delete()
"""


def in_stack(stack, code: str) -> None:
    """Run Django code against the stack's own database (its settings and environment)."""
    subprocess.run([PYTHON, "manage.py", "shell", "-c", code], cwd=ROOT, env=stack.env, check=True)


def start(page) -> None:
    page.goto("/")
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")
    page.get_by_role("button", name="Start").click()


def test_busy_is_shown_and_a_page_connecting_meanwhile_is_told_it_was_refused(
    page, browser, browser_stack
):
    start(page)
    wait_for_event(page, "status", where="e.state === 'configured'", timeout_s=15)
    in_stack(browser_stack, STALE_QUEUED_ROW)
    try:
        wait_for_event(page, "status", where="e.state === 'busy'", timeout_s=10)
        notice = page.locator("#capacity")
        assert notice.is_visible()
        assert re.fullmatch(r"Translator busy: translations \d+ s behind.*", notice.inner_text())

        with open_page(browser, browser_stack.http_url) as second:
            start(second)
            wait_for_event(second, "status", where="e.state === 'refused'", timeout_s=15)
            refused = second.locator("#capacity")
            assert refused.get_attribute("data-state") == "refused"
            assert "not connected (translator busy" in refused.inner_text()
            second.wait_for_function(
                "document.querySelector('#connection').textContent"
                ".startsWith('Translator busy, retrying in')",
                timeout=5_000,
            )
    finally:
        in_stack(browser_stack, REMOVE_IT)
    wait_for_event(page, "status", where="e.state === 'clear'", timeout_s=15)
    assert not page.locator("#capacity").is_visible()
    page.get_by_role("button", name="Stop").click()
