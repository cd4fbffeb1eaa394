"""The page at `/`, driven in real headless Chromium: type, choose the model, click, read the translation."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1100,900"]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium with a fresh profile, driven by chromedriver through selenium."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_page_translates_and_shows_latency(browser: Any, serve: Any, models_dir: Callable[..., Path],
                                           exports: dict[str, Path], micro_checkpoint: Path,
                                           reference: Callable[..., list[str]]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    text = "Y dijo Dios: Sea la luz; y fue la luz."
    with serve(models_dir(micro=exports["f32"], **{"micro-int8": exports["int8"]}), max_length=32) as gw:
        browser.get(gw.url + "/")
        wait = WebDriverWait(browser, 20)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-models") == "2")
        Select(browser.find_element(By.ID, "model")).select_by_value("micro")
        browser.find_element(By.ID, "source").send_keys(text)
        browser.find_element(By.ID, "translate").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "translated")
        translation = browser.find_element(By.ID, "translation").get_property("textContent")
        latency = browser.find_element(By.ID, "latency").get_property("textContent")
        ARTIFACTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "gateway-page.png"))
        browser.find_element(By.ID, "source").clear()
        browser.find_element(By.ID, "source").send_keys("   ")
        browser.find_element(By.ID, "translate").click()
        blank_error = browser.find_element(By.ID, "error").get_property("textContent")
    assert translation == reference(micro_checkpoint, [text], 32)[0]
    assert "ms in the browser" in latency and "(micro)" in latency
    assert "Type a text" in blank_error
    assert (ARTIFACTS / "gateway-page.png").stat().st_size > 1000


def test_side_by_side_translates_with_two_models_and_shows_both_latencies(
        browser: Any, serve: Any, models_dir: Callable[..., Path], exports: dict[str, Path], micro_checkpoint: Path,
        reference: Callable[..., list[str]]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    text = "En el principio creó Dios los cielos y la tierra."
    with serve(models_dir(micro=exports["f32"], **{"micro-int8": exports["int8"]}), max_length=32) as gw:
        browser.get(gw.url + "/")
        wait = WebDriverWait(browser, 20)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-models") == "2")
        options = [o.text for o in Select(browser.find_element(By.ID, "model")).options]
        assert all(o.count("BLEU") == 1 and "params" in o for o in options), options
        browser.find_element(By.ID, "compare").click()
        Select(browser.find_element(By.ID, "model")).select_by_value("micro")
        Select(browser.find_element(By.ID, "model-b")).select_by_value("micro-int8")
        browser.find_element(By.ID, "source").send_keys(text)
        browser.find_element(By.ID, "translate").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "translated")
        first = browser.find_element(By.ID, "translation").get_property("textContent")
        second = browser.find_element(By.ID, "translation-b").get_property("textContent")
        latencies = [browser.find_element(By.ID, i).get_property("textContent") for i in ("latency", "latency-b")]
        ARTIFACTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "gateway-page-side-by-side.png"))
    assert first == reference(micro_checkpoint, [text], 32)[0] and second.strip()
    assert "(micro)" in latencies[0] and "(micro-int8)" in latencies[1]
