"""Reads the stand-in's job log and turns one make run into figures: makespan over the ideal,
slot utilisation, slot time left idle while jobs were still waiting to start, the tail, and
per-host counts. It only reads; running the build is farm.py's business."""
from collections import namedtuple

Record = namedtuple("Record", "job host start end pid")  # times in ns, CLOCK_MONOTONIC


def parse_log(path):
    """One Record per line `job host start_ns end_ns pid`; a malformed line is an error, since
    the stand-in writes each line whole with one O_APPEND write."""
    records = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            try:
                if len(parts) != 5:
                    raise ValueError
                rec = Record(int(parts[0]), parts[1], int(parts[2]), int(parts[3]), int(parts[4]))
            except ValueError:
                raise ValueError(f"{path}:{n}: malformed stand-in log line {line!r}") from None
            if rec.end < rec.start:
                raise ValueError(f"{path}:{n}: job ends before it starts")
            records.append(rec)
    return records


def _sweep(intervals, lo, hi):
    """Integral over [lo, hi] of the number of intervals running, and the most at once."""
    events = []
    for s, e in intervals:
        events.append((s, 1))
        events.append((e, -1))
    events.sort(key=lambda ev: (ev[0], ev[1]))  # an end before a start at the same instant
    running = peak = 0
    area = 0
    prev = lo
    for t, d in events:
        c = min(max(t, lo), hi)
        area += running * (c - prev)
        prev = c
        running += d
        peak = max(peak, running)
    # Past the last event nothing runs, so the area needs no closing term.
    return area, peak


def analyse(records, t0, t1, host_slots, job_count):
    """Figures for one run: t0/t1 are make's start and end (ns), host_slots maps each host tag
    to its slot count. Raises ValueError if a job is missing or ran more than once."""
    seen = {}
    for r in records:
        seen[r.job] = seen.get(r.job, 0) + 1
    missing = [j for j in range(job_count) if j not in seen]
    twice = sorted(j for j, n in seen.items() if n > 1)
    strangers = sorted({r.host for r in records} - set(host_slots))
    if missing or twice or strangers or len(seen) != job_count:
        raise ValueError(f"stand-in log: {len(missing)} jobs missing (first {missing[:5]}), "
                         f"ran twice {twice[:5]}, unknown hosts {strangers}")
    slots = sum(host_slots.values())
    span = t1 - t0
    busy = sum(r.end - r.start for r in records)
    last_start = max(r.start for r in records)
    running_area, _ = _sweep([(r.start, r.end) for r in records], t0, last_start)
    # Jobs that a job later in make's order overtook by a second or more: the ideal starts
    # jobs in order, so each of these waited while a newcomer got a slot.
    start_of = {r.job: r.start for r in records}
    overtaken = 0
    earliest_later = None
    for j in range(job_count - 1, -1, -1):
        if earliest_later is not None and start_of[j] - earliest_later >= 1_000_000_000:
            overtaken += 1
        earliest_later = start_of[j] if earliest_later is None else min(earliest_later,
                                                                         start_of[j])
    per_host = {}
    for h in host_slots:
        mine = [(r.start, r.end) for r in records if r.host == h]
        _, peak = _sweep(mine, t0, t1)
        per_host[h] = {"jobs": len(mine), "busy_s": sum(e - s for s, e in mine) / 1e9,
                       "peak": peak}
    return {
        "makespan_s": span / 1e9,
        "utilisation": busy / (slots * span) if span > 0 else 0.0,
        # Slot time that sat idle before the last job started: the ideal has none, so this is
        # what per-job overhead and slot hand-over cost.
        "starved_slot_s": (slots * (last_start - t0) - running_area) / 1e9,
        "first_start_s": (min(r.start for r in records) - t0) / 1e9,
        "last_start_s": (last_start - t0) / 1e9,
        "tail_s": (t1 - last_start) / 1e9,
        "overtaken": overtaken,
        "per_host": per_host,
    }
