# SPDX-License-Identifier: MIT
"""Team usage statistics: the metrics sampler and GET /v1/sandboxes/stats.

Mirrors internal/api/metrics_sampler.go and internal/service/stats.go: a
sample of (running_count, vcpus_reserved, memory_mb_reserved) is taken for
every team that has any sandbox row, immediately at start and then every
interval (10 s in the real CP).  The handler reports live "current" values,
30-day peaks of the samples and a sparse series bucketed by the range's
width, each bucket the MAX of its samples.

Samples are kept per team in a bounded deque (30 days at the real 10 s
interval).  Owns the sampler task; registered by routes.py.

GET /v1/capsules/usage (f5a23c1, CONTRACT 11.5, handlers_usage.go and
UsageService): past days from the daily_usage rollups (sparse; the fake
has no rollup job, /_fake/usage inserts rows), today live from the
samples as the SQL computes it: SUM(vcpus * 10 / 60) and SUM(memory_mb *
10 / 60) over today's samples (10 s hard-coded, whatever
--stats-interval is), rounded to NUMERIC(18,4).
"""

import asyncio
import collections
import contextlib
import datetime
import re
import time

import httpio
import state as st

RANGES = {"5m": (3, 300), "1h": (30, 3600), "6h": (180, 21600),
          "24h": (720, 86400), "30d": (21600, 30 * 86400)}
PEAK_WINDOW = 30 * 86400
MAX_SAMPLES = 30 * 86400 // 10


class Sampler:
    def __init__(self, state, interval):
        self.state = state
        self.interval = interval          # seconds between samples
        self.samples = {}                 # team id -> deque of tuples
        self._task = None

    def start(self):
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self):
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self):
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def sample(self):
        """SampleSandboxMetrics + InsertMetricsSnapshot for every team."""
        now = time.time()
        teams = {s.team_id for s in self.state.sandboxes.values()}
        for team_id in teams:
            q = self.samples.setdefault(
                team_id, collections.deque(maxlen=MAX_SAMPLES))
            q.append((now,) + self.state.live_usage(team_id))

    def stats(self, team_id, range_):
        """GetStats: (current, peaks, series points)."""
        bucket_sec, lookback = RANGES[range_]
        now = time.time()
        current = self.state.live_usage(team_id)
        samples = self.samples.get(team_id, ())
        peaks = [0, 0, 0]
        buckets = {}
        for ts, rc, vc, mem in samples:
            if ts > now - PEAK_WINDOW:
                peaks = [max(peaks[0], rc), max(peaks[1], vc),
                         max(peaks[2], mem)]
            if ts >= now - lookback:
                b = int(ts // bucket_sec) * bucket_sec
                old = buckets.get(b, (0, 0, 0))
                buckets[b] = (max(old[0], rc), max(old[1], vc),
                              max(old[2], mem))
        series = sorted(buckets.items())
        return current, peaks, series


async def get_stats(ctx):
    """GET /v1/sandboxes/stats?range=5m|1h|6h|24h|30d"""
    range_ = ctx.q("range") or "1h"
    if range_ not in RANGES:
        return httpio.error(400, "invalid_request",
                            "range must be one of: 5m, 1h, 6h, 24h, 30d")
    current, peaks, series = ctx.app.sampler.stats(ctx.auth.team_id, range_)
    return httpio.json_response(200, {
        "range": range_,
        "current": {"running_count": current[0],
                    "vcpus_reserved": current[1],
                    "memory_mb_reserved": current[2]},
        "peaks": {"running_count": peaks[0], "vcpus": peaks[1],
                  "memory_mb": peaks[2]},
        "series": {"labels": [st.rfc3339(b) for b, _ in series],
                   "running": [v[0] for _, v in series],
                   "vcpus": [v[1] for _, v in series],
                   "memory_mb": [v[2] for _, v in series]},
    })


_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
MAX_USAGE_DAYS = 92


def parse_date(s):
    """time.Parse("2006-01-02", s) -> datetime.date or None."""
    if not _DATE_RE.match(s):
        return None
    try:
        return datetime.date(int(s[:4]), int(s[5:7]), int(s[8:]))
    except ValueError:
        return None


def today_usage(sampler, team_id, today):
    """ComputeDailyUsageForDay over today's samples (UTC)."""
    start = datetime.datetime.combine(
        today, datetime.time(), datetime.timezone.utc).timestamp()
    cpu = ram = 0.0
    for ts, _, vcpus, mem in sampler.samples.get(team_id, ()):
        if start <= ts < start + 86400:
            cpu += vcpus * 10.0 / 60.0
            ram += mem * 10.0 / 60.0
    return round(cpu, 4), round(ram, 4)


async def get_usage(ctx):
    """GET /v1/capsules/usage?from=YYYY-MM-DD&to=YYYY-MM-DD"""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    s = ctx.q("from")
    frm = parse_date(s) if s else today - datetime.timedelta(days=29)
    if frm is None:
        return httpio.error(400, "invalid_request", "from must be YYYY-MM-DD")
    s = ctx.q("to")
    to = parse_date(s) if s else today
    if to is None:
        return httpio.error(400, "invalid_request", "to must be YYYY-MM-DD")
    if frm > to:
        return httpio.error(400, "invalid_request",
                            "from must be before or equal to to")
    if (to - frm).days > MAX_USAGE_DAYS:
        return httpio.error(400, "invalid_request",
                            "range cannot exceed 92 days")
    team_id = ctx.auth.team_id
    last_rolled = min(to, today - datetime.timedelta(days=1))
    points = []
    for (tid, day), (cpu, ram) in sorted(ctx.state.daily_usage.items()):
        d = parse_date(day)
        if tid == team_id and frm <= d <= last_rolled:
            points.append({"date": day, "cpu_minutes": float(cpu),
                           "ram_mb_minutes": float(ram)})
    if frm <= today <= to:
        cpu, ram = today_usage(ctx.app.sampler, team_id, today)
        points.append({"date": today.isoformat(), "cpu_minutes": cpu,
                       "ram_mb_minutes": ram})
    return httpio.json_response(200, {"from": frm.isoformat(),
                                      "to": to.isoformat(),
                                      "points": points})
