"""`punie ask` (`run.py`): one prompt in a terminal or a script, through the core's front door.

The answer streams to stdout, thoughts and tool progress to stderr (`console.py`); with `--json`
stdout carries one JSON object per event instead (`jsonl.py`). `--policy` says who answers
permission prompts (`permission.py`). Ctrl-C cancels the turn cleanly (a second one quits at
once). The exit status tells the outcomes apart (`exits.py`): 0 success, 1 failure, 2 usage or
setup error, 3 refused, 130 cancelled. Expected failures are one `punie: …` line on stderr;
tracebacks go to the log file only.
"""
