"""What a run leaves behind: each check's record, the score, and the reports built from them.

The plugin records every check (``CheckRecord``) and the rubric scores them (``score``); the terminal
table, the pytest-html summary, the JUnit properties and the JSON summary are all written from those
records, so they cannot disagree.
"""
