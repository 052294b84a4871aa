"""Front-ends over the engine: the PySide6 desktop app (gui) and the headless commands (cli)."""
