"""Thin command-line entry points, one per recipe step: `python -m avvae.bin.<step> --help`."""
