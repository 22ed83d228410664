"""Unit tests of the farm's arithmetic: the ideal makespan and the log analysis. Run with
`python3 -m unittest farm.test_farm` from bench/ (no daemons, no compilers)."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from farm import ideal, jobs, report


class IdealMakespan(unittest.TestCase):
    def test_short_jobs_go_to_the_slot_that_frees_first(self):
        # Slot 0 is busy until 3 with the long job; the three short ones share slot 1.
        self.assertEqual(ideal.makespan([3, 1, 1, 1], [1, 1]), 3)

    def test_waits_for_the_earliest_finish_when_no_slot_is_free(self):
        self.assertEqual(ideal.makespan([2, 2], [1]), 4)

    def test_picks_the_free_slot_that_finishes_first_not_the_first_slot(self):
        self.assertEqual(ideal.makespan([1], [3, 1]), 1)

    def test_is_greedy_in_make_order_not_optimal(self):
        # The long job takes the fast slot; the short one then takes the slow slot at once
        # rather than waiting: 10, although 10 would also be optimal here...
        self.assertEqual(ideal.makespan([10, 1], [1, 3]), 10)
        # ...but here waiting for the fast slot would give 2, and the queue does not wait.
        self.assertEqual(ideal.makespan([1, 1], [1, 3]), 3)

    def test_starts_never_go_back_in_time(self):
        # Job 2 (cost 1) must not start before job 1 did, although slot 1 was free at 0.
        # Slot 0: job 0 at 0-4. Slot 1: job 1 at 0-1, job 2 at 1-2, job 3 at 2-3.
        self.assertEqual(ideal.makespan([4, 1, 1, 1], [1, 1]), 4)

    def test_make_jobs_limit_caps_concurrency(self):
        self.assertEqual(ideal.makespan([1, 1, 1, 1], [1, 1, 1, 1], jobs_limit=1), 4)
        self.assertEqual(ideal.makespan([1, 1, 1, 1], [1, 1, 1, 1], jobs_limit=2), 2)
        self.assertEqual(ideal.makespan([1, 1, 1, 1], [1, 1, 1, 1], jobs_limit=12), 1)

    def test_no_slots_is_an_error(self):
        with self.assertRaises(ValueError):
            ideal.makespan([1], [])


class Analysis(unittest.TestCase):
    def log(self, text):
        fd, path = tempfile.mkstemp()
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path

    S = 1_000_000_000

    def test_figures_of_a_two_slot_run(self):
        s = self.S
        path = self.log(f"0 h0 {0 * s} {2 * s} 11\n1 h1 {0 * s} {1 * s} 12\n"
                        f"2 h1 {2 * s} {3 * s} 13\n")
        fig = report.analyse(report.parse_log(path), 0, 4 * s, {"h0": 1, "h1": 1}, 3)
        self.assertEqual(fig["makespan_s"], 4)
        self.assertAlmostEqual(fig["utilisation"], 4 / 8)
        # Before the last start (t=2): h1 idle from 1 to 2.
        self.assertAlmostEqual(fig["starved_slot_s"], 1)
        self.assertEqual(fig["tail_s"], 2)
        self.assertEqual(fig["per_host"]["h1"]["jobs"], 2)
        self.assertEqual(fig["per_host"]["h1"]["peak"], 1)
        self.assertEqual(fig["overtaken"], 0)

    def test_counts_jobs_overtaken_by_later_ones(self):
        s = self.S
        path = self.log(f"0 h0 {3 * s} {4 * s} 1\n1 h0 0 {s} 2\n2 h0 {s} {2 * s} 3\n")
        fig = report.analyse(report.parse_log(path), 0, 4 * s, {"h0": 1}, 3)
        self.assertEqual(fig["overtaken"], 1)

    def test_peak_counts_overlap_but_not_back_to_back_jobs(self):
        path = self.log("0 h0 0 10 1\n1 h0 10 20 2\n2 h0 5 15 3\n")
        fig = report.analyse(report.parse_log(path), 0, 20, {"h0": 4}, 3)
        self.assertEqual(fig["per_host"]["h0"]["peak"], 2)

    def test_missing_duplicate_and_foreign_jobs_are_rejected(self):
        for text in ("0 h0 0 1 1\n", "0 h0 0 1 1\n1 h0 0 1 1\n1 h0 0 1 1\n",
                     "0 h0 0 1 1\n1 zz 0 1 1\n"):
            with self.assertRaises(ValueError):
                report.analyse(report.parse_log(self.log(text)), 0, 1, {"h0": 1}, 2)

    def test_malformed_lines_are_errors_not_crashes(self):
        for text in ("0 h0 0 1\n", "x h0 0 1 1\n", "0 h0 5 1 1\n"):
            with self.assertRaises(ValueError):
                report.parse_log(self.log(text))


class Jobs(unittest.TestCase):
    def test_costs_are_seeded_and_in_range(self):
        a = jobs.costs(50, 50, 2000, 7)
        self.assertEqual(a, jobs.costs(50, 50, 2000, 7))
        self.assertNotEqual(a, jobs.costs(50, 50, 2000, 8))
        self.assertTrue(all(50 <= c <= 2000 for c in a))

    def test_tree_lists_jobs_in_order_and_checks_objects(self):
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: __import__("shutil").rmtree(d))
        jobs.write_tree(d, [5, 6])
        with open(os.path.join(d, "Makefile")) as f:
            self.assertTrue(f.readline().startswith("all: job0000.o job0001.o\n"))
        with open(os.path.join(d, "job0001.c")) as f:
            self.assertIn("int cost_ms = 6;", f.read())
        with open(os.path.join(d, "job0000.o"), "w") as f:
            f.write("standin object: job 0, 5 ms\n")
        self.assertEqual(jobs.check_objects(d, [5, 6]), ["job0001"])


class StandIn(unittest.TestCase):
    """The stand-in compiler itself, built with gcc as farm.py builds it."""

    def setUp(self):
        if not shutil.which("gcc"):
            if os.environ.get("CI") == "true":
                self.fail("gcc is required to build the stand-in")
            self.skipTest("skipping: no gcc")
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.cc = os.path.join(self.dir, "cc")
        subprocess.run(["gcc", "-O2", "-o", self.cc,
                        os.path.join(os.path.dirname(__file__), "standin.c")], check=True)
        jobs.write_tree(self.dir, [120])
        self.src = os.path.join(self.dir, "job0000.c")

    def test_preprocessing_copies_the_source(self):
        out = subprocess.run([self.cc, "-E", self.src], capture_output=True, check=True).stdout
        with open(self.src, "rb") as f:
            self.assertEqual(out, f.read())

    def test_compiling_sleeps_cost_times_slowdown_and_logs_one_line(self):
        log = os.path.join(self.dir, "log")
        obj = os.path.join(self.dir, "job0000.o")
        env = dict(os.environ, STANDIN_LOG=log, STANDIN_HOST="h5", STANDIN_SLOWDOWN="2")
        t = time.monotonic()
        subprocess.run([self.cc, "-c", self.src, "-o", obj], env=env, check=True)
        self.assertGreaterEqual(time.monotonic() - t, 0.240)
        self.assertEqual(jobs.check_objects(self.dir, [120]), [])
        [rec] = report.parse_log(log)
        self.assertEqual((rec.job, rec.host), (0, "h5"))
        self.assertGreaterEqual(rec.end - rec.start, 240_000_000)

    def test_a_source_without_a_cost_fails(self):
        bad = os.path.join(self.dir, "bad.c")
        with open(bad, "w") as f:
            f.write("int x;\n")
        p = subprocess.run([self.cc, "-c", bad, "-o", bad + ".o"], capture_output=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"no cost_ms", p.stderr)


if __name__ == "__main__":
    unittest.main()
