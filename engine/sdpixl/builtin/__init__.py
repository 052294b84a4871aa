"""The built-in text-to-pattern model (small emoji diffusion model shipped in resources/models): offline, on a CPU."""

from engine.core.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "BuiltinModel": "loading",
    "load_builtin_model": "loading",
    "BUILTIN_DIR": "files",
    "builtin_installed": "files",
    "BuiltinGuidance": "guidance",
    "BuiltinGuidanceConfig": "guidance",
    "Vocabulary": "vocab",
    "generate_builtin": "run",
    "fast_pattern": "run",
    "unknown_words": "run",
    "METHODS": "run",
})
