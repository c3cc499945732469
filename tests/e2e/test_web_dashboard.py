"""The web dashboard in a real browser, over the services as processes loaded with the demo organisation.

The four services run as `make run` starts them, and ``deploy/local/demo.py`` loads the demo organisation
through their HTTP APIs (tenant ``demo``). Headless Chromium, driven by Selenium through Debian's
chromedriver, then does what a manager does: opens the dashboard, picks Ana Lima's team, reads it, and opens
a review packet. What the page shows is checked against the JSON API, and full-page screenshots are kept in
``tests/e2e/artifacts/`` and checked for what a person would see.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import ServiceProcesses, service_processes
from tests.support import end_offsets, read_topic

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "deploy" / "local" / "demo.py"
ARTIFACTS = Path(__file__).parent / "artifacts"
DIRECTORY = "tandem.directory.v1"
TOPICS = ("tandem.goals.v1", "tandem.checkins.v1", "tandem.reviews.v1", DIRECTORY)
TENANT = "demo"
ANAS_REPORTS = {"rep-ben": "Ben Carter", "rep-chloe": "Chloe Martin", "rep-dev": "Dev Patel"}
PROJECTED = 120.0
PAGE_LOAD = 15.0
# The bar colours of templates/base.html: --good, --warn, --bad, --dev; the top bar is #101828.
BAR_COLOURS = {"good": (0x12, 0xB7, 0x6A), "warn": (0xF7, 0x90, 0x09), "bad": (0xF0, 0x44, 0x38), "dev": (0x7A, 0x5A, 0xF8)}
TOP_BAR = (0x10, 0x18, 0x28)


# --- the browser --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless Chromium through Debian's chromedriver (Selenium never downloads a driver)."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        message = "Chromium and its driver are not installed (Debian: apt-get install chromium chromium-driver)"
        if os.environ.get("TANDEM_REQUIRE_POSTGRES") == "1":  # CI installs both, so a missing browser is a failure
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(PAGE_LOAD)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: WebDriver) -> list[dict[str, Any]]:
    """The browser console's errors since the last call."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def assert_fits_the_viewport(driver: WebDriver) -> None:
    overflow = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert overflow[0] <= overflow[1], f"the page scrolls sideways: {overflow[0]}px wide in {overflow[1]}px"


def full_page_screenshot(driver: WebDriver, name: str) -> Image.Image:
    """Save a screenshot of the whole page to the artifacts folder and return it as an RGB image."""
    width, height = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
    })
    png = base64.b64decode(shot["data"])
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.png").write_bytes(png)
    return Image.open(io.BytesIO(png)).convert("RGB")


def close_to(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


# --- the demo organisation ----------------------------------------------------------------------------------


async def projected_everything(running: ServiceProcesses) -> bool:
    """The projections service has committed every offset now on its topics."""
    ends = {(topic, partition): end for topic in TOPICS
            for partition, end in (await end_offsets(running.env["KAFKA_BOOTSTRAP_SERVERS"], topic)).items()}
    admin = AIOKafkaAdminClient(bootstrap_servers=running.env["KAFKA_BOOTSTRAP_SERVERS"])
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(running.env["TANDEM_PROJECTIONS_CONSUMER_GROUP"])
    finally:
        await admin.close()
    done = {(tp.topic, tp.partition): meta.offset for tp, meta in committed.items()}
    return all(done.get(tp, 0) >= end for tp, end in ends.items())


def wait_until_projected(running: ServiceProcesses) -> None:
    """Wait until the demo's last step shows and the projection has applied all that is on the topics, twice
    in a row half a second apart (so a reaction still on its way is not missed)."""
    packet = f"{running.urls['projections']}/v1/employees/rep-ben/review-packet"
    deadline = time.monotonic() + PROJECTED
    settled_once = False
    while True:
        assert time.monotonic() < deadline, "the projection never caught up with the demo"
        reviewed = httpx.get(packet, params={"cycle": "2026"}, headers={"X-Tenant-ID": TENANT})
        settled = reviewed.status_code == 200 and reviewed.json()["review"] is not None
        settled = settled and asyncio.run(projected_everything(running))
        if settled and settled_once:
            return
        settled_once = settled
        time.sleep(0.5)


async def holds_a_demo_organisation(bootstrap: str) -> bool:
    return any(message.key == f"{TENANT}:rep-ben".encode() for message in await read_topic(bootstrap, DIRECTORY))


@pytest.fixture(scope="module")
def demo(kafka_bootstrap: str, tmp_path_factory) -> Iterator[dict[str, str]]:
    """The services as processes, loaded with the demo organisation as `make run` loads it; their URLs."""
    if asyncio.run(holds_a_demo_organisation(kafka_bootstrap)):
        # The demo loads once per broker, as `make run` does on a fresh one: a second load meets the first's goals.
        message = "the broker already holds a demo organisation; run on a fresh broker (unset KAFKA_BOOTSTRAP_SERVERS)"
        if os.environ.get("TANDEM_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with service_processes(kafka_bootstrap, tmp_path_factory.mktemp("demo")) as running:
        urls = running.urls
        loaded = subprocess.run(
            [sys.executable, str(DEMO), "--goals", urls["goals"], "--checkins", urls["checkins"],
             "--reviews", urls["reviews"]],
            capture_output=True, text=True, timeout=300, check=False,
        )
        assert loaded.returncode == 0, f"the demo did not load:\n{loaded.stdout}\n{loaded.stderr}"
        assert "demo organisation loaded" in loaded.stdout
        wait_until_projected(running)
        yield urls


def team_dashboard(urls: dict[str, str], manager_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{urls['projections']}/v1/dashboards/alignment", params={"manager_id": manager_id},
                       headers={"X-Tenant-ID": TENANT})
    assert answer.status_code == 200, answer.text
    return answer.json()


def pick_team(driver: WebDriver, manager_id: str, name: str) -> None:
    """Pick a team with the picker in the top bar, as a person would, and wait for its page."""
    picker = Select(driver.find_element(By.CSS_SELECTOR, "#team-picker select"))
    [option] = [option for option in picker.options if option.get_attribute("value") == manager_id]
    assert option.text.startswith(name)
    picker.select_by_value(manager_id)
    WebDriverWait(driver, PAGE_LOAD).until(expected_conditions.url_contains(f"manager_id={manager_id}"))
    WebDriverWait(driver, PAGE_LOAD).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), f"{name}'s team"))


