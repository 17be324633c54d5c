"""The model zoo: published checkpoints by short name, with canonical URL and sha256.

Files come from ``$EDGE_SR_ZOO`` when it is set (a folder holding them under their file names),
otherwise from a user cache (``$EDGE_SR_CACHE``, else ``$XDG_CACHE_HOME/edge-sr``, else
``~/.cache/edge-sr``), downloading them on first use from ``$EDGE_SR_ZOO_MIRROR``/<file name>
when a mirror is set, else from the canonical URL.  Every file is checked against its sha256
before use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edge_sr.checkpoint import sha256_of
from edge_sr.download import download_verified
from edge_sr.errors import ZooError


@dataclass(frozen=True, kw_only=True)
class ZooEntry:
    name: str
    family: str
    arch: str
    filename: str
    url: str
    sha256: str
    scale: int
    source: str
    license: str
    parameters: int
    """Parameter count of the published (deploy-form) network; checked against the file in tests."""
    macs: int
    """Convolution MACs at a 256x256 input (see ``edge_sr.complexity``); checked in tests."""
    note: str = ""


def _github(repo: str, commit: str, path: str) -> str:
    return f"https://github.com/{repo}/raw/{commit}/{path}"


NTIRE24 = ("Amazingren/NTIRE2024_ESR", "6404fa48dde4a4adbf241a51debdc661aef20449")
NTIRE25 = ("Amazingren/NTIRE2025_ESR", "b69fb668c0362deb696eecbfdebfaa5c2fcdfcb4")
NTIRE26 = ("Amazingren/NTIRE2026_ESR", "4592ce6db68b395699f13e7e2a4e3baf317ef1c6")

ZOO: tuple[ZooEntry, ...] = (
    ZooEntry(
        name="span-ch28",
        arch="span",
        parameters=150_688,
        macs=9_833_807_872,
        family="SPAN",
        filename="ntire24_team38_span_ch28_slim.pth",
        url=_github(*NTIRE24, "model_zoo/team38_span_ch28_slim.pth"),
        sha256="6c80f05048313289c6526e5fc9726688d7bb3dfdd6ae3c8b1e7dd09f601e5971",
        scale=4,
        source="NTIRE 2024 ESR winner (team 38, XiaomiMM)",
        license="MIT",
    ),
    ZooEntry(
        name="span-tiny",
        arch="span",
        parameters=130_828,
        macs=8_535_015_424,
        family="SPAN-Tiny",
        filename="ntire24_team39_spantiny_ch26_slim.pth",
        url=_github(*NTIRE24, "model_zoo/team39_spantiny_ch26_slim.pth"),
        sha256="30bf224aee5d3fb9cbc7a3bf164a294f957f65c45f5b271052947097922040a5",
        scale=4,
        source="NTIRE 2024 ESR team 39",
        license="MIT",
    ),
    ZooEntry(
        name="dsclora",
        arch="span",
        parameters=130_828,
        macs=8_535_015_424,
        family="DSCLoRA",
        filename="ntire25_team23_DSCF.pth",
        url=_github(*NTIRE25, "model_zoo/team23_DSCF.pth"),
        sha256="239e76bc4e4e738491c3963805c0a79f524400acf5fbde34b2cb1a855dd62cb1",
        scale=4,
        source="NTIRE 2025 ESR winner (team 23), LoRA merged",
        license="MIT",
    ),
    ZooEntry(
        name="dsclora-early",
        arch="span",
        parameters=130_828,
        macs=8_535_015_424,
        family="DSCLoRA",
        filename="dscfsr_38287f5_team23_DSCF.pth",
        url=_github("Yaozzz666/DSCF-SR", "38287f5ecd6907d5fdae9a66ff400ec7ea3cbd07", "model_zoo/team23_DSCF.pth"),
        sha256="81f90e39d80aa641aee0f979140f0fb622eeed43f6df60bef8bc11bef1219117",
        scale=4,
        source="DSCF-SR repository, earlier checkpoint (later withdrawn)",
        license="MIT",
    ),
    ZooEntry(
        name="spanf",
        arch="spanf",
        parameters=148_288,
        macs=9_681_502_208,
        family="SPANF",
        filename="ntire25_team24_spanf.pth",
        url=_github(*NTIRE25, "model_zoo/team24_spanf.pth"),
        sha256="1508c566008654646bea1edff537c83dd7a6fe8f6ffda3f25f9eb7ba09cbbcd3",
        scale=4,
        source="NTIRE 2025 ESR team 24 (XiaomiMM)",
        license="MIT",
    ),
    ZooEntry(
        name="span-team46",
        arch="span",
        parameters=146_328,
        macs=9_548_595_200,
        family="SPAN",
        filename="ntire25_team46_span.pth",
        url=_github(*NTIRE25, "model_zoo/team46_span.pth"),
        sha256="b212c077015e97d8ea5b1f279dc3d990ce4c9fdd80c3f829e2b2711562086d7f",
        scale=4,
        source="NTIRE 2025 ESR team 46 (SPAN ch28, conv_cat narrowed to 20)",
        license="MIT",
        note="stored as {params, params_ema}; params_ema is used",
    ),
    ZooEntry(
        name="espan",
        arch="espan",
        parameters=192_272,
        macs=12_555_649_024,
        family="ESPAN",
        filename="ntire25_team36_espan.pth",
        url=_github(*NTIRE25, "model_zoo/team36_espan.pth"),
        sha256="f54d2668aef25cd490ff0ced3c47ba2978fa7cb341264a5339b239ef602ea59c",
        scale=4,
        source="NTIRE 2025 ESR team 36",
        license="MIT",
    ),
    ZooEntry(
        name="dscf-fused",
        arch="dscf_fused",
        parameters=125_992,
        macs=8_219_787_264,
        family="DSCF-Fused",
        filename="ntire26_team15_DSCF_Fused.pth",
        url=_github(*NTIRE26, "model_zoo/team15_DSCF_Fused.pth"),
        sha256="2d6157faa97494dc4970016720b75b06db584e1386c54bcaa2e45feb41e9a189",
        scale=4,
        source="NTIRE 2026 ESR team 15",
        license="MIT",
    ),
    ZooEntry(
        name="efdn",
        arch="efdn",
        parameters=276_192,
        macs=16_703_470_848,
        family="EFDN",
        filename="ntire25_team00_EFDN.pth",
        url=_github(*NTIRE25, "model_zoo/team00_EFDN.pth"),
        sha256="71069f10ef234cd123f45ac8e69099f0a1fdc0c16afcfe2189e50071d47ce477",
        scale=4,
        source="NTIRE 2025 ESR baseline (EFDN_gv, deploy form)",
        license="MIT",
    ),
    ZooEntry(
        name="efdn-x2",
        arch="efdn",
        parameters=260_604,
        macs=15_684_254_976,
        family="EFDN",
        filename="icandle_EFDNx2_baseline.pth",
        url=_github("icandle/EFDN", "3e7c7b40be14fecd9c89338d92b80ec52e325626", "model_zoo/EFDNx2_baseline.pth"),
        sha256="6e392d63b322befaf66d7bc0e0b0427b39f58de257f43e036a6bc55b60d30785",
        scale=2,
        source="EFDN authors' x2 baseline",
        license="Apache-2.0",
    ),
)

DEFAULT_MODEL = "span-ch28"


def names() -> list[str]:
    return [entry.name for entry in ZOO]


def entry(name: str) -> ZooEntry:
    """The zoo entry called ``name``: its short name, its file name, or the file name's stem."""
    for candidate in ZOO:
        if name in (candidate.name, candidate.filename, Path(candidate.filename).stem):
            return candidate
    raise ZooError(f"{name}: not a zoo model name; known: {', '.join(names())}")


