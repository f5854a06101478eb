"""Soak load for visage (driven by bench/soak.sh): steady mixed traffic, sampled every few seconds.

  soak.py standin PORT PNG          a stand-in Gravatar: hashes starting 0-7 have a picture, others 404
  soak.py load BASE PID SECONDS RATE OUT_CSV [FIXTURE...]
  soak.py chart CSV PNG             RSS and p99 over time

The load is open-loop: RATE requests a second in total, whatever the answers take, from a few
keep-alive connections. Mix: warm and cold initials, Gravatar hits and misses (the stand-in), picture
reads with sizes, uploads and deletes (dev mode, a pool of users kept under the per-user limit).
"""
import csv
import http.client
import os
import random
import statistics
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORKERS = 8
USERS = 200
SIZES = [16, 32, 48, 64, 96, 128, 200, 256, 512]
WARM_NAMES = [f"Soak User{i}" for i in range(40)]
MIX = [  # (operation, weight)
    ("initials_warm", 25), ("initials_cold", 10), ("avatar_hit", 15), ("avatar_miss", 10),
    ("picture_read", 25), ("upload", 10), ("delete", 5),
]


def standin(port, png_path):
    png = open(png_path, "rb").read()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            name = self.path.split("/")[-1].split("?")[0]
            if self.path.startswith("/avatar/") and name[:1] in "01234567":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(png)))
                self.end_headers()
                self.wfile.write(png)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


class State:
    def __init__(self, fixtures):
        self.lock = threading.Lock()
        self.keys = {}  # user -> [key]
        self.results = []  # (end time, latency s, status, op) since the last sample
        self.fixtures = [(open(f, "rb").read(), f) for f in fixtures]
        self.hit_hashes = ["%x" % random.randrange(8) + uuid.uuid4().hex[1:] for _ in range(300)]
        self.miss_hashes = ["%x" % random.randrange(8, 16) + uuid.uuid4().hex[1:] for _ in range(300)]
        self.stop = False


def pick(mix):
    total = sum(w for _, w in mix)
    r = random.uniform(0, total)
    for op, w in mix:
        r -= w
        if r <= 0:
            return op
    return mix[-1][0]


def request(state, op):
    """(method, path, body, headers, user) for one operation."""
    if op == "initials_warm":
        return "GET", "/initials/%s.png?size=64" % random.choice(WARM_NAMES).replace(" ", "%20"), None, {}, None
    if op == "initials_cold":
        return "GET", "/initials/%s.png?size=%d" % (uuid.uuid4().hex[:8], random.choice(SIZES[3:])), None, {}, None
    if op == "avatar_hit":
        return "GET", "/avatar/%s?s=%d" % (random.choice(state.hit_hashes), random.choice([40, 80, 128])), None, {}, None
    if op == "avatar_miss":
        h = random.choice(state.miss_hashes) if random.random() < 0.7 else "f" + uuid.uuid4().hex[1:]
        return "GET", "/avatar/%s?s=80&name=Jane%%20Doe" % h, None, {}, None
    user = "soak%%7Cuser%d" % random.randrange(USERS)
    if op == "picture_read":
        with state.lock:
            keys = [k for ks in state.keys.values() for k in ks]
        if not keys:
            return request(state, "upload")
        return "GET", "/pictures/%s?size=%d" % (random.choice(keys), random.choice(SIZES)), None, {}, None
    if op == "upload":
        body, name = random.choice(state.fixtures)
        return "POST", "/v1/users/%s/picture" % user, body, {"Content-Type": "image/*"}, user
    return "DELETE", "/v1/users/%s/picture" % user, None, {}, user


def worker(state, host, port, rate, deadline):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    interval = 1.0 / rate
    next_at = time.monotonic() + random.uniform(0, interval)
    while time.monotonic() < deadline:
        now = time.monotonic()
        if next_at > now:
            time.sleep(next_at - now)
        next_at = max(next_at + interval, time.monotonic() - 1.0)  # no catch-up bursts
        op = pick(MIX)
        method, path, body, headers, user = request(state, op)
        started = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers)
            res = conn.getresponse()
            data = res.read()
            status = res.status
            if res.getheader("connection", "").lower() == "close":
                conn.close()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
            status, data = 0, b""
        latency = time.monotonic() - started
        if status == 201 and user:
            key = data.split(b'"key":"', 1)[1].split(b'"', 1)[0].decode()
            with state.lock:
                state.keys[user] = [key]  # write-back off in dev mode: older keys may stay; reads use the newest
        elif status == 204 and user:
            with state.lock:
                state.keys.pop(user, None)
        with state.lock:
            state.results.append((time.monotonic(), latency, status, op))


