"""Readers and writers: user tables, schema declarations and rules in; outputs out, atomically."""

from synthtab.io.errors import InputError, InputWarning, OutputError
from synthtab.io.readers import (
    SUPPORTED_TABLE_SUFFIXES,
    demo_dataset_path,
    file_sha256,
    read_rules,
    read_schema_declaration,
    read_table,
)
from synthtab.io.writers import (
    SUPPORTED_OUTPUT_FORMATS,
    atomic_destination,
    output_suffix,
    write_json,
    write_table,
    write_text,
)

__all__ = [
    "SUPPORTED_OUTPUT_FORMATS",
    "SUPPORTED_TABLE_SUFFIXES",
    "InputError",
    "InputWarning",
    "OutputError",
    "atomic_destination",
    "demo_dataset_path",
    "file_sha256",
    "output_suffix",
    "read_rules",
    "read_schema_declaration",
    "read_table",
    "write_json",
    "write_table",
    "write_text",
]
