"""TemperatureTopP keeps the nucleus transformers' full-sort warper keeps, without the sort; NucleusSampler
draws from that nucleus with the probabilities transformers' sampler gives."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessorList
from transformers.generation.logits_process import TemperatureLogitsWarper, TopPLogitsWarper

from distillery.generation.nucleus_sampling import NucleusSampler, TemperatureTopP


def reference(scores: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    return TopPLogitsWarper(top_p)(None, TemperatureLogitsWarper(temperature)(None, scores.clone()))


def nucleus64(scores: torch.Tensor, temperature: float, top_p: float):
    """The definition in float64: the fewest most-probable tokens holding >= top_p of the mass, and how
    close each row's cut is to top_p (where float32 rounding may tip it either way)."""
    probs = (scores.double() / temperature).softmax(-1)
    sorted_probs, order = probs.sort(-1, descending=True)
    larger = sorted_probs.cumsum(-1) - sorted_probs
    keep_sorted = larger < top_p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    margin = (larger - top_p).abs().min(-1).values
    return keep, margin


@pytest.mark.parametrize("seed", range(4))
def test_same_nucleus_as_the_definition_and_as_transformers(seed):
    torch.manual_seed(seed)
    scores = torch.randn(64, 50_000) * torch.empty(64, 1).uniform_(2, 12)  # peaked to flat rows
    for temperature, top_p in [(0.6, 0.95), (1.0, 0.7), (1.3, 0.99)]:
        ours = TemperatureTopP(temperature, top_p)(None, scores.clone())
        keep, margin = nucleus64(scores, temperature, top_p)
        differs = (torch.isfinite(ours) != keep).any(-1)
        assert not differs[margin > 1e-5].any(), "a cut away from the rounding margin differs from the definition"
        hf = reference(scores, temperature, top_p)
        same_rows = (torch.isfinite(ours) == torch.isfinite(hf)).all(-1)
        assert same_rows.float().mean() >= 0.98
        kept = torch.isfinite(ours)
        assert torch.equal(ours[kept], (scores / temperature)[kept]), "kept logits are the temperature-scaled ones"


def test_wide_nucleus_falls_back_to_the_full_sort():
    scores = torch.zeros(3, 5000)  # uniform: the top 1024 hold ~20% of the mass
    scores[1, :10] = 0.5
    ours = TemperatureTopP(0.8, 0.9)(None, scores.clone())
    assert torch.equal(ours, reference(scores, 0.8, 0.9))
    assert torch.isfinite(ours[0]).sum() > 1024


def test_top_p_one_only_scales():
    scores = torch.randn(2, 100)
    assert torch.equal(TemperatureTopP(0.5, 1.0)(None, scores.clone()), scores / 0.5)


def peaked_model():
    """A tiny random LM with a peaked next-token distribution, as a trained LM has, and 4 prompts."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=4096,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        pad_token_id=0,
        eos_token_id=1,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(40)
    return model, torch.randint(2, 4096, (4, 6))


def test_sampled_tokens_equal_transformers_warpers():
    """Same seed, same model: generate() with our processor draws the tokens its own warpers draw."""
    model, prompt = peaked_model()
    common = dict(max_new_tokens=24, do_sample=True, top_k=None, pad_token_id=0)
    torch.manual_seed(7)
    theirs = model.generate(prompt, temperature=0.6, top_p=0.95, **common)
    processor, full_sorts = TemperatureTopP(0.6, 0.95), []
    full = processor._full
    processor._full = lambda ids, scores: full_sorts.append(1) or full(ids, scores)
    torch.manual_seed(7)
    ours = model.generate(
        prompt, temperature=1.0, top_p=1.0, **common, logits_processor=LogitsProcessorList([processor])
    )
    assert torch.equal(ours, theirs)
    assert not full_sorts, "the fast path was not taken"


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="temperature"):
        TemperatureTopP(0.0, 0.9)
    with pytest.raises(ValueError, match="top_p"):
        TemperatureTopP(0.6, 0.0)


def drawn_frequencies(sampler, row: torch.Tensor, draws: int) -> torch.Tensor:
    out = sampler(None, row.expand(draws, -1).clone())
    assert torch.isfinite(out).sum(-1).eq(1).all() and out.max(-1).values.eq(0).all(), "one token per row, at 0"
    return torch.bincount(out.argmax(-1), minlength=row.shape[-1]).double() / draws


@pytest.mark.parametrize("candidates, top_p", [(1024, 0.9), (4, 0.9), (1024, 1.0)])
def test_sampler_draws_with_the_nucleus_probabilities(candidates, top_p):
    """Fast path (nucleus inside the top k), the full-sort fallback (k = 4 < nucleus) and top_p = 1."""
    torch.manual_seed(0)
    row = torch.randn(1, 40) * 2
    expected = reference(row, 0.7, top_p).softmax(-1)[0].double()  # transformers' warpers, then its softmax
    assert (expected > 0).sum() > 4
    frequencies = drawn_frequencies(NucleusSampler(0.7, top_p, seeds=range(40_000), candidates=candidates), row, 40_000)
    assert not frequencies[expected == 0].any(), "a token outside the nucleus was drawn"
    assert (frequencies - expected).abs().max() < 0.012  # ~5 standard errors at 40k draws


def test_sampler_repeats_a_seed_whatever_the_batch_and_generate_picks_its_draws():
    model, prompt = peaked_model()

    def sample(*seeds):
        return model.generate(
            prompt[:1].expand(len(seeds), -1),
            max_new_tokens=16,
            do_sample=False,
            pad_token_id=0,
            temperature=None,
            top_p=None,
            top_k=None,
            logits_processor=LogitsProcessorList([NucleusSampler(0.9, 0.95, seeds)]),
        )

    first, again, other = sample(3), sample(3), sample(4)
    assert torch.equal(first, again) and not torch.equal(first, other)
    # A row's draws follow its own seed, not its batch mates': a streaming feeder batches whatever is queued.
    assert torch.equal(sample(3, 4)[0], first[0]) and torch.equal(sample(5, 3)[1], first[0])
    assert torch.equal(sample(3, 4)[1], other[0])
    greedy = model.generate(prompt[:1], max_new_tokens=16, do_sample=False, pad_token_id=0)
    assert not torch.equal(first, greedy), "generate() decoded greedily past the sampler"


def test_auto_dtype_generates_in_float32_on_a_cpu(tmp_path):
    """bfloat16 decodes slower than float32 on CPUs (bench/cpu_engines.py): "auto" does not keep a bf16
    checkpoint's dtype there, while an explicit dtype is kept."""
    import torch
    from transformers import LlamaForCausalLM

    from conftest import tiny_llama_config, tiny_tokenizer
    from distillery.generation.transformers_backend import TransformersBackend

    LlamaForCausalLM(tiny_llama_config()).to(torch.bfloat16).save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    assert TransformersBackend.load(str(tmp_path), device="cpu").model.dtype == torch.float32
    assert TransformersBackend.load(str(tmp_path), dtype="bfloat16", device="cpu").model.dtype == torch.bfloat16
