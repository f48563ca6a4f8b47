"""Declarative per-supplier mappings: a supplier's own JSON or CSV dialect → canonical documents.

No Python per supplier: a TOML mapping file says which of the supplier's fields feeds which
canonical field — by source path, constant, code-table lookup, small expression or default —
and, for CSV, the dialect and how rows group into documents. It may extend a built-in template
and override single rules. ``docs/mappings.md`` is the reference.

Public API:

* :func:`load_mapping` / :func:`parse_mapping` → :class:`Mapping` (errors: ``PolicyError``
  with file, line and key path).
* :class:`MappedJsonCodec` (format ``json``) and :class:`~wharf.codecs.csv_flat.CsvCodec`
  (format ``csv``, also a writer) decode with a mapping.
* :func:`run_mapping_test` backs ``wharf mapping test MAPPING SAMPLE...``.
* :data:`TEMPLATES`: the built-in templates' names and text.
"""

from __future__ import annotations

from wharf.codecs.mapping.json_codec import MappedJsonCodec
from wharf.codecs.mapping.loader import load_mapping, parse_mapping
from wharf.codecs.mapping.plan import Mapping
from wharf.codecs.mapping.spec import MappingSpec
from wharf.codecs.mapping.templates import TEMPLATES
from wharf.codecs.mapping.tester import run_mapping_test

__all__ = (
    "TEMPLATES",
    "MappedJsonCodec",
    "Mapping",
    "MappingSpec",
    "load_mapping",
    "parse_mapping",
    "run_mapping_test",
)
