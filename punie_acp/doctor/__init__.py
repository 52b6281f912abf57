"""`punie doctor`: what this machine has for punie, each finding with what to do about it.

Each check is a small function returning `Check`s (`result.py`); `command.py` runs them and
prints them for people or, with `--json`, for scripts. Nothing here loads a model or imports
mlx in this process: mlx is probed in a child process with a time limit (`platform.py`).
"""
