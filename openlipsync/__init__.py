"""openlipsync: self-hosted lip-sync video service speaking Magic Hour's lip-sync API."""

__version__ = "0.1.0"
