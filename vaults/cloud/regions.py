"""Region pairs: where a geo-redundant vault keeps its second copy."""

from __future__ import annotations

# Azure's published pairs for the regions the classic portal offered.
_PAIRS = {
    "East US": "West US",
    "West US": "East US",
    "East US 2": "Central US",
    "Central US": "East US 2",
    "North Central US": "South Central US",
    "South Central US": "North Central US",
    "North Europe": "West Europe",
    "West Europe": "North Europe",
    "East Asia": "Southeast Asia",
    "Southeast Asia": "East Asia",
    "Japan East": "Japan West",
    "Japan West": "Japan East",
    "Brazil South": "South Central US",
    "Australia East": "Australia Southeast",
    "Australia Southeast": "Australia East",
}


def paired_region(region: str) -> str | None:
    return _PAIRS.get(region)
