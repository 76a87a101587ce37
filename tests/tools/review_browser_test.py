#!/usr/bin/env python3
"""The review page in a real browser (headless Chromium driven by Selenium).

Simulates the brachial example, starts `dopflow review`, opens the page,
rejects a beat with a reason, excludes a span by dragging, marks the
recording reviewed, saves, then checks the review file on disk, the summary
the page shows after the reanalysis, and that `dopflow analyze` replays the
same file to the same numbers. Exit 77 (ctest SKIP_RETURN_CODE) only when
Chromium or its driver is absent.

Usage: review_browser_test.py DOPFLOW SOURCE_DIR [SCREENSHOT.png]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def main():
    dopflow, source = sys.argv[1], sys.argv[2]
    screenshot = sys.argv[3] if len(sys.argv) > 3 else None
    chromium = find_chromium()
    driver_path = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    if not chromium or not driver_path:
        print("SKIP: chromium or chromedriver not installed (tools/install-deps.sh installs them)")
        return SKIP
    from selenium import webdriver  # python3-selenium; installed with chromium by install-deps
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    work = tempfile.mkdtemp(prefix="dopflow-browser-")
    server = None
    browser = None
    try:
        wav = os.path.join(work, "rec.wav")
        subprocess.run([dopflow, "simulate", os.path.join(source, "datasets/examples/brachial_rest.json"), "-o", wav],
                       check=True, capture_output=True)
        server = subprocess.Popen([dopflow, "review", wav], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "?t=" in url, url

        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1500,900"):
            options.add_argument(arg)
        browser = webdriver.Chrome(service=Service(driver_path), options=options)
        started = time.time()
        browser.get(url)
        wait = WebDriverWait(browser, 20)
        wait.until(lambda b: b.execute_script("return !!(window.dopflow && window.dopflow.ready && window.dopflow.win)"))
        print("page load to first window: %.0f ms" % (1000 * (time.time() - started)))
        n_before = int(browser.find_element(By.CSS_SELECTOR, "#summary-table .n-beats").text)

        main = browser.find_element(By.ID, "main")
        width = main.size["width"]
        beats = browser.execute_script("return window.dopflow.win.beats")
        assert len(beats) >= 8, beats

        def x_of(t):  # offset from the canvas centre, CSS pixels
            return browser.execute_script("return window.dopflow.timeToX(arguments[0])", t) - width / 2

        # reject beat 2 with a reason
        target = beats[2]
        ActionChains(browser).move_to_element_with_offset(main, x_of(0.5 * (target["s"] + target["e"])), 0).click().perform()
        wait.until(lambda b: b.execute_script("return window.dopflow.selected && window.dopflow.selected.i") == target["i"])
        browser.find_element(By.ID, "reason").send_keys("probe slipped")
        browser.find_element(By.ID, "btn-reject").click()
        # exclude a span over beats 5 and 6 by dragging in exclude mode
        browser.find_element(By.ID, "btn-exclude-mode").click()
        a, b = beats[5]["s"] + 0.02, beats[6]["e"] - 0.02
        browser.find_element(By.ID, "reason").clear()
        browser.find_element(By.ID, "reason").send_keys("cough")
        ActionChains(browser).move_to_element_with_offset(main, x_of(a), 0).click_and_hold() \
            .move_by_offset(10, 0).move_to_element_with_offset(main, x_of(b), 0).release().perform()
        browser.find_element(By.ID, "reviewed").click()
        browser.find_element(By.ID, "note").send_keys("browser test")
        browser.find_element(By.ID, "btn-save").click()
        wait.until(lambda b: "saved" in b.find_element(By.ID, "status").text)
        print("click to updated summary: %.0f ms" % browser.execute_script("return window.dopflow.lastSaveMs"))

        review = json.load(open(os.path.join(work, "rec.review.json")))
        print(json.dumps(review))
        assert review["dopflow_review"] == 1 and review["reviewed"] is True and review["note"] == "browser test"
        actions = [e["action"] for e in review["edits"]]
        assert actions == ["reject_beat", "exclude"], actions
        assert review["edits"][0]["reason"] == "probe slipped"
        assert abs(review["edits"][0]["onset_s"] - target["s"]) < 0.01
        assert review["edits"][1]["reason"] == "cough"
        assert abs(review["edits"][1]["start_s"] - a) < 0.05 and abs(review["edits"][1]["end_s"] - b) < 0.05

        n_after = int(browser.find_element(By.CSS_SELECTOR, "#summary-table .n-beats").text)
        n_rejected = int(browser.find_element(By.CSS_SELECTOR, "#summary-table .n-rejected").text)
        print("beats accepted: %d before, %d after; rejected %d" % (n_before, n_after, n_rejected))
        assert n_after == n_before - 3 and n_rejected == 3
        if screenshot:
            browser.execute_script("window.dopflow.selected = null")
            browser.save_screenshot(screenshot)

        # analyze replays the same file to the summary the page shows
        out = subprocess.run([dopflow, "analyze", wav, "--summary", "-"], check=True, capture_output=True, text=True).stdout
        header, row = out.splitlines()[:2]
        summary = dict(zip(header.split(","), row.split(",")))
        assert int(summary["n_beats"]) == n_after and summary["reviewed"] == "1", summary
        shown = browser.find_element(By.CSS_SELECTOR, "#summary-table .mean-v").text
        assert abs(float(shown) - float(summary["mean_velocity_cm_s"])) < 0.01, (shown, summary)
        print("ok")
        return 0
    finally:
        if browser:
            browser.quit()
        if server:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
