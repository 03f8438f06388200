"""wordstats: counts words in text files (Flavor's Python example)."""
__version__ = "1.2.0"
