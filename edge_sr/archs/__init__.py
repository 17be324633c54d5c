"""The architectures edge-sr knows, one folder each, gathered in one explicit registry.

To add a network: write ``edge_sr/archs/<name>/`` with a module and an ``Architecture`` subclass
(``owns`` / ``detect`` / ``build``), then add its ``ARCHITECTURE`` to the tuple below.
"""

from __future__ import annotations

from edge_sr.archs import dscf_fused, efdn, espan, span, spanf
from edge_sr.registry import ArchitectureRegistry

REGISTRY = ArchitectureRegistry(
    (
        span.ARCHITECTURE,
        spanf.ARCHITECTURE,
        espan.ARCHITECTURE,
        dscf_fused.ARCHITECTURE,
        efdn.ARCHITECTURE,
    )
)
