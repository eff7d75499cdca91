"""The figures of each stage, one module per stage: every function builds one figure a page shows,
from ``(bundle, analysis, *settings)``. The pages and the handout call the same functions, so the
walk-through is composed once; the app caches each figure under (identity, function, settings)."""