def open_anas_team(driver: WebDriver, urls: dict[str, str]) -> None:
    """Open the dashboard, pick Lee Wong's team, then Ana Lima's (the first team may be shown already)."""
    driver.get(f"{urls['projections']}/")
    pick_team(driver, "mgr-lee", "Lee Wong")
    pick_team(driver, "mgr-ana", "Ana Lima")


def open_bens_packet(driver: WebDriver) -> None:
    """Follow the review packet link on Ben's line of the team page."""
    ben = driver.find_element(By.CSS_SELECTOR, "section.report[data-employee='rep-ben']")
    ben.find_element(By.LINK_TEXT, "Review packet 2026").click()
    WebDriverWait(driver, PAGE_LOAD).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Review packet: Ben Carter"))


# --- the tests ----------------------------------------------------------------------------------------------


def test_a_manager_picks_their_team_and_sees_each_report_with_goals_development_and_packet_links(browser, demo):
    console_errors(browser)
    open_anas_team(browser, demo)
    team = team_dashboard(demo, "mgr-ana")
    cards = {card["employee_id"]: card for card in team["reports"]}
    overdue_today = set(team["overdue_goal_ids"])
    reports = {section.get_attribute("data-employee"): section
               for section in browser.find_elements(By.CSS_SELECTOR, "section.report")}
    assert set(ANAS_REPORTS) <= set(reports)
    bars_shown = 0

    for employee_id, name in ANAS_REPORTS.items():
        section = reports[employee_id]
        card = cards[employee_id]
        assert section.find_element(By.TAG_NAME, "h3").text == name

        capacity = section.find_element(By.CSS_SELECTOR, ".capacity").text
        assert re.fullmatch(r"Capacity: [\d.,]+ h of [\d.,]+ h/month", capacity), capacity

        performance = {goal.get_attribute("data-goal"): goal
                       for goal in section.find_elements(By.CSS_SELECTOR, ".goal.perf")}
        active = {g["goal_id"]: g for g in card["performance_goals"] if g["status"] == "active"}
        assert set(performance) == set(active), f"{name}'s performance goals"
        for goal_id, goal in performance.items():
            shown = active[goal_id]
            assert goal.find_element(By.CSS_SELECTOR, ".title").text == shown["title"]
            meter = goal.find_element(By.CSS_SELECTOR, ":scope > div > .meter")
            bar = meter.find_element(By.CSS_SELECTOR, "span")
            if shown["attainment"] and shown["attainment"] > 0:
                assert bar.is_displayed() and bar.size["width"] > 0, f"no attainment bar on {shown['title']}"
                expected = meter.size["width"] * min(shown["attainment"], 100) / 100
                assert abs(bar.size["width"] - expected) <= 2, "the bar's length is not the attainment"
                bars_shown += 1
            overdue = goal.find_elements(By.CSS_SELECTOR, ":scope > .badges .overdue")
            assert [badge.text for badge in overdue] == (["Overdue"] if goal_id in overdue_today else [])

        links = {link.text: link.get_attribute("href") for link in section.find_elements(By.CSS_SELECTOR, ".actions a")
                 if link.is_displayed()}
        assert links["Review packet 2026"].endswith(
            f"/v1/employees/{employee_id}/review-packet?cycle=2026&format=html&tenant={TENANT}")
        assert links["PDF"].endswith(f"/v1/employees/{employee_id}/review-packet.pdf?cycle=2026&tenant={TENANT}")

    assert bars_shown, "no attainment bar on Ana's team"
    ben = reports["rep-ben"]
    negotiation = [d for d in ben.find_elements(By.CSS_SELECTOR, ".goal.perf .support .devgoal")
                   if "Negotiation" in d.find_element(By.CSS_SELECTOR, ".title").text]
    assert negotiation, "Ben's negotiation training is not shown beneath his conversions goal"
    chips = [chip.text for chip in negotiation[0].find_elements(By.CSS_SELECTOR, ".badge.dev")]
    assert "Capability gap: negotiation" in chips
    progress = negotiation[0].find_element(By.CSS_SELECTOR, ".meter.dev > span")
    assert progress.is_displayed() and progress.size["width"] > 0

    overdue_badges = browser.find_elements(By.CSS_SELECTOR, ".badge.overdue")
    assert any(badge.is_displayed() and badge.text == "Overdue" for badge in overdue_badges), "Dev is overdue"
    assert_fits_the_viewport(browser)
    assert console_errors(browser) == []


