"""Machine-embroidery output: tatami fills and cross stitch, stitch order, DST/PES/JEF/EXP/VP3, previews."""

from engine.core.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "EmbroideryOptions": "options",
    "export_embroidery": "export",
    "render_stitch_preview": "export",
    "plan_embroidery": "planner",
    "EmbroideryReport": "report",
    "StitchPlan": "plan",
    "map_threads": "threads",
    "draw_plan": "preview",
    "HOOPS": "hoops",
    "parse_hoop": "hoops",
})
