"""vitviz entry point: the frame (navigation, the shared sidebar, the model and the analysis), then the page."""

from ui import frame

frame.run()