def test_a_future_role_link_shows_the_role_on_the_infrastructure_team(browser, demo):
    browser.get(f"{demo['projections']}/")
    pick_team(browser, "mgr-lee", "Lee Wong")
    [sam] = browser.find_elements(By.CSS_SELECTOR, "section.report[data-employee='eng-sam']")
    chips = [chip.text for chip in sam.find_elements(By.CSS_SELECTOR, ".devgoal .badge.brand")]
    assert "Future role: Cloud infrastructure engineer for the move to AWS" in chips
    assert_fits_the_viewport(browser)
    assert console_errors(browser) == []


def test_a_review_packet_link_opens_the_three_steps_and_its_pdf_link_answers_a_pdf(browser, demo):
    open_anas_team(browser, demo)
    open_bens_packet(browser)

    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h2[id^='step-']")]
    assert headings == ["1 · Review the performance goals", "2 · Connect performance to development",
                        "3 · Review the development goals and plan ahead"]
    assert "review completed" in browser.find_element(By.CSS_SELECTOR, "main > .sub").text
    assert_fits_the_viewport(browser)
    assert console_errors(browser) == []

    pdf = browser.find_element(By.LINK_TEXT, "Download PDF").get_attribute("href")
    answer = httpx.get(pdf)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF-")


def test_screenshots_show_the_dark_top_bar_and_coloured_bars_where_the_page_draws_them(browser, demo):
    open_anas_team(browser, demo)
    bars = []
    for span in browser.find_elements(By.CSS_SELECTOR, ".meter > span"):
        kind = next((k for k in BAR_COLOURS if k in span.find_element(By.XPATH, "..").get_attribute("class").split()), None)
        if kind and span.is_displayed() and span.size["width"] >= 4:
            bars.append((kind, span.location, span.size))
    image = full_page_screenshot(browser, "team-dashboard")
    assert_looks_like_a_tandem_page(image)
    assert {kind for kind, _, _ in bars} >= {"good", "dev"}, "no on-track or development bars on Ana's team"
    for kind, location, size in bars:
        middle = (int(location["x"] + size["width"] / 2), int(location["y"] + size["height"] / 2))
        assert close_to(image.getpixel(middle), BAR_COLOURS[kind]), f"a {kind} bar is drawn {image.getpixel(middle)}"

    open_bens_packet(browser)
    packet = full_page_screenshot(browser, "review-packet")
    assert_looks_like_a_tandem_page(packet)
    assert packet.height > browser.execute_script("return window.innerHeight"), "only the viewport was captured"


def assert_looks_like_a_tandem_page(image: Image.Image) -> None:
    """Not blank, with the dark top bar across the page's full width."""
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, "the screenshot is blank"
    top_row = [image.getpixel((x, 4)) for x in range(image.width)]
    assert all(close_to(pixel, TOP_BAR, 4) for pixel in top_row), "no dark top bar"
    below = [image.getpixel((x, 80)) for x in range(0, image.width, 7)]
    assert sum(close_to(pixel, TOP_BAR, 4) for pixel in below) < len(below) / 2, "the top bar covers the page"
