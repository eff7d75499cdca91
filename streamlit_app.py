"""vitviz entry point: the frame (navigation, the shared sidebar, the model and the analysis), then the page."""

from ui import frame, memory, uploads

uploads.keep_uploads_in_memory()  # an upload never touches the disk, however large (see ui/uploads.py)
memory.settle_startup_objects()  # the imports' objects out of the collector's way (see ui/memory.py)
memory.collect_now_and_then()  # expired sessions' reference cycles, at most once a minute
frame.run()
