"""Decoding with prompt-lookup drafts, verified by the model itself: same tokens, fewer passes.

Each pass feeds the last token plus a draft of k tokens (`lookup.py`) and samples a token at each
of the k + 1 positions, with the same sampler and logits processors as plain decoding. Draft
token i is kept while it equals the token sampled before it; the first disagreement is replaced by
the sampled token, and the KV cache is trimmed back to what was kept. Every emitted token is
therefore sampled from the model given exactly the tokens before it:
- greedy: token-for-token what plain decoding produces (up to float ties between a k+1-token
  pass and a 1-token pass);
- sampling: this is the standard speculative acceptance rule for a draft that is one fixed token
  (q = 1 at the draft token): accept with probability min(1, p/q) = p(draft), and on rejection
  draw from the residual max(0, p - q) normalised, i.e. p without the draft token. Drawing
  t ~ p and accepting iff t equals the draft does exactly that, and keeps top-p / top-k intact.

When there is nothing to draft, steps run like mlx-lm's `generate_step`: the next step's graph is
built while the current token is computed (`async_eval`), so text with nothing to copy costs what
it costs without lookup. That pipelining is only given up when the history's suffix matches
earlier context, i.e. when a draft is likely.

The generator owns no cache: it decodes into the session's layers. When it is closed early (a
stop token, the repetition guard, a cancel) it trims the cache back to the tokens it yielded,
which is what plain decoding leaves there.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from punie_acp.models.mlx.attention import unfused_attention
from punie_acp.models.mlx.cache import cache_offset
from punie_acp.models.mlx.lookup import LookupCounts, PromptLookup

# Attention of verification passes: "auto" = plain matmuls on CUDA (`attention.py`), else fused.
VERIFY_ATTENTION = "auto"  # or "plain", "fused" (benchmarks and tests)

Sample = Callable[[Any], Any]  # logprobs (n, vocab) → tokens (n,)
Processor = Callable[[Any, Any], Any]  # (tokens so far, logits (1, vocab)) → logits


@dataclass
class _Model:
    """One model's forward pass on the session cache, with the sampling of plain decoding."""

    model: Any
    layers: list[Any]
    sample: Sample
    processors: Sequence[Processor]
    plain_attention: bool = False  # verification passes (several tokens) without the fused kernel
    seen: Any = None  # tokens fed so far (mx.array), kept only when processors need them

    def step(self, inputs: Any) -> Any:
        """Feed `inputs` (mx.array of n tokens); the tokens sampled at each of the n positions."""
        import mlx.core as mx

        if self.plain_attention and inputs.size > 1:
            with unfused_attention(self.model):
                logits = self.model(inputs[None], cache=self.layers)[0]
        else:
            logits = self.model(inputs[None], cache=self.layers)[0]
        if self.processors:
            rows = []
            for i in range(inputs.size):
                self.seen = inputs[i : i + 1] if self.seen is None else mx.concatenate([self.seen, inputs[i : i + 1]])
                row = logits[i : i + 1]
                for processor in self.processors:
                    row = processor(self.seen, row)
                rows.append(row)
            logits = mx.concatenate(rows, axis=0)
        return self.sample(logits - mx.logsumexp(logits, axis=-1, keepdims=True))

    def forget_fed(self, n: int) -> None:
        """The last `n` fed tokens were rejected: out of the cache and out of the processors' history."""
        from mlx_lm.models.cache import trim_prompt_cache

        if n > 0:
            trim_prompt_cache(self.layers, n)
            if self.seen is not None:
                self.seen = self.seen[: self.seen.size - n]


def lookup_stream(
    model: Any,
    layers: list[Any],
    prompt: list[int],
    max_tokens: int,
    sample: Sample,
    processors: Sequence[Processor],
    lookup: PromptLookup,
    counts: LookupCounts,
) -> Generator[int, None, None]:
    """Tokens after `prompt`, whose tokens but the last are in `layers` already."""
    import mlx.core as mx
    from mlx_lm.generate import generation_stream
    from mlx_lm.models.cache import trim_prompt_cache

    plain = VERIFY_ATTENTION == "plain" or (VERIFY_ATTENTION == "auto" and mx.cuda.is_available())
    runner = _Model(model, layers, sample, processors, plain)
    start = cache_offset(layers)
    produced = cleared = 0
    try:
        with mx.stream(generation_stream):
            pending = runner.step(mx.array(prompt[-1:], mx.uint32))
            mx.async_eval(pending)  # type: ignore[no-untyped-call]
            while produced < max_tokens:
                if lookup.paused or lookup.draft(1) == []:
                    # Nothing to copy: pipeline as generate_step does (the cache gets `pending` now).
                    following = runner.step(pending) if produced + 1 < max_tokens else None
                    if following is not None:
                        mx.async_eval(following)  # type: ignore[no-untyped-call]
                    token = int(pending.item())
                    produced += 1
                    lookup.append(token)
                    yield token
                    if following is None:
                        return
                    pending = following
                else:
                    token = int(pending.item())
                    produced += 1
                    lookup.append(token)
                    yield token
                    for item in _drafted(runner, lookup, counts, token, max_tokens - produced):
                        if isinstance(item, int):
                            produced += 1
                            yield item
                        else:
                            pending = item
                            break
                    else:
                        return
                if produced - cleared >= 256:  # as generate_step does every 256 tokens
                    mx.clear_cache()
                    cleared = produced
    finally:
        excess = cache_offset(layers) - (start + 1 + produced)
        if excess > 0:
            trim_prompt_cache(layers, excess)


def _drafted(
    runner: _Model, lookup: PromptLookup, counts: LookupCounts, token: int, remaining: int
) -> Generator[Any, None, None]:
    """From a known `token` not yet fed: verified tokens while drafts come, then a lazy next token.

    Yields ints (tokens to emit, already appended to `lookup`), then one `mx.array` (the token
    after the last one, being computed, its input fed) once no draft is found; returns without it
    when `remaining` runs out.
    """
    import mlx.core as mx

    while remaining > 0:
        draft = lookup.draft(remaining - 1)
        if not draft:
            if remaining > 1 and not lookup.paused:
                lookup.record(0, 0)  # the match that brought us here led nowhere
            pending = runner.step(mx.array([token], mx.uint32))
            mx.async_eval(pending)  # type: ignore[no-untyped-call]
            yield pending
            return
        sampled = runner.step(mx.array([token, *draft], mx.uint32)).tolist()
        accepted = 0
        while accepted < len(draft) and sampled[accepted] == draft[accepted]:
            accepted += 1
        runner.forget_fed(len(draft) - accepted)
        counts.verifications += 1
        counts.drafted += len(draft)
        counts.accepted += accepted
        lookup.record(len(draft), accepted)
        emitted = [*draft[:accepted], int(sampled[accepted])]
        for token in emitted:
            lookup.append(token)
            remaining -= 1
            yield token
        # the last emitted token is known and not fed yet: the loop drafts after it
