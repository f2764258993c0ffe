"""PeaceWatch: ceasefire, DDR and diplomacy monitoring for peacekeeping missions."""

__version__ = "0.1.0"
