"""`punie export`: saved sessions as chat JSONL for `mlx_lm.lora`.

`select.py` picks sessions (project, dates, marked good), `chat.py` turns each model history into
one example with the real tool calls and results, `tools.py` adds the tool schemas, `output.py`
writes the file atomically, `validate.py` loads it through mlx-lm's dataset loader first.
"""
