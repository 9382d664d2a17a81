"""Small shared GUI helpers: counted nouns and the network miniature."""

from __future__ import annotations

from PySide6.QtGui import QColor

from graph.model import Edge, Graph
from gui import theme
from gui.network_picture import network_picture
from gui.text import counted


def test_counted_nouns() -> None:
    assert counted(1, "layer") == "1 layer"
    assert counted(0, "error") == "0 errors"
    assert counted(1234, "parameter") == "1,234 parameters"


def test_network_picture_fades_what_is_not_selected(qtbot) -> None:
    g = Graph()
    g.add_node("Input", {"shape": [4]}, pos=(0, 0), name="x")
    g.add_node("Linear", pos=(300, 0), name="fc")
    g.connect(Edge(1, "out", 2, "in"))
    plain = network_picture(g, 200, 80).toImage()
    picked = network_picture(g, 200, 80, selected={1}).toImage()
    assert (plain.width(), plain.height()) == (200, 80)
    assert plain != picked
    canvas = QColor(theme.current().canvas)
    assert network_picture(Graph(), 50, 20).toImage().pixelColor(10, 10) == canvas