def is_zoo_name(name: str) -> bool:
    return any(name in (e.name, e.filename, Path(e.filename).stem) for e in ZOO)


def cache_dir() -> Path:
    if os.environ.get("EDGE_SR_CACHE"):
        return Path(os.environ["EDGE_SR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edge-sr"


def resolve(name: str, *, progress=None) -> Path:
    """Path of a verified local copy of zoo model ``name`` (downloading it if needed)."""
    item = entry(name)
    name = item.name
    local_zoo = os.environ.get("EDGE_SR_ZOO")
    if local_zoo:
        path = Path(local_zoo) / item.filename
        if not path.is_file():
            raise ZooError(f"{path}: expected zoo file {item.filename} in EDGE_SR_ZOO, found nothing")
        _verify(path, item)
        return path
    path = cache_dir() / "zoo" / item.filename
    if path.is_file():
        _verify(path, item)
        return path
    mirror = os.environ.get("EDGE_SR_ZOO_MIRROR")
    url = f"{mirror.rstrip('/')}/{item.filename}" if mirror else item.url
    return download_verified(url, path, sha256=item.sha256, progress=progress)


def _verify(path: Path, item: ZooEntry) -> None:
    found = sha256_of(path)
    if found != item.sha256:
        raise ZooError(f"{path}: sha256 mismatch for zoo model {item.name}: expected {item.sha256}, found {found}")
