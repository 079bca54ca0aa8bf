"""The loss-curve figure of a training run (train and dev, one panel per loss term), redrawn each epoch."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from avvae.fileio.atomic import atomic_path  # noqa: E402


def plot_losses(history: list[dict], path: str | Path, title: str, labels: dict[str, str] | None = None) -> None:
    """One panel per term of the history (its `train_<term>` columns, total first), train and dev curves against
    the epoch; the best dev epoch marked. `labels` gives a panel title per term (default: the term's name)."""
    labels = labels or {}
    epochs = [row["epoch"] for row in history]
    terms = [name.removeprefix("train_") for name in history[0] if name.startswith("train_")]
    figure, axes = plt.subplots(1, len(terms), figsize=(4 * len(terms), 3.4), squeeze=False)
    axes = axes[0]
    for axis, term in zip(axes, terms):
        axis.plot(epochs, [row[f"train_{term}"] for row in history], "o-", ms=3, label="train")
        axis.plot(epochs, [row[f"dev_{term}"] for row in history], "s-", ms=3, label="dev")
        axis.set_title(labels.get(term, term))
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
