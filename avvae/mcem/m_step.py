"""The M-step: multiplicative (IS-NMF) updates of the noise NMF W, H, the gains g and, where the model has them,
the speakers' spectral colours c, given the decoded speech variances of the kept draws (docs/design.md, "Monte Carlo
EM", step 3), and the likelihood they increase.

Shapes: samples [R, J, B, N, F], power [B, N, F], mask [B, N], W [B, F, K], H [B, K, N], g [J, B, N], c [J, B, F].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from avvae.mcem.smoothing import moving_average


@dataclass
class Params:
    """The mixture model's parameters for a batch of B mixtures. colour: each speaker's spectral colour c_jf, one
    per utterance and mean 1 over frequency, or None (the published model, c = 1)."""

    W: torch.Tensor
    H: torch.Tensor
    g: torch.Tensor
    colour: torch.Tensor | None = None

    def speech_gain(self) -> torch.Tensor:
        """What multiplies each speaker's decoded variances: g_jn c_jf, [J, B, N, F] (g_jn, [J, B, N, 1], without
        colours)."""
        if self.colour is None:
            return self.g[..., None]
        return self.g[..., None] * self.colour[:, :, None, :]

    def noise_variance(self) -> torch.Tensor:
        """(WH)^T: [B, N, F], contiguous (as H^T W^T), so that per-bin passes with it run at full speed."""
        return torch.bmm(self.H.transpose(1, 2), self.W.transpose(1, 2))


def mixture_variance(samples: torch.Tensor, params: Params, floor: float) -> torch.Tensor:
    """V = sum_j g_j c_j sigma2_j + WH, [..., B, N, F]."""
    return ((params.speech_gain() * samples).sum(-4) + params.noise_variance()).clamp_min(floor)


def log_likelihood(variance: torch.Tensor, power: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sum_fn [-log V - |x|^2 / V] over each mixture's real frames, averaged over leading draws: [B]."""
    per_frame = -(torch.log(variance) + power / variance).sum(-1) * mask
    return per_frame.sum(-1).reshape(-1, mask.shape[0]).mean(0)


def _ratio(numerator: torch.Tensor, denominator: torch.Tensor, power: float) -> torch.Tensor:
    ratio = numerator / denominator.clamp_min(torch.finfo(denominator.dtype).tiny)
    return ratio.sqrt() if power == 0.5 else ratio.pow(power)


def _statistics(
    speech: torch.Tensor, noise: torch.Tensor, power: torch.Tensor, mask: torch.Tensor, floor: float, work: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """mean_r 1/V and mean_r |x|^2/V^2 = |x|^2 mean_r 1/V^2 (masked) from the draws' summed speech variances
    [R, B, N, F]: five passes over the draws, 1/V formed in `work` (large fresh buffers cost page faults)."""
    inverse = torch.add(speech, noise, out=work).clamp_min_(floor).reciprocal_()
    s1 = inverse.mean(0).mul_(mask[..., None])
    s2 = inverse.square_().mean(0).mul_(power).mul_(mask[..., None])
    return s1, s2


def m_step(
    samples: torch.Tensor,
    params: Params,
    power: torch.Tensor,
    mask: torch.Tensor,
    exponent: float,
    floor: float,
    noise_smoothing_frames: int = 0,
    colour_smoothing_bins: int = 0,
) -> Params:
    """One pass of W, H then g updates (V recomputed after each); W's columns renormalised into H. The draws'
    summed speech variances sum_j g_j c_j sigma2_j do not change until the g update, so they are formed once; two
    buffers of one speaker's draws [R, B, N, F] serve all passes. With noise_smoothing_frames w > 0, H is then
    replaced by its moving average over frames n - w .. n + w: the noise may only vary slowly, so that its
    dictionary cannot take over a talker's fast-changing spectra. Colours, where params has them, are updated with
    g from the same V, averaged over bins f - colour_smoothing_bins .. f + colour_smoothing_bins (an envelope, not
    a free gain per bin that could take the noise), and their mean over frequency moved into g."""
    W, H, g, colour = params.W, params.H, params.g, params.colour
    gain = params.speech_gain()
    speech = samples[:, 0] * gain[0]
    for j in range(1, len(g)):
        speech.addcmul_(samples[:, j], gain[j])
    work = torch.empty_like(speech)
    s1, s2 = _statistics(speech, params.noise_variance(), power, mask, floor, work)
    W = (W * _ratio(torch.bmm(H, s2).transpose(1, 2), torch.bmm(H, s1).transpose(1, 2), exponent)).clamp_min(floor)
    s1, s2 = _statistics(speech, Params(W, H, g).noise_variance(), power, mask, floor, work)
    Wt = W.transpose(1, 2)
    H = (H * _ratio(torch.bmm(Wt, s2.transpose(1, 2)), torch.bmm(Wt, s1.transpose(1, 2)), exponent)).clamp_min(floor)
    scale = W.sum(1, keepdim=True)
    W, H = (W / scale).clamp_min(floor), (H * scale.transpose(1, 2)).clamp_min(floor)
    inverse = speech.add_(Params(W, H, g).noise_variance()).clamp_min_(floor).reciprocal_()
    numerator, denominator = torch.empty_like(g), torch.empty_like(g)
    if colour is not None:
        colour_numerator, colour_denominator = torch.empty_like(colour), torch.empty_like(colour)
    for j in range(len(g)):
        share = torch.mul(samples[:, j], inverse, out=work)  # sigma2_j / V, then sigma2_j / V^2
        if colour is None:
            denominator[j] = share.sum(-1).mean(0)
            numerator[j] = share.mul_(inverse).mean(0).mul_(power).sum(-1)
        else:
            first, second = share.mean(0), share.mul_(inverse).mean(0).mul_(power)
            denominator[j] = (first * colour[j, :, None]).sum(-1)
            numerator[j] = (second * colour[j, :, None]).sum(-1)
            colour_denominator[j] = (first * (g[j] * mask)[..., None]).sum(-2)
            colour_numerator[j] = (second * g[j, ..., None]).sum(-2)
    g = (g * _ratio(numerator, denominator, exponent)).clamp_min(floor)
    if colour is not None:
        colour = (colour * _ratio(colour_numerator, colour_denominator, exponent)).clamp_min(floor)
        if colour_smoothing_bins > 0:
            colour = moving_average(colour, torch.ones_like(colour), colour_smoothing_bins)
        level = colour.mean(-1, keepdim=True)
        colour, g = colour / level, g * level
    if noise_smoothing_frames > 0:
        frames = mask[:, None, :]
        H = (moving_average(H, frames, noise_smoothing_frames) * frames).clamp_min(floor)
    return Params(W, H, g, colour)
