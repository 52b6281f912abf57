"""The token stream of one reply, from mlx-lm's own generators.

`generate_step` (or `speculative_generate_step` with a draft model, or `verify.lookup_stream`
with prompt-lookup drafts) on the session's KV cache, with mlx-lm's sampler and logits
processors. Used instead of `stream_generate`, whose wired-memory context manager can `print()` a
warning to stdout — the ACP protocol channel; the wired limit is set once at load instead
(`loading.py`). Detokenizing and stopping happen in the engine.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from punie_acp.models.mlx.jobs import Sampling
from punie_acp.models.mlx.loading import LoadedModel
from punie_acp.models.mlx.lookup import LookupCounts, PromptLookup
from punie_acp.models.mlx.verify import lookup_stream


def token_stream(
    loaded: LoadedModel,
    layers: list[Any],
    last_token: int,
    sampling: Sampling,
    num_draft_tokens: int,
    lookup: PromptLookup | None = None,
    counts: LookupCounts | None = None,
) -> Generator[int, None, None]:
    """Tokens sampled after feeding `last_token` to a cache holding the rest of the prompt.

    With `lookup` (and no draft model: the two are not combined), drafts come from the context.
    """
    import mlx.core as mx
    from mlx_lm.generate import generate_step, speculative_generate_step
    from mlx_lm.sample_utils import make_logits_processors, make_sampler

    if sampling.seed is not None:
        mx.random.seed(sampling.seed)
    sampler = make_sampler(
        temp=sampling.temperature, top_p=sampling.top_p if 0 < sampling.top_p < 1 else 0.0, top_k=sampling.top_k
    )
    processors = make_logits_processors(
        logit_bias=sampling.logit_bias,
        presence_penalty=sampling.presence_penalty,
        frequency_penalty=sampling.frequency_penalty,
    )
    options: dict[str, Any] = {
        "max_tokens": sampling.max_tokens,
        "sampler": sampler,
        "logits_processors": processors or None,
        "prompt_cache": layers,
    }
    prompt = mx.array([last_token])
    from mlx_lm.models.cache import can_trim_prompt_cache

    # Rejected drafts are trimmed away: a cache that cannot be trimmed decodes without lookup.
    if lookup is not None and loaded.draft is None and can_trim_prompt_cache(layers):
        yield from lookup_stream(
            loaded.model,
            layers,
            [last_token],
            sampling.max_tokens,
            sampler,
            processors,
            lookup,
            counts or LookupCounts(),
        )
        return
    inner: Generator[tuple[Any, ...], None, None]
    if loaded.draft is None:
        inner = generate_step(prompt, loaded.model, **options)
    else:
        inner = speculative_generate_step(
            prompt, loaded.model, loaded.draft, num_draft_tokens=num_draft_tokens, **options
        )
    try:
        for item in inner:
            yield int(item[0])
    finally:
        inner.close()  # a speculative generator rewinds its caches here
