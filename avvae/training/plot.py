"""The loss-curve figure of a training run (train and dev; total, reconstruction and KL), redrawn each epoch."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from avvae.atomic import atomic_path  # noqa: E402


def plot_losses(history: list[dict], path: str | Path, title: str) -> None:
    """One panel per term, train and dev curves against the epoch; the best dev epoch marked."""
    epochs = [row["epoch"] for row in history]
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for axis, term, label in zip(axes, ("loss", "recon", "kl"), ("total", "reconstruction (IS)", "KL")):
        axis.plot(epochs, [row[f"train_{term}"] for row in history], "o-", ms=3, label="train")
        axis.plot(epochs, [row[f"dev_{term}"] for row in history], "s-", ms=3, label="dev")
        axis.set_title(label)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
    best = min(history, key=lambda row: row["dev_loss"])
    axes[0].axvline(best["epoch"], color="gray", ls=":", label=f"best dev (epoch {best['epoch']})")
    axes[0].set_ylabel("per frame")
    axes[0].legend()
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)
