"""`punie eval`: suites of prompts run through the core's front door on a copy of a fixture project, scored.

suite.py reads suite files (TOML), predicates.py checks a call's arguments and the project
afterwards, fixture.py copies the fixture, runner.py runs the cases, scoring.py scores them,
report.py / html.py write the results and compare.py sets two runs side by side.
"""
