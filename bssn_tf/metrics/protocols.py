"""Evaluation protocols: how many images enter FID and IS, so numbers match a published table.

A FID or IS is only comparable with one made under the same protocol, network
and resize. The two published protocols for SN/BSSN GANs:
- "paper": the BSSN paper's code. FID of 10k generated against 5k real
  training images; IS over 50k generated images in 10 splits, on the softmax
  of the first 1000 of the Inception's 1008 logits (the ImageNet classes).
- "mimicry": the Mimicry library's tables. FID of 50k against 50k; the same IS.
"custom" takes the sample counts from the caller.
"""

import dataclasses
from typing import Optional

PROTOCOL_NAMES = ("paper", "mimicry", "custom")
_IMAGENET_CLASSES = 1000


@dataclasses.dataclass(frozen=True)
class Protocol:
    """Image counts of one evaluation.

    `num_samples` generated images enter FID/KCD, `num_score_samples` (the same
    draws, extended) enter the score, in `splits` splits over the softmax of the
    first `score_classes` logits (None: all). `num_real` None: every real image.
    """

    name: str
    num_samples: int
    num_real: Optional[int]
    num_score_samples: int
    splits: int = 10
    score_classes: Optional[int] = _IMAGENET_CLASSES


PUBLISHED_PROTOCOLS = {
    "paper": Protocol("paper", num_samples=10_000, num_real=5_000, num_score_samples=50_000),
    "mimicry": Protocol("mimicry", num_samples=50_000, num_real=50_000, num_score_samples=50_000),
}


def resolve_protocol(name, num_samples, num_real, extractor_name):
    """The Protocol called `name`; "custom" scores `num_samples` against `num_real`.

    Under "custom" the score uses the first 1000 logits for the FID Inception
    (its ImageNet classes) and every logit for other extractors.
    """
    if name in PUBLISHED_PROTOCOLS:
        return PUBLISHED_PROTOCOLS[name]
    if name != "custom":
        raise ValueError(f"protocol must be one of {list(PROTOCOL_NAMES)}; got {name!r}.")
    return Protocol(
        "custom",
        num_samples=int(num_samples),
        num_real=num_real,
        num_score_samples=int(num_samples),
        score_classes=_IMAGENET_CLASSES if extractor_name == "fid_inception" else None,
    )
