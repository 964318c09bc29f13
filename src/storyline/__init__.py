"""storyline: raw news in, events and storylines out."""

__version__ = "0.1.0"
