"""The Textual terminal UI of nndb."""
