"""The scheduling farm of issue 4: a stand-in compiler that costs wall time, generated jobs,
the ideal makespan, and the report. bench/farm.py drives them; nothing here starts a daemon."""
