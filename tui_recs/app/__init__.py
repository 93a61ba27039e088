"""The Textual UI. Only this package may import textual."""
