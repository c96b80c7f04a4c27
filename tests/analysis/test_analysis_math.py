"""The diagnostics' math on tensors with known answers: pair contributions, dominant
dimension, Spearman, entropy and JS divergence, exact-energy noise, key-cloud geometry."""

from __future__ import annotations

import math

import pytest
import torch

from videorope.analysis import (
    Capture,
    attention_rows,
    band_dims,
    dominant_dimension,
    entropy,
    first_direction_share,
    js_divergence,
    pair_contributions,
    positional_scores,
    scaled_noise,
    sink_geometry,
    spearman,
)


def test_pair_contributions_of_a_worked_example():
    q = torch.tensor([1.0, 2.0, 3.0, 4.0])  # pairs (dims 0, 2) and (dims 1, 3)
    k = torch.tensor([5.0, 6.0, 7.0, 8.0])
    assert pair_contributions(q, k).tolist() == [1 * 5 + 3 * 7, 2 * 6 + 4 * 8]


def test_pair_contributions_sum_to_the_logits():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(3, 5, 64, generator=g), torch.randn(3, 7, 64, generator=g)
    contributions = pair_contributions(q[:, :, None], k[:, None])  # (3, 5, 7, 32)
    assert contributions.shape == (3, 5, 7, 32)
    torch.testing.assert_close(contributions.sum(-1), q @ k.transpose(-1, -2), rtol=1e-5, atol=1e-5)


def test_dominant_dimension():
    assert dominant_dimension(torch.zeros(8)).item() == pytest.approx(3.5)  # uniform: the middle index
    peaked = torch.full((8,), -50.0)
    peaked[6] = 50.0
    assert dominant_dimension(peaked).item() == pytest.approx(6.0)


def test_spearman_of_worked_examples():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    assert spearman(x, x**3) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)
    # ties share ranks: y ranks (1, 2, 3.5, 5, 3.5); Pearson of the ranks by hand
    rx, ry = [1, 2, 3, 4, 5], [1, 2, 3.5, 5, 3.5]
    mx, my = sum(rx) / 5, sum(ry) / 5
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    expected = cov / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    assert spearman(x, torch.tensor([5.0, 6.0, 7.0, 8.0, 7.0])) == pytest.approx(expected)
    assert math.isnan(spearman(x, torch.ones(5)))
    with pytest.raises(ValueError, match="same length"):
        spearman(x, x[:3])


def _synthetic_heads(length: int = 32) -> Capture:
    """One query at the end and three heads whose logit sits in one pair chosen by the key's
    distance: head 0 in pair ``distance`` (the farther, the slower: positional), head 1 the
    reverse, head 2 in a scrambled pair."""
    d = 2 * length
    distance = (length - 1) - torch.arange(length)
    pair = {0: distance, 1: length - 1 - distance, 2: (19 * distance + 5) % length}
    q = torch.ones(3, 1, d)
    k = torch.zeros(3, length, d)
    for head, index in pair.items():
        k[head, torch.arange(length), index] = 20.0
    return Capture(torch.tensor([length - 1]), [q], [k], [d**-0.5])


def test_positional_score_of_synthetic_heads():
    scores = positional_scores(_synthetic_heads(), keys=32)
    assert scores["score"][0, 0] == pytest.approx(1.0)
    assert scores["score"][0, 1] == pytest.approx(-1.0)
    assert abs(scores["score"][0, 2]) < 0.05
    assert scores["dominant"][0, 0] == pytest.approx(15.5, abs=0.01)  # every pair once


def test_entropy_and_js_divergence():
    uniform = torch.full((10,), 0.1)
    assert entropy(uniform).item() == pytest.approx(math.log(10))
    assert entropy(torch.tensor([1.0, 0.0, 0.0])).item() == 0.0
    p, q = torch.tensor([0.5, 0.5, 0.0, 0.0]), torch.tensor([0.0, 0.0, 0.5, 0.5])
    assert js_divergence(p, q).item() == pytest.approx(math.log(2))
    assert js_divergence(p, p).item() == pytest.approx(0.0, abs=1e-7)
    r = torch.tensor([0.25, 0.25, 0.25, 0.25])
    assert js_divergence(p, r).item() == pytest.approx(js_divergence(r, p).item())


def test_attention_rows_are_causal_softmaxes():
    cap = _synthetic_heads(length=50)
    cap.positions = torch.tensor([20])
    rows = attention_rows(cap, 0)
    assert rows.shape == (3, 1, 50)
    assert rows[..., 21:].abs().max() == 0
    torch.testing.assert_close(rows.sum(-1), torch.ones(3, 1))
    logits = cap.scaling[0] * torch.einsum("hd,hld->hl", cap.q[0][:, 0], cap.k[0][:, :21])
    torch.testing.assert_close(rows[:, 0, :21], logits.softmax(-1))


def test_bands_split_the_pairs_at_the_critical_dimension():
    below, above = band_dims(64, 40, "below"), band_dims(64, 40, "above")
    assert below.tolist() == list(range(20)) + list(range(32, 52))
    assert above.tolist() == list(range(20, 32)) + list(range(52, 64))
    with pytest.raises(ValueError, match="band"):
        band_dims(64, 40, "middle")
    with pytest.raises(ValueError, match="critical_dim"):
        band_dims(64, 64, "below")


@pytest.mark.parametrize("energy", [0.0, 0.1, 2.0])
def test_noise_has_exactly_the_requested_energy_on_its_band(energy):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 9, 64, generator=g)
    dims = band_dims(64, 40, "above")
    u = torch.zeros(4, 9, 64)
    u[..., dims] = torch.randn(4, 9, len(dims), generator=g)
    u = u / u.norm(dim=-1, keepdim=True)
    noise = scaled_noise(x, u, energy)
    torch.testing.assert_close(noise.square().sum(-1), energy * x.square().sum(-1))
    outside = torch.ones(64, dtype=torch.bool)
    outside[dims] = False
    assert noise[..., outside].abs().max() == 0


def test_first_direction_share():
    line = torch.tensor([[1.0, 2.0], [2.0, 4.0], [-3.0, -6.0]])
    assert first_direction_share(line).item() == pytest.approx(1.0)
    assert first_direction_share(torch.eye(4)).item() == pytest.approx(0.25)


def test_sink_geometry_reads_a_planted_sink():
    """Token 0's key is short and every query's logit favours it; keys past L spread out."""
    length, train, d = 120, 60, 8
    g = torch.Generator().manual_seed(0)
    k = torch.ones(1, length, d) + 0.05 * torch.randn(1, length, d, generator=g)
    k[0, train:] = torch.randn(length - train, d, generator=g)
    k[0, 0] = 0.1 * torch.ones(d)
    k[0, 0, 0] = 30.0  # the sink: aligned with the queries
    q = torch.zeros(1, 4, d)
    q[..., 0] = 1.0
    cap = Capture(torch.tensor([0, 30, 59, 119]), [q], [k], [1.0])
    geometry = sink_geometry(cap, train)
    assert geometry["key_share_within"][0, 0] > 0.95 > geometry["key_share_beyond"][0, 0]
    assert geometry["sink_mass_within"][0, 0] > 0.99
    with pytest.raises(ValueError, match="position 0"):
        sink_geometry(Capture(torch.tensor([5, 90]), [q[:, :2]], [k], [1.0]), train)
    with pytest.raises(ValueError, match="longer than train_length"):
        sink_geometry(cap, length)
