"""avvae: unsupervised audio-visual speech separation with variational auto-encoders."""

__version__ = "0.1.0"
