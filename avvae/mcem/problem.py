"""What MCEM separates: a batch of B mixtures (padded to N frames, with a frame mask) and J speakers per mixture,
each with its VAE and visual context. The visual context, the prior and the encoder are computed here, once per
utterance; the sampler only calls `decode` and `log_prior`.

Layout: speaker-major, z [J, B, N, L], variances [J, B, N, F], mixture power [B, N, F], mask [B, N].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from avvae.models import SpeechVAE


@dataclass
class ModelGroup:
    """One distinct model object and the flat (speaker, utterance) tracks j * B + b that it decodes."""

    model: SpeechVAE
    tracks: torch.Tensor
    context: torch.Tensor | None
    rows: slice | None = None  # the tracks as a slice when they are consecutive (no gather/scatter needed)


def pad_frames(tensors: list[torch.Tensor], frames: int) -> torch.Tensor:
    """Stack [N_b, ...] tensors into [B, frames, ...], zeros after each one's end."""
    out = tensors[0].new_zeros(len(tensors), frames, *tensors[0].shape[1:])
    for b, tensor in enumerate(tensors):
        out[b, : tensor.shape[0]] = tensor
    return out


class Problem:
    """Mixture powers, per-speaker models, contexts and priors of a padded batch of mixtures."""

    def __init__(
        self,
        stfts: list[torch.Tensor],
        lips: list[list[torch.Tensor | None]],
        models: list[list[SpeechVAE]],
        device: torch.device,
    ):
        self.num_speakers = len(models[0])
        if any(len(utterance) != self.num_speakers for utterance in models) or len(lips) != len(stfts):
            raise ValueError("every mixture of a batch needs the same number of speakers, each with a model")
        self.lengths = [int(x.shape[0]) for x in stfts]
        self.batch, frames = len(stfts), max(self.lengths)
        self.stft = pad_frames([x.to(device, torch.complex64) for x in stfts], frames)
        self.power = self.stft.abs().square()
        self.mask = pad_frames([torch.ones(n, device=device) for n in self.lengths], frames)
        self.groups = self._group(stfts, lips, models, device, frames)
        self.prior_mean, self.prior_precision = self._priors()

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(J, B, N, F)."""
        return (self.num_speakers, *self.power.shape)

    def _group(self, stfts, lips, models, device, frames) -> list[ModelGroup]:
        """Tracks grouped by model object, each track's visual context computed on its own unpadded lips."""
        by_model: dict[int, list[int]] = {}
        for b, utterance in enumerate(models):
            for j, model in enumerate(utterance):
                by_model.setdefault(id(model), []).append(j * self.batch + b)
        groups = []
        for tracks in by_model.values():
            j0, b0 = divmod(tracks[0], self.batch)
            model = models[b0][j0]
            contexts = []
            for track in tracks:
                j, b = divmod(track, self.batch)
                track_lips = lips[b][j] if j < len(lips[b]) else None
                if track_lips is not None and track_lips.shape[0] != self.lengths[b]:
                    raise ValueError(
                        f"speaker {j + 1}'s lips have {track_lips.shape[0]} frames, the mixture {self.lengths[b]}"
                    )
                if track_lips is not None:
                    track_lips = track_lips.to(device, torch.float32)[None]
                context = model.visual_context(track_lips if model.config.uses_lips else None)
                contexts.append(None if context is None else context[0])
            context = None if contexts[0] is None else pad_frames(contexts, frames)
            consecutive = tracks == list(range(tracks[0], tracks[0] + len(tracks)))
            rows = slice(tracks[0], tracks[0] + len(tracks)) if consecutive else None
            groups.append(ModelGroup(model, torch.tensor(tracks, device=device), context, rows))
        return groups

    def _priors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Each track's prior mean and precision [J, B, N, L]."""
        mean, logvar = self._per_track(lambda group: group.model.prior(group.context))
        return mean, torch.exp(-logvar)

    def _per_track(self, function) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply `function(group) -> (a, b)` [T_g or 1, N or 1, L] and scatter both into [J, B, N, L]."""
        num_speakers, batch, frames, _ = self.shape
        first: torch.Tensor | None = None
        second: torch.Tensor | None = None
        for group in self.groups:
            a, b = function(group)
            if first is None:
                latent = a.shape[-1]
                first = a.new_zeros(num_speakers * batch, frames, latent)
                second = a.new_zeros(num_speakers * batch, frames, latent)
            first[group.tracks] = a.expand(len(group.tracks), frames, -1)
            second[group.tracks] = b.expand(len(group.tracks), frames, -1)
        return first.view(num_speakers, batch, frames, -1), second.view(num_speakers, batch, frames, -1)

    def encoder_mean(self) -> torch.Tensor:
        """Initial latents: each speaker's encoder mean from the mixture power and its context, [J, B, N, L]."""

        def encode(group: ModelGroup):
            power = self.power[group.tracks % self.batch]
            return group.model.encode(power, group.context)

        return self._per_track(encode)[0]

    def decode(self, z: torch.Tensor, floor: float) -> torch.Tensor:
        """sigma2(z) [..., J, B, N, F] from z [..., J, B, N, L]: one decoder call per distinct model object. With
        several groups, each group's log-variances are clamped straight into one buffer (into a slice when its
        tracks are consecutive, as for one model per speaker), then exponentiated in place."""
        lead = z.shape[:-4]
        num_speakers, batch, frames, _ = self.shape
        flat = z.reshape(*lead, num_speakers * batch, frames, z.shape[-1])
        if len(self.groups) == 1:
            return _exp_clamped(self.groups[0].model.log_variance(flat, self.groups[0].context), floor).view(
                *lead, *self.shape
            )
        if torch.is_grad_enabled() and z.requires_grad:
            out = flat.new_empty(*lead, num_speakers * batch, frames, self.shape[-1])
            for group in self.groups:
                out[..., group.tracks, :, :] = _exp_clamped(
                    group.model.log_variance(flat[..., group.tracks, :, :], group.context), floor
                )
            return out.view(*lead, *self.shape)
        out = flat.new_empty(*lead, num_speakers * batch, frames, self.shape[-1])
        low = _low(floor)
        for group in self.groups:
            if group.rows is not None:
                log_variance = group.model.log_variance(flat[..., group.rows, :, :], group.context)
                torch.clamp(log_variance, low, 40.0, out=out[..., group.rows, :, :])
            else:
                log_variance = group.model.log_variance(flat[..., group.tracks, :, :], group.context)
                out[..., group.tracks, :, :] = log_variance.clamp_(low, 40.0)
        return out.exp_().view(*lead, *self.shape)

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z_j | v_j) up to a constant, [..., J, B, N]."""
        return -0.5 * ((z - self.prior_mean).square() * self.prior_precision).sum(-1)


def _exp_clamped(log_variance: torch.Tensor, floor: float) -> torch.Tensor:
    """exp(clamp(d, max(-40, log floor), 40)): finite in float32 even for wild proposals, V^2 cannot overflow, and
    at least the floor (one ulp aside). In place when no gradient is recorded (two passes instead of four)."""
    if torch.is_grad_enabled() and log_variance.requires_grad:
        return torch.exp(log_variance.clamp(_low(floor), 40.0))
    return log_variance.clamp_(_low(floor), 40.0).exp_()


def _low(floor: float) -> float:
    return max(-40.0, math.log(floor))
