"""Readable names for the manufacturer codes the clouds report.

inexogy names a meter's maker by its DLMS/FLAG manufacturer id (``ESY``,
``ELS``, ``SEN``) and its model family in capitals (``EASYMETER``,
``ELSTER``); READY lists Kamstrup meters only. Both end up here, so that a
device shows "EasyMeter", not "ESY". A code not listed passes through as it
came.
"""

from typing import Final

# FLAG id (https://www.dlms.com/flag-id-directory) -> the name the maker
# goes by. Several ids of one maker (per country or per medium) share it.
MANUFACTURERS: Final = {
    "ABB": "ABB",
    "AEG": "AEG",
    "APA": "Apator",
    "APT": "Apator",
    "BMT": "B METERS",
    "DGY": "Discovergy",
    "DME": "Diehl Metering",
    "DZG": "DZG",
    "EBZ": "eBZ",
    "EFE": "Engelmann",
    "EFR": "EFR",
    "ELS": "Elster",
    "EMH": "EMH metering",
    "EMU": "EMU",
    "ESY": "EasyMeter",
    "GAV": "Carlo Gavazzi",
    "GWF": "GWF",
    "HAG": "Hager",
    "HYD": "Hydrometer",
    "ISK": "Iskraemeco",
    "ITE": "Itron",
    "ITF": "ITF Fröschl",
    "ITG": "Itron",
    "ITK": "Itron",
    "ITR": "Itron",
    "ITW": "Itron",
    "KAM": "Kamstrup",
    "KFM": "Kaifa",
    "LGB": "Landis+Gyr",
    "LGD": "Landis+Gyr",
    "LGZ": "Landis+Gyr",
    "LOG": "Logarex",
    "LUG": "Landis+Gyr",
    "NZR": "NZR",
    "POZ": "Pozyton",
    "QDS": "Qundis",
    "SAG": "Sagemcom",
    "SEN": "Sensus",
    "SIE": "Siemens",
    "SPX": "Sensus",
    "TCH": "Techem",
    "ZRI": "Zenner",
}


def _folded(code: str) -> str:
    """``Landis+Gyr``, ``LANDIS_GYR`` and ``landisgyr`` alike."""
    return "".join(char for char in code.upper() if char.isalnum())


# Also by the name spelled out, as inexogy's model families are: EASYMETER.
_BY_CODE: Final = {
    **{_folded(name): name for name in MANUFACTURERS.values()},
    **MANUFACTURERS,
}


def manufacturer_name(code: str) -> str:
    """The maker's name for its FLAG id or spelled-out name; others unchanged."""
    return _BY_CODE.get(_folded(code), code)
