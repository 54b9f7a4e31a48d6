"""Batch grading: many students' clusters graded by the suite at once, one report each and a table of scores.

``meshcheck-grade`` (``python -m meshcheck.batch``) reads who to grade (``inputs``), runs the suite once
per cluster, several at a time, each bounded in time (``runner``), says on the terminal as each one
finishes (``progress``), and writes the scores table and an index of the reports (``index``). One
cluster that cannot be graded is one row with its reason; it never stops the others.
"""
