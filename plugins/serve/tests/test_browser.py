"""The page in a real headless browser: Chromium (the system's ``chromium`` and
``chromium-driver`` packages, which ``make install`` adds where it runs as root) driven
by Selenium against a uvicorn server on a free loopback port.

Load the page, generate an image grid, stream text, rate a pair, and check the line the
rating appended. With ``GENLOOM_SCREENSHOTS=DIR`` the test saves the screenshots that
docs/serving.md shows (``serve-generate.png``, ``serve-pairwise.png``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium") or "")
                 if p and os.path.exists(p)), None)
DRIVER = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver") or "")
               if p and os.path.exists(p)), None)

pytestmark = pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                                reason="no Chromium and chromedriver installed "
                                       "(apt-get install chromium chromium-driver; make install does it as root)")


@pytest.fixture
def server(served, tmp_path):
    """A real uvicorn server in a thread, on a free loopback port, over the session's models."""
    import uvicorn

    from genloom_serve.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ratings = tmp_path / "ratings.jsonl"
    app = create_app(served, ratings=ratings)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", ratings
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1100,900", "--no-proxy-server"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _shot(driver, name: str) -> None:
    folder = os.environ.get("GENLOOM_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / name))


def test_page_generates_streams_and_records_a_pairwise_rating(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, ratings = server
    wait = WebDriverWait(browser, 60)
    browser.get(base + "/")
    assert browser.title == "genloom serve"

    # generate a grid of 8 digits labelled 3
    form = browser.find_element(By.CSS_SELECTOR, 'form[data-model="cvae-digits"]')
    n = form.find_element(By.NAME, "n")
    n.clear()
    n.send_keys("8")
    form.find_element(By.NAME, "cond").send_keys("3")
    form.find_element(By.TAG_NAME, "button").click()
    grid = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "section[data-model='cvae-digits'] img")))
    assert grid.get_attribute("src").startswith("data:image/png;base64,")
    assert browser.execute_script("return arguments[0].naturalWidth", grid) > 0  # the PNG decoded

    # an interpolation strip and its slider
    section = browser.find_element(By.CSS_SELECTOR, "section[data-model='cvae-digits']")
    section.find_element(By.CSS_SELECTOR, ".walk button").click()
    slider = wait.until(lambda d: section.find_elements(By.CSS_SELECTOR, ".walk-slider"))[0]
    assert slider.get_attribute("max") == "7"
    first = section.find_element(By.CSS_SELECTOR, ".frame img").get_attribute("src")
    browser.execute_script("arguments[0].value = 7; arguments[0].dispatchEvent(new Event('input'))", slider)
    assert section.find_element(By.CSS_SELECTOR, ".frame img").get_attribute("src") != first

    # stream text until done
    text_form = browser.find_element(By.CSS_SELECTOR, 'form[data-model="gpt-tiny"]')
    text_form.find_element(By.NAME, "prompt").send_keys("def ")
    tokens = text_form.find_element(By.NAME, "max_new_tokens")
    tokens.clear()
    tokens.send_keys("20")
    text_form.find_element(By.TAG_NAME, "button").click()
    out = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "section[data-model='gpt-tiny'] pre")))
    wait.until(lambda d: out.get_attribute("data-done") == "true")
    assert out.text.startswith("def") and len(out.text) > len("def ")
    _shot(browser, "serve-generate.png")

    # rate a pair: two seeds of one model
    browser.find_element(By.CSS_SELECTOR, 'nav button[data-tab="pair"]').click()
    Select(browser.find_element(By.ID, "pair-a")).select_by_visible_text("cvae-digits")
    Select(browser.find_element(By.ID, "pair-b")).select_by_visible_text("cvae-digits")
    browser.find_element(By.ID, "pair-new").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#pair-A img") or d.find_element(By.ID, "pair-msg").text
               not in ("", "…"))
    assert browser.find_elements(By.CSS_SELECTOR, "#pair-A img"), browser.find_element(By.ID, "pair-msg").text
    wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#pair-B img")))
    _shot(browser, "serve-pairwise.png")
    browser.find_element(By.CSS_SELECTOR, 'button.pick[data-choice="A"]').click()
    wait.until(lambda d: ratings.exists() and ratings.read_text().strip())
    assert ratings.exists(), browser.find_element(By.ID, "pair-msg").text
    record = json.loads(ratings.read_text().splitlines()[0])
    assert record["type"] == "pairwise" and record["choice"] == "A" and record["winner"] == "cvae-digits"
    assert record["a"]["model"] == record["b"]["model"] == "cvae-digits" and record["a"]["seed"] != record["b"]["seed"]
    assert record["a"]["checkpoint"] and record["time"]
