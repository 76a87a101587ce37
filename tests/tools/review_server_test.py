#!/usr/bin/env python3
"""The review server's security and save path, over HTTP (no browser).

Starts `dopflow review` on a simulated recording and checks: loopback only;
403 without the token, with a wrong token, with a Host header that is not
loopback (DNS rebinding), and for a POST whose token is only in the URL or
whose Origin is foreign; state changes refused as GET; every malformed body
refused with 400 and nothing written; paths outside the page are 404 (no
file is ever served); a valid save writes REC.review.json and reanalyses;
and a save interrupted by killing the server leaves the previous file whole.
Also measures the time from a save to the updated summary.

Usage: review_server_test.py DOPFLOW SOURCE_DIR
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse


def start(dopflow, wav, *extra):
    server = subprocess.Popen([dopflow, "review", wav, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), (url, server.stderr.read() if server.poll() is not None else "")
    parsed = urllib.parse.urlparse(url)
    token = urllib.parse.parse_qs(parsed.query)["t"][0]
    return server, parsed.port, token


def request(port, method, path, body=None, headers=None, host=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Host": host or "127.0.0.1:%d" % port}
    h.update(headers or {})
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def main():
    dopflow, source = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="dopflow-server-")
    server = None
    try:
        wav = os.path.join(work, "rec.wav")
        subprocess.run([dopflow, "simulate", os.path.join(source, "datasets/examples/brachial_rest.json"), "-o", wav],
                       check=True, capture_output=True)
        review_path = os.path.join(work, "rec.review.json")
        server, port, token = start(dopflow, wav)
        tok = {"X-Dopflow-Token": token}
        post_headers = {"X-Dopflow-Token": token, "Content-Type": "application/json"}

        # loopback only: the port is not reachable on another address of this machine
        addrs = {ai[4][0] for ai in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1", "127.0.1.1"}
        for addr in addrs:
            s = socket.socket()
            s.settimeout(2)
            check(s.connect_ex((addr, port)) != 0, "not listening on %s" % addr)
            s.close()

        status, page = request(port, "GET", "/?t=" + token)
        check(status == 200 and b"<canvas" in page and b"http" not in page.split(b"<script>")[0].replace(b"http-equiv", b""),
              "page served with the token, no external resources")
        check(b"src=" not in page and b"href=" not in page, "page loads nothing from elsewhere")
        check(request(port, "GET", "/")[0] == 403, "403 without the token")
        check(request(port, "GET", "/?t=" + "0" * 32)[0] == 403, "403 with a wrong token")
        check(request(port, "GET", "/api/state?t=" + token[:-1])[0] == 403, "403 with a truncated token")
        check(request(port, "GET", "/api/state", headers=tok)[0] == 200, "token in the header works")
        for host in ("evil.example:%d" % port, "127.0.0.1.nip.io:%d" % port, "127.0.0.1", "localhost:1"):
            check(request(port, "GET", "/?t=" + token, host=host)[0] == 403, "403 for Host %s" % host)
        check(request(port, "GET", "/?t=" + token, host="localhost:%d" % port)[0] == 200, "Host localhost:PORT accepted")

        for path in ("/../../etc/passwd", "/index.html", "/rec.wav", "/rec.review.json", "/api/", "/%2e%2e/etc/passwd",
                     "/api/window/../../etc/passwd", "/tools/review/index.html"):
            status, data = request(port, "GET", path + ("&" if "?" in path else "?") + "t=" + token)
            check(status == 404 and b"root:" not in data, "404 for %s" % path)
        check(request(port, "GET", "/api/save?rec=0&t=" + token)[0] == 405, "save as GET refused")
        check(request(port, "DELETE", "/api/save?rec=0&t=" + token)[0] == 405, "DELETE refused")

        good = {"dopflow_review": 1, "reviewed": False, "note": "x",
                "edits": [{"action": "reject_beat", "onset_s": 2.56, "reason": "probe slipped"}]}
        body = json.dumps(good)
        check(request(port, "POST", "/api/save?rec=0&t=" + token, body,
                      {"Content-Type": "application/json"})[0] == 403, "POST with the token only in the URL refused")
        check(request(port, "POST", "/api/save?rec=0", body, dict(post_headers, Origin="http://evil.example"))[0] == 403,
              "POST from a foreign Origin refused")
        check(request(port, "POST", "/api/save?rec=0", body, dict(tok, **{"Content-Type": "text/plain"}))[0] == 415,
              "POST that is not JSON refused")
        check(not os.path.exists(review_path), "nothing written so far")

        bad_bodies = ["", "{", "[]", "null", '{"edits": []}', '{"dopflow_review": 1, "edits": [{"action": "drop"}]}',
                      '{"dopflow_review": 1, "edits": [{"action": "exclude", "start_s": 5, "end_s": 1}]}',
                      '{"dopflow_review": 1, "edits": [{"action": "add_beat", "onset_s": -1}]}',
                      '{"dopflow_review": 1, "input_sha256": "%s"}' % ("ab" * 32),
                      '{"dopflow_review": 1, "path": "/etc/passwd"}', "x" * (2 << 20)]
        for bad in bad_bodies:
            status, data = request(port, "POST", "/api/save?rec=0", bad, post_headers)
            check(status in (400, 413) and not os.path.exists(review_path),
                  "bad body refused (%d, %s), nothing written" % (status, data[:90].decode(errors="replace")))
        check(request(port, "POST", "/api/save?rec=7", body, post_headers)[0] == 400, "rec out of range refused")
        check(request(port, "GET", "/api/window?rec=0&t0=5&t1=1&w=10", headers=tok)[0] == 400, "bad window refused")
        check(request(port, "GET", "/api/window?rec=0&t0=0&t1=10&w=100000", headers=tok)[0] == 400, "huge window refused")

        before = json.loads(request(port, "GET", "/api/state", headers=tok)[1])
        t = time.time()
        status, data = request(port, "POST", "/api/save?rec=0", body, post_headers)
        elapsed = time.time() - t
        after = json.loads(data)
        check(status == 200 and os.path.exists(review_path), "valid save written (%.0f ms to the new summary)" % (1000 * elapsed))
        check(json.load(open(review_path)) == good, "the file holds what was sent")
        check(after["summaries"][0]["n_beats"] == before["summaries"][0]["n_beats"] - 1 and
              after["summaries"][0]["n_beats_rejected"] == 1, "summary reanalysed with the review")
        leftovers = [f for f in os.listdir(work) if ".tmp." in f]
        check(not leftovers, "no temporary file left")

        # windows never grow with the recording: at most w columns
        win = json.loads(request(port, "GET", "/api/window?rec=0&t0=0&t1=10&w=50", headers=tok)[1])
        check(win["columns"] == 50 and len(win["vmax"]) == 50 and len(win["image"]) == 4 * ((50 * win["bins"] + 2) // 3),
              "a window is as many columns as asked")

        # interrupted saves: kill the server while it writes; the file is the old or the new, whole
        big = dict(good, note="n" * 200000)
        for delay in (0.0, 0.0005, 0.001, 0.002, 0.005, 0.01):
            server.send_signal(signal.SIGKILL)
            server.wait()
            server, port, token = start(dopflow, wav)
            post_headers = {"X-Dopflow-Token": token, "Content-Type": "application/json"}
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/api/save?rec=0", json.dumps(big), dict(post_headers, Host="127.0.0.1:%d" % port))
            time.sleep(delay)
            server.send_signal(signal.SIGKILL)
            server.wait()
            conn.close()
            content = json.load(open(review_path))  # parses: whole
            check(content in (good, big), "after a kill %.4f s into a save the review file is whole" % delay)
            for f in os.listdir(work):
                if ".tmp." in f:
                    os.unlink(os.path.join(work, f))  # a killed writer may leave its temporary file, never a half file
            server, port, token = start(dopflow, wav)
        # a manifest: the list of recordings with their status, open the next one
        server.terminate()
        server.wait()
        shutil.copy(wav, os.path.join(work, "b.wav"))
        shutil.copy(os.path.join(work, "rec.json"), os.path.join(work, "b.json"))
        with open(os.path.join(work, "manifest.csv"), "w") as f:
            f.write("subject,condition,file\ns1,rest,rec.wav\ns2,rest,b.wav\n")
        server, port, token = start(dopflow, os.path.join(work, "manifest.csv"))
        tok = {"X-Dopflow-Token": token}
        post_headers = {"X-Dopflow-Token": token, "Content-Type": "application/json"}
        st = json.loads(request(port, "GET", "/api/state", headers=tok)[1])
        check(len(st["recordings"]) == 2 and st["current"] == 0 and st["recordings"][0]["has_review"] and
              not st["recordings"][1]["has_review"] and not st["recordings"][1]["analysed"], "manifest: list with status")
        check(request(port, "GET", "/api/window?rec=1&t0=0&t1=5&w=10", headers=tok)[0] == 409,
              "manifest: a recording not opened yet has no window")
        status, data = request(port, "POST", "/api/open?rec=1", "{}", post_headers)
        st = json.loads(data)
        check(status == 200 and st["current"] == 1 and st["recordings"][1]["analysed"] and st["summaries"][0]["n_beats"] > 5,
              "manifest: the next recording is analysed when opened")
        status, data = request(port, "POST", "/api/save?rec=1", json.dumps(dict(good, reviewed=True)), post_headers)
        st = json.loads(data)
        check(status == 200 and st["recordings"][1]["reviewed"] and os.path.exists(os.path.join(work, "b.review.json")),
              "manifest: saving marks the recording reviewed in the list")
        print("all server checks passed")
        return 0
    finally:
        if server and server.poll() is None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
