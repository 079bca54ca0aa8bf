"""The speaker order each decode dir is scored in: "best" (its estimates in the permutation with the highest SI-SDR)
or "fixed" (estimate j against speaker j).

By default it follows the decode's record (avvae.fileio.decode_dir.SPEAKER_ORDER): best where the system could not
tell the speakers apart (its estimates have no order), fixed where they follow the mixture's speakers, and fixed
where there is no record (estimates made elsewhere). The scoring options name the decode dirs to score otherwise.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Collection

from avvae.errors import UsageError
from avvae.fileio.decode_dir import read_speaker_order

log = logging.getLogger(__name__)


def recorded_scoring_order(decode_dir: Path) -> str:
    """The order its decode's record asks for: best for estimates without a speaker order, else fixed."""
    order = read_speaker_order(decode_dir)
    if order is None:
        log.info(
            "%s: its estimates do not record their speaker order (made elsewhere, or by a decode from before "
            "the record): scored in their fixed order",
            decode_dir,
        )
    return "best" if order == "none" else "fixed"


def scoring_orders(
    decode_dirs: list[str | Path], best: Collection[str | Path] = (), fixed: Collection[str | Path] = ()
) -> dict[Path, str]:
    """{decode dir: "best" or "fixed"}: those named in `best` or `fixed` (each one of `decode_dirs`, in either
    spelling of its path) so, the others as their decode recorded."""
    dirs = [Path(d) for d in decode_dirs]
    scored = {d.resolve() for d in dirs}
    told: dict[Path, str] = {}
    for order, option, named in (("best", "permutation-invariant", best), ("fixed", "fixed-order", fixed)):
        unknown = sorted(str(d) for d in named if Path(d).resolve() not in scored)
        if unknown:
            raise UsageError(
                f"{option} dir(s) {unknown} are not among the decode dirs scored ({', '.join(map(str, dirs))})"
            )
        for d in named:
            if told.setdefault(Path(d).resolve(), order) != order:
                raise UsageError(f"{d}: named for the best speaker order and for the fixed one: give one")
    return {d: told.get(d.resolve()) or recorded_scoring_order(d) for d in dirs}
