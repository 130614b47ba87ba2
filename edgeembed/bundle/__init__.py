"""The bundle: a folder with a manifest, a tokenizer, model file(s) and a conversion report.

``manifest`` is the contract (plain JSON, checked); ``directory`` loads, verifies and writes the
folder; ``archive`` packs it into a ``.tar.gz`` and unpacks one safely.
"""

from edgeembed.bundle.directory import STAGING_PREFIX, Bundle, remove_stale_staging, write_bundle
from edgeembed.bundle.manifest import (
    ADDED_OPTIONAL_FIELDS,
    FORMATS,
    INPUT_ROLES,
    MANIFEST_NAME,
    POOLING_MODES,
    PROJECTION_NAME,
    REPORT_NAME,
    SCHEMA_VERSION,
    TOKENIZER_NAME,
    Manifest,
    Signature,
    sha256_file,
    sha256_files,
)

__all__ = [
    "ADDED_OPTIONAL_FIELDS",
    "FORMATS",
    "INPUT_ROLES",
    "MANIFEST_NAME",
    "POOLING_MODES",
    "PROJECTION_NAME",
    "REPORT_NAME",
    "SCHEMA_VERSION",
    "STAGING_PREFIX",
    "TOKENIZER_NAME",
    "Bundle",
    "Manifest",
    "Signature",
    "remove_stale_staging",
    "sha256_file",
    "sha256_files",
    "write_bundle",
]
