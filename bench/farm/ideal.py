"""The ideal makespan of issue 4: a zero-overhead single queue. Jobs start in make's order, each
on the free slot that would finish it first; when no slot is free the queue waits for the
earliest finish. Start times never decrease (a later job never overtakes an earlier one). The
greedy choice is the definition, not an optimum: with slots of different speeds a cleverer
queue could beat it, and so could a real scheduler."""
import heapq


def makespan(job_costs, slot_factors, jobs_limit=None):
    """job_costs: ms per job, in make's order. slot_factors: one time multiplier per slot (1 for
    a normal slot, 3 for a slot of a three-times-slower host), in host-list order; ties go to
    the earlier slot. jobs_limit: make's -j, which caps the jobs running at once (None: no cap
    beyond the slots). Returns the finish time of the last job, in ms."""
    if not slot_factors:
        raise ValueError("no slots")
    free_at = [0.0] * len(slot_factors)
    running = []  # finish times, for make's -j cap
    t = 0.0
    end = 0.0
    for cost in job_costs:
        if jobs_limit is not None:
            while running and running[0] <= t:
                heapq.heappop(running)
            if len(running) >= jobs_limit:
                t = max(t, heapq.heappop(running))
        free = [i for i, f in enumerate(free_at) if f <= t]
        if not free:
            t = min(free_at)
            free = [i for i, f in enumerate(free_at) if f <= t]
        best = min(free, key=lambda i: (cost * slot_factors[i], i))
        finish = t + cost * slot_factors[best]
        free_at[best] = finish
        heapq.heappush(running, finish)
        end = max(end, finish)
    return end