def proc_sample(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


def p99(values):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]


def load(base, pid, seconds, rate, out_csv, fixtures, interval=5.0):
    host, port = base.replace("http://", "").split(":")
    state = State(fixtures)
    start = time.monotonic()
    deadline = start + seconds
    threads = [threading.Thread(target=worker, args=(state, host, int(port), rate / WORKERS, deadline), daemon=True)
               for _ in range(WORKERS)]
    for t in threads:
        t.start()
    totals = {}
    with open(out_csv, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["t_s", "rss_mb", "fds", "requests", "p99_ms", "p50_ms", "status_5xx", "failed"])
        next_sample = start + interval
        while time.monotonic() < deadline + 1:
            time.sleep(max(0.0, next_sample - time.monotonic()))
            next_sample += interval
            with state.lock:
                window, state.results = state.results, []
            for _, _, status, op in window:
                totals[(op, status)] = totals.get((op, status), 0) + 1
            lat = [w[1] * 1000 for w in window]
            rss, fds = proc_sample(pid)
            row = [round(time.monotonic() - start, 1), round(rss, 1), fds, len(window), round(p99(lat), 1),
                   round(statistics.median(lat), 1) if lat else 0.0,
                   sum(1 for w in window if w[2] >= 500), sum(1 for w in window if w[2] == 0)]
            out.writerow(row)
            f.flush()
            print(" ".join(str(x) for x in row), flush=True)
    for t in threads:
        t.join(timeout=35)
    print("requests by operation and status:")
    for (op, status), n in sorted(totals.items()):
        print(f"  {op:14} {status}: {n}")


def chart(csv_path, png_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = list(csv.DictReader(open(csv_path)))
    t = [float(r["t_s"]) / 60 for r in rows]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    ax1.plot(t, [float(r["rss_mb"]) for r in rows], color="tab:blue", label="RSS (MB)")
    ax1.set_ylabel("RSS (MB)")
    ax1.set_ylim(bottom=0)
    fd_axis = ax1.twinx()
    fd_axis.plot(t, [int(r["fds"]) for r in rows], color="tab:gray", linewidth=0.8, label="open fds")
    fd_axis.set_ylabel("open fds")
    fd_axis.set_ylim(bottom=0)
    ax2.plot(t, [float(r["p99_ms"]) for r in rows], color="tab:red", linewidth=0.8, label="p99")
    ax2.plot(t, [float(r["p50_ms"]) for r in rows], color="tab:green", linewidth=0.8, label="p50")
    ax2.set_ylabel("latency per 5 s window (ms)")
    ax2.set_xlabel("minutes")
    ax2.legend(loc="upper right")
    ax1.set_title("visage soak: RSS, open fds and latency over time")
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


def summary(csv_path, warmup_s):
    rows = list(csv.DictReader(open(csv_path)))
    after = [r for r in rows if float(r["t_s"]) >= warmup_s]
    rss = [float(r["rss_mb"]) for r in after]
    fds = [int(r["fds"]) for r in after]
    p99s = [float(r["p99_ms"]) for r in after if int(r["requests"])]
    total = sum(int(r["requests"]) for r in rows)
    print(f"requests {total}, 5xx {sum(int(r['status_5xx']) for r in rows)}, "
          f"connection failures {sum(int(r['failed']) for r in rows)}")
    if after:
        print(f"after {warmup_s:.0f} s warm-up: RSS first {rss[0]:.1f} MB, last {rss[-1]:.1f} MB, "
              f"min {min(rss):.1f}, max {max(rss):.1f}; fds min {min(fds)} max {max(fds)}; "
              f"p99 per window median {statistics.median(p99s):.1f} ms, max {max(p99s):.1f} ms")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "standin":
        standin(sys.argv[2], sys.argv[3])
    elif mode == "load":
        load(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], sys.argv[7:])
    elif mode == "chart":
        chart(sys.argv[2], sys.argv[3])
    elif mode == "summary":
        summary(sys.argv[2], float(sys.argv[3]))
