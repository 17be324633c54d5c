"""Errors edge-sr raises on purpose.

Every message is one line that names the file (or option) concerned, what was expected and
what was found.  The CLI prints ``edge-sr: error: <message>`` and exits non-zero; Python callers
can catch :class:`EdgeSRError` to handle all of them.
"""

from __future__ import annotations


class EdgeSRError(Exception):
    """Base class of every error edge-sr raises deliberately."""


class CheckpointError(EdgeSRError):
    """A checkpoint file cannot be read safely, or its tensors do not fit the network."""


class UnknownArchitectureError(CheckpointError):
    """No registered architecture recognises a state_dict's layout."""


class OptionError(EdgeSRError):
    """An option has a value edge-sr cannot honour (e.g. an unknown ``edbb_variant``)."""


class VerificationError(EdgeSRError):
    """A numeric transformation does not reproduce its source within its named tolerance."""


class ImageError(EdgeSRError):
    """An image cannot be read, written, or is unsuitable for the network (e.g. too small)."""


class DatasetError(EdgeSRError):
    """An evaluation folder does not hold images in a layout edge-sr knows."""


class ZooError(EdgeSRError):
    """A model-zoo name is unknown, or its file is missing or fails its sha256 check."""


class DownloadError(ZooError):
    """A download failed or delivered bytes that do not match the expected sha256."""
