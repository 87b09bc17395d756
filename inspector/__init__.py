"""nndb's inspector: everything a person touches (session, commands, REPL, TUI, CLI)."""
