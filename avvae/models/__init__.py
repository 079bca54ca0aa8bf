"""The speech VAEs (A-VAE, AV-VAE, CVAE) and their files."""

from avvae.models.config import ModelConfig
from avvae.models.files import ModelFileError, load_model, save_model
from avvae.models.vae import SpeechVAE

__all__ = ["ModelConfig", "ModelFileError", "SpeechVAE", "load_model", "save_model"]
