"""The farm's jobs: a seeded list of costs, one tiny source per job, and a Makefile that builds
them in list order. The sources carry their cost as `int cost_ms = N;`, which survives the
stand-in's -E unchanged, so the daemon-side stand-in knows how long to sleep. Running make and
reading the results is farm.py's business."""
import os
import random


def costs(count, low_ms, high_ms, seed):
    """count job costs in ms, uniform in [low_ms, high_ms], the same for every run of a seed."""
    rng = random.Random(seed)
    return [rng.randint(low_ms, high_ms) for _ in range(count)]


def name(i):
    return f"job{i:04d}"


def write_tree(directory, job_costs):
    """Writes jobNNNN.c for each cost and a Makefile whose `all` lists them in order: GNU make
    starts the prerequisites of one target in the order they are listed, so that order is
    "make's order" for the ideal makespan too."""
    os.makedirs(directory, exist_ok=True)
    for i, cost in enumerate(job_costs):
        with open(os.path.join(directory, name(i) + ".c"), "w") as f:
            f.write(f"/* farm job {i} */\nint job_id = {i};\nint cost_ms = {cost};\n")
    objects = " ".join(name(i) + ".o" for i in range(len(job_costs)))
    with open(os.path.join(directory, "Makefile"), "w") as f:
        f.write(f"all: {objects}\n\n%.o: %.c\n\t$(CC) -c $< -o $@\n")


def clean(directory, count):
    for i in range(count):
        try:
            os.unlink(os.path.join(directory, name(i) + ".o"))
        except FileNotFoundError:
            pass


def check_objects(directory, job_costs):
    """Returns the names of jobs whose object is missing or is not the stand-in's output for
    that job, so that a fast wrong answer cannot win."""
    bad = []
    for i, cost in enumerate(job_costs):
        want = f"standin object: job {i}, {cost} ms\n"
        try:
            with open(os.path.join(directory, name(i) + ".o")) as f:
                if f.read() != want:
                    bad.append(name(i))
        except OSError:
            bad.append(name(i))
    return bad
