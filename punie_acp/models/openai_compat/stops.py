"""Stop sequences sent with every request, so a server that misses the model's end-of-turn token
still stops there (the predecessor's model ran past its turn and invented the user's next message).

Every request carries Qwen's `<|im_end|>` and `<|endoftext|>` (ChatML, which most local servers'
Qwen-family templates use) and the end-of-turn marker of the family the model name suggests.
"""

from __future__ import annotations

CHATML = ("<|im_end|>", "<|endoftext|>")

# Family (a word in the model name, lower case) -> its end-of-turn markers beyond ChatML's.
_FAMILIES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("qwen",), ("<|im_start|>",)),  # a ChatML model that misses <|im_end|> starts the next turn
    (("llama-3", "llama3", "llama_3"), ("<|eot_id|>",)),
    (("gemma",), ("<end_of_turn>",)),
    (("phi-3", "phi3", "phi-4", "phi4"), ("<|end|>",)),
    (("mistral", "mixtral", "codestral", "devstral"), ("</s>",)),
)


def stop_sequences(model_name: str, given: list[str] | None = None) -> list[str]:
    """ChatML's stops, the family's, then any the caller set, without repeats."""
    name = model_name.lower()
    family = [stop for words, stops in _FAMILIES if any(w in name for w in words) for stop in stops]
    return list(dict.fromkeys([*CHATML, *family, *(given or [])]))
