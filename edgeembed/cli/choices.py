"""The CLI's choice lists (typer shows them in --help and rejects anything else), made from the
tables they describe: formats, quantizations and devices from ``edgeembed.formats``, TFLite
converters from ``edgeembed.converters.ROUTES``' spellings."""

from __future__ import annotations

from enum import Enum
from typing import cast

from edgeembed.converters.route_table import CONVERTER_CHOICES
from edgeembed.embed.precision import PRECISIONS
from edgeembed.formats import DEVICES, FORMATS, QUANTIZATIONS


def _choices(name: str, values) -> type[Enum]:
    return cast("type[Enum]", Enum(name, {value.replace("-", "_"): value for value in values}, type=str))


Quantization = _choices("Quantization", QUANTIZATIONS)
Format = _choices("Format", FORMATS)
Device = _choices("Device", DEVICES)
Converter = _choices("Converter", CONVERTER_CHOICES)
Precision = _choices("Precision", PRECISIONS)
