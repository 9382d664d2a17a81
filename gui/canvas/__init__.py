"""The node canvas: a scene that mirrors the graph model and a view to edit it with.

``GraphScene(graph, undo_stack)`` follows the model's events; ``GraphView(scene)`` adds zoom,
pan, fit, palette drops and quick add. Every edit goes through ``gui.commands``.
"""

from gui.canvas.clipboard import CLIPBOARD_MIME, release_clipboard
from gui.canvas.scene import LAYER_MIME, GraphScene
from gui.canvas.view import EMPTY_TEXT, GraphView

__all__ = ["CLIPBOARD_MIME", "EMPTY_TEXT", "LAYER_MIME", "GraphScene", "GraphView",
           "release_clipboard"]
