"""The operator console in a real headless browser (Debian's Chromium through chromedriver):
the page loads after login, a new RFQ and its quote appear without a reload, disabling a solver
goes through its confirmation and reaches the engine, and a screenshot is kept as an artifact.

Screenshots go to $RFQ_TEST_ARTIFACTS (default var/test-artifacts); with RFQ_UPDATE_DOCS=1 the
README's docs/console.png is refreshed too."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.integration.console_support import OPERATOR, PASSWORD, start_console_stack, wait_for
from tests.integration.test_end_to_end import quote, rfq_seen_by, send_rfq

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
BROWSER_WAIT_S = 5.0

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = [pytest.mark.fix, pytest.mark.browser]


def _artifacts() -> Path:
    folder = Path(os.environ.get("RFQ_TEST_ARTIFACTS", ROOT / "var" / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: scripts/services.sh installs chromium and chromium-driver")
        pytest.skip("no /usr/bin/chromium + /usr/bin/chromedriver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1900", "--disable-extensions", "--no-first-run"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(10)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def consoled(tmp_path_factory):
    stack = start_console_stack(tmp_path_factory.mktemp("console-browser"))
    for comp_id in ("REQ1", "SOLVER1", "SOLVER2"):
        stack.running.connect(comp_id)
    yield stack
    stack.close()


def _wait(driver, condition, what: str):
    """Sections are swapped in place by the event stream: elements go stale, so conditions re-query."""
    return WebDriverWait(driver, BROWSER_WAIT_S, poll_frequency=0.05,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition, message=what)


def _text(driver, css: str) -> str:
    return _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, css).text, f"the text of {css}")


def _log_in(driver, url: str, password: str = PASSWORD) -> None:
    driver.get(url + "login")
    _wait(driver, lambda d: d.find_element(By.ID, "username"), "the login form").send_keys(OPERATOR)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login").click()


def test_login_then_the_dashboard_loads_and_goes_live(browser, consoled):
    url = consoled.console.url
    _log_in(browser, url, password="wrong")
    # The form posts and the browser navigates: wait for the answer page, do not race it.
    assert "Wrong username or password" in _text(browser, "#login-error")
    _log_in(browser, url)
    _wait(browser, lambda d: d.find_element(By.ID, "live-status").text == "connected", "the event stream")
    sessions = _text(browser, "#sessions")
    assert "REQ1" in sessions and "SOLVER2" in sessions
    assert "yes" in _text(browser, '#sessions tr[data-session="REQ1"]')


def test_a_new_rfq_and_its_quote_appear_without_a_reload(browser, consoled):
    running = consoled.running
    browser.execute_script("window.__sameDocument = true;")
    market = running.stack.market.nbbo("NVDA", running.clock.now())
    send_rfq(running.clients["REQ1"], "live-1", "NVDA", "1", 3)
    row = _wait(browser, lambda d: next((r.text for r in d.find_elements(By.CSS_SELECTOR, "#rfqs tr[data-rfq]")
                                         if "live-1" in r.text), False), "the RFQ row")
    assert "NVDA" in row
    solver1 = running.clients["SOLVER1"]
    quote(solver1, rfq_seen_by(solver1, "NVDA", 3), market.bid - 1, market.ask + 1)
    _wait(browser, lambda d: any("SOLVER1" in r.text for r in d.find_elements(By.CSS_SELECTOR, "#rfqs tr[data-rfq]")
                                 if "live-1" in r.text), "the quote in the RFQ's row")
    assert _text(browser, "#rfqs .timer").endswith(" s")
    assert browser.execute_script("return window.__sameDocument === true;"), "the page was reloaded"
    screenshot = _artifacts() / "console.png"
    browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("RFQ_UPDATE_DOCS"):
        shutil.copyfile(screenshot, ROOT / "docs" / "console.png")


def test_disabling_a_solver_asks_for_confirmation_and_reaches_the_engine(browser, consoled):
    engine = consoled.running.stack.engine
    browser.get(consoled.console.url)
    _wait(browser, lambda d: d.find_element(By.ID, "disable-SOLVER2").click() or True, "the disable button")
    assert "Disable solver SOLVER2?" in browser.find_element(By.ID, "confirm-question").text
    browser.find_element(By.NAME, "reason").send_keys("browser test")
    browser.find_element(By.ID, "confirm").click()
    assert "solver SOLVER2 disabled" in _text(browser, "#flash")
    assert "disabled (browser test)" in _text(browser, '#solvers tr[data-solver="SOLVER2"]')
    wait_for(lambda: "SOLVER2" in engine.book.disabled_solvers, "the engine applying the operator command")
    _wait(browser, lambda d: "disabled; " in d.find_element(By.ID, "commands").text, "the command's result, live")
    _wait(browser, lambda d: d.find_element(By.ID, "enable-SOLVER2").click() or True, "the enable button")
    browser.find_element(By.ID, "confirm").click()
    wait_for(lambda: "SOLVER2" not in engine.book.disabled_solvers, "the engine enabling it again")
    browser.save_screenshot(str(_artifacts() / "console-after-actions.png"))
