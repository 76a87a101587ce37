#!/usr/bin/env python3
"""Time the review page in headless Chromium (numbers quoted in the README).

  measure.py DOPFLOW RECORDING.wav

Prints: the analysis before the URL is given, page load (navigation to the
first window drawn), the whole-recording view, and click-to-updated-summary
(select a beat, reject it, save: the server writes the review file and
reanalyses the recording). Removes the review file it wrote afterwards.
"""
import os
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main():
    dopflow, wav = sys.argv[1], sys.argv[2]
    review = os.path.splitext(wav)[0] + ".review.json"
    if os.path.exists(review):
        sys.exit("%s exists: move it away first" % review)
    t = time.time()
    server = subprocess.Popen([dopflow, "review", wav], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = server.stdout.readline().strip()
    print("analysis before the URL: %.2f s" % (time.time() - t))
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1500,900"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        wait = WebDriverWait(browser, 120)
        t = time.time()
        browser.get(url)
        wait.until(lambda b: b.execute_script("return !!(window.dopflow && window.dopflow.win && window.dopflow.overviewWin)"))
        print("page load (navigation to first window and overview drawn): %.0f ms" % (1000 * (time.time() - t)))
        t = time.time()
        browser.execute_script("window.dopflow.win = null; document.getElementById('btn-all').click()")
        wait.until(lambda b: b.execute_script("return !!window.dopflow.win"))
        print("whole-recording view: %.0f ms" % (1000 * (time.time() - t)))
        browser.execute_script("document.getElementById('btn-all').click()")
        browser.execute_script("window.dopflow.win = null; window.dopflow.t0 = 100; window.dopflow.t1 = 110;"
                               "window.dispatchEvent(new Event('resize'))")
        wait.until(lambda b: b.execute_script("return !!window.dopflow.win"))
        beat = browser.execute_script("var b = window.dopflow.win.beats[3]; return b")
        times = []
        for k in range(3):
            t = time.time()
            browser.execute_script("window.dopflow.lastSaveMs = NaN")
            browser.execute_script("var b = window.dopflow.win.beats[arguments[0]]; arguments[1]; "
                                   "document.getElementById('main'); window.dopflow.selected = null;", 3 + k, beat)
            # a click on the beat, the reject button and save, as a reviewer does
            main = browser.find_element(By.ID, "main")
            b = browser.execute_script("return window.dopflow.win.beats[arguments[0]]", 3 + k)
            x = browser.execute_script("return window.dopflow.timeToX(arguments[0])", 0.5 * (b["s"] + b["e"]))
            webdriver.ActionChains(browser).move_to_element_with_offset(main, x - main.size["width"] / 2, 0).click().perform()
            browser.find_element(By.ID, "btn-reject").click()
            t = time.time()
            browser.find_element(By.ID, "btn-save").click()
            wait.until(lambda d: d.execute_script("return isFinite(window.dopflow.lastSaveMs)"))
            times.append(1000 * (time.time() - t))
            wait.until(lambda d: d.execute_script("return !!window.dopflow.win"))
        n = browser.find_element(By.CSS_SELECTOR, "#summary-table .n-rejected").text
        print("click Save to updated summary: %s ms (3 saves; %s beats rejected now)" %
              (", ".join("%.0f" % x for x in times), n))
    finally:
        browser.quit()
        server.terminate()
        server.wait()
        if os.path.exists(review):
            os.unlink(review)


if __name__ == "__main__":
    main()
