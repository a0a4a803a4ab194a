"""The ``[[Workflow]]`` macro: the ticket workflow drawn as a graph, in SVG made here.

``[[Workflow]]`` draws the project's ``[ticket-workflow]``; ``[[Workflow(go = a -> b; back =
b -> a)]]`` (options separated by ``;``, as in Trac) and a ``{{{#!Workflow width=.. height=..}}}``
block with one option a line draw a workflow given inline. States are boxes laid out in rows by
their distance from where tickets start; actions are labelled arrows. No JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from codeyard.config import ConfigError, parse_ini
from codeyard.core import hookimpl
from codeyard.ticket.workflow import ANY, CREATING, Action, parse_workflow
from codeyard.wiki.api import MacroError, RenderDependencies, WikiMacro

FONT = 12
CHAR_WIDTH = 7.2  # average advance of a 12px sans-serif character
BOX_HEIGHT = 30
ROW_GAP = 90
COLUMN_GAP = 110
MARGIN = 30
LOOP_ROOM = 120  # beside the rows, for self-loops and their labels
START_RADIUS = 8
START = "\0start"  # the node tickets come from (a ``<none>`` old state)
EVERY = "\0any"  # the node standing for "any state" (a ``*`` old state)


@dataclass
class Node:
    name: str
    label: str
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = BOX_HEIGHT


@dataclass
class Edge:
    source: str
    target: str
    labels: list[str] = field(default_factory=list)


def _text_width(text: str) -> float:
    return len(text) * CHAR_WIDTH


def _graph(actions: Iterable[Action]) -> tuple[list[str], dict[tuple[str, str], Edge], list[str]]:
    """States in order of first mention, edges (one per pair, labels merged) and the labels
    of actions that keep any state as it is (drawn once, in the legend)."""
    states: list[str] = []
    edges: dict[tuple[str, str], Edge] = {}
    everywhere: list[str] = []

    def note(state: str) -> None:
        if state not in states:
            states.append(state)

    actions = [a for a in actions if a.name != "_reset"]
    for action in actions:
        for state in (*action.oldstates, action.newstate):
            if state not in (ANY, CREATING):
                note(state)
    for action in actions:
        if action.newstate == ANY and ANY in action.oldstates:
            everywhere.append(action.label)
        for old in action.oldstates:
            if old == ANY and action.newstate == ANY:
                continue
            source = START if old == CREATING else EVERY if old == ANY else old
            target = old if action.newstate == ANY else action.newstate
            if target in (START, EVERY):
                continue
            edge = edges.setdefault((source, target), Edge(source, target))
            if action.label not in edge.labels:
                edge.labels.append(action.label)
    return states, edges, everywhere


def _layers(states: list[str], edges: dict[tuple[str, str], Edge]) -> list[list[str]]:
    """Rows by distance (breadth first) from where tickets start, then from ``new``; states
    not reached that way follow in a last row, in the order the workflow names them."""
    nodes = ([START] if any(s == START for s, _ in edges) else []) + \
            ([EVERY] if any(s == EVERY for s, _ in edges) else []) + states
    roots = [n for n in (START, EVERY) if n in nodes] or \
            (["new"] if "new" in states else states[:1])
    depth = {root: 0 for root in roots}
    queue = list(roots)
    while queue:
        current = queue.pop(0)
        for (source, target) in edges:
            if source == current and target not in depth:
                depth[target] = depth[current] + 1
                queue.append(target)
    last = max(depth.values(), default=-1) + 1
    rows: dict[int, list[str]] = {}
    for node in nodes:
        rows.setdefault(depth.get(node, last), []).append(node)
    layers = [rows[k] for k in sorted(rows)]
    # One barycentre pass: a state goes under the states it is reached from, which keeps
    # arrows short and crossings few; ties keep the workflow's order (deterministic).
    position = {n: (i + 0.5) / len(layers[0]) for i, n in enumerate(layers[0])} if layers else {}
    for row in layers[1:]:
        order = {n: i for i, n in enumerate(row)}

        def weight(node: str, order: dict[str, int] = order) -> tuple[float, int]:
            above = [position[s] for (s, t) in edges if t == node and s in position]
            mean = sum(above) / len(above) if above else (order[node] + 0.5) / len(order)
            return mean, order[node]
        row.sort(key=weight)
        for i, node in enumerate(row):
            position[node] = (i + 0.5) / len(row)
    return layers


def _label(node: str) -> str:
    return {START: "new ticket", EVERY: "any state"}.get(node, node)


def _place(layers: list[list[str]]) -> tuple[dict[str, Node], float, float]:
    nodes: dict[str, Node] = {}
    rows_width = []
    for row in layers:
        width = 0.0
        for name in row:
            label = _label(name)
            node = Node(name, label, width=max(70.0, _text_width(label) + 24))
            nodes[name] = node
            width += node.width
        rows_width.append(width + COLUMN_GAP * (len(row) - 1))
    widest = max(rows_width, default=0)
    total_width = widest + 2 * MARGIN + 2 * LOOP_ROOM
    for index, row in enumerate(layers):
        x = MARGIN + LOOP_ROOM + (widest - rows_width[index]) / 2
        for name in row:
            node = nodes[name]
            node.x, node.y = x, MARGIN + index * (BOX_HEIGHT + ROW_GAP)
            x += node.width + COLUMN_GAP
    height = MARGIN * 2 + len(layers) * BOX_HEIGHT + max(0, len(layers) - 1) * ROW_GAP
    return nodes, total_width, height


def _border_point(node: Node, toward_x: float, toward_y: float) -> tuple[float, float]:
    """Where the line from the node's centre toward a point leaves its box."""
    cx, cy = node.x + node.width / 2, node.y + node.height / 2
    dx, dy = toward_x - cx, toward_y - cy
    if dx == 0 and dy == 0:
        return cx, cy
    if node.name == START:
        length = math.hypot(dx, dy)
        return cx + dx / length * START_RADIUS, cy + dy / length * START_RADIUS
    scale = min(node.width / 2 / abs(dx) if dx else math.inf,
                node.height / 2 / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _edge_svg(edge: Edge, nodes: dict[str, Node], edges: dict[tuple[str, str], Edge]) -> str:
    text = ", ".join(edge.labels)
    source, target = nodes[edge.source], nodes[edge.target]
    if edge.source == edge.target:
        # A loop on the side facing away from the row's other states.
        row = [n for n in nodes.values() if n.y == source.y]
        left = source is min(row, key=lambda n: n.x) and len(row) > 1
        x = source.x if left else source.x + source.width
        y = source.y + source.height / 2
        out = -40 if left else 40
        path = (f"M{_fmt(x)},{_fmt(y - 8)} C{_fmt(x + out)},{_fmt(y - 30)} "
                f"{_fmt(x + out)},{_fmt(y + 30)} {_fmt(x)},{_fmt(y + 8)}")
        anchor = "end" if left else "start"
        return (f'<path class="edge" d="{path}" marker-end="url(#wf-arrow)"/>'
                f'<text class="action" x="{_fmt(x + out * 1.1)}" y="{_fmt(y + 4)}" '
                f'text-anchor="{anchor}">{escape(text)}</text>')
    sx, sy = source.x + source.width / 2, source.y + source.height / 2
    tx, ty = target.x + target.width / 2, target.y + target.height / 2
    # Bend an edge when the reverse one exists or it jumps over rows, so they do not overlap.
    bend = 0.0
    if (edge.target, edge.source) in edges:
        bend = 28.0
    elif abs(ty - sy) > BOX_HEIGHT + ROW_GAP:
        bend = 60.0
    length = math.hypot(tx - sx, ty - sy) or 1.0
    nx, ny = (ty - sy) / length, -(tx - sx) / length
    mx, my = (sx + tx) / 2 + nx * bend, (sy + ty) / 2 + ny * bend
    x1, y1 = _border_point(source, mx, my)
    x2, y2 = _border_point(target, mx, my)
    path = f"M{_fmt(x1)},{_fmt(y1)} Q{_fmt(mx)},{_fmt(my)} {_fmt(x2)},{_fmt(y2)}"
    # The label sits on the curve's middle (a quadratic Bezier's middle is half-way to its
    # control point).
    lx, ly = (x1 + 2 * mx + x2) / 4, (y1 + 2 * my + y2) / 4
    return (f'<path class="edge" d="{path}" marker-end="url(#wf-arrow)"/>'
            f'<text class="action" x="{_fmt(lx)}" y="{_fmt(ly - 3)}" '
            f'text-anchor="middle">{escape(text)}</text>')


def _node_svg(node: Node) -> str:
    if node.name == START:
        cx, cy = node.x + node.width / 2, node.y + node.height / 2
        return (f'<circle class="start" cx="{_fmt(cx)}" cy="{_fmt(cy)}" r="{START_RADIUS}"/>'
                f'<text class="note" x="{_fmt(cx + START_RADIUS + 4)}" y="{_fmt(cy + 4)}">'
                f'{escape(node.label)}</text>')
    dashed = ' stroke-dasharray="4 3"' if node.name == EVERY else ""
    return (f'<g class="state"><rect x="{_fmt(node.x)}" y="{_fmt(node.y)}" '
            f'width="{_fmt(node.width)}" height="{_fmt(node.height)}" rx="6"{dashed}/>'
            f'<text x="{_fmt(node.x + node.width / 2)}" y="{_fmt(node.y + node.height / 2 + 4)}" '
            f'text-anchor="middle">{escape(node.label)}</text></g>')


STYLE = (".state rect{fill:#f4f6fb;stroke:#4a5a7a;stroke-width:1.5}"
         ".state text{font-weight:bold}"
         ".edge{fill:none;stroke:#6b7890;stroke-width:1.3}"
         ".action{fill:#2e3d5c;font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:3px;"
         "stroke-linejoin:round}"
         ".start{fill:#4a5a7a}.note{fill:#555;font-style:italic;font-size:11px}"
         "text{font-family:sans-serif;font-size:12px;fill:#1d2433}"
         "@media (prefers-color-scheme:dark){.state rect{fill:#232a38;stroke:#9fb0d0}"
         "text,.action{fill:#e4e8f0}.action{stroke:#1b1f27}.edge{stroke:#9aa6bd}"
         ".start{fill:#9fb0d0}}")


def render_svg(actions: Iterable[Action], width: str | None = None,
               height: str | None = None) -> Markup:
    """The workflow graph as an ``<svg>`` element (escaped text, deterministic layout)."""
    states, edges, everywhere = _graph(actions)
    layers = _layers(states, edges)
    nodes, total_width, total_height = _place(layers)
    legend = ""
    if everywhere:
        text = f"{', '.join(everywhere)}: from any state, the status stays as it is"
        legend = (f'<text class="note" x="{MARGIN + LOOP_ROOM}" y="{_fmt(total_height)}">'
                  f'{escape(text)}</text>')
        total_height += 20
        total_width = max(total_width, MARGIN * 2 + LOOP_ROOM + _text_width(text))
    title = "Ticket workflow: " + ", ".join(states)
    size_w = escape(width) if width else _fmt(total_width)
    size_h = escape(height) if height else _fmt(total_height)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="trac-workflow-graph" role="img" '
           f'width="{size_w}" height="{size_h}" '
           f'viewBox="0 0 {_fmt(total_width)} {_fmt(total_height)}" '
           f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
           f"<style>{STYLE}</style>",
           '<defs><marker id="wf-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
           'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
           '<path d="M0,0 L10,5 L0,10 z" fill="#6b7890"/></marker></defs>']
    out += [_edge_svg(edge, nodes, edges) for edge in edges.values()]
    out += [_node_svg(node) for node in nodes.values()]
    out.append(legend)
    out.append("</svg>")
    return Markup("".join(out))


def _size(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value.rstrip("%").isdigit():
        raise MacroError(f"Workflow: width and height are numbers of pixels, not {value!r}.")
    return value


def workflow_macro(fmt, name, content, args=None) -> Markup:
    content = (content or "").strip()
    is_macro = args is None
    args = args or {}
    if "file" in args or content.lstrip().startswith("file="):
        raise MacroError("Workflow: reading the workflow from a repository file (file=) is not "
                         "supported; give the options inline.")
    if not content:
        options = list(fmt.env.config.options("ticket-workflow"))
    else:
        text = "\n".join(line.strip() for line in content.split(";")) if is_macro else content
        if "[ticket-workflow]" not in text:
            text = "[ticket-workflow]\n" + text
        try:
            options = list(parse_ini(text, "Workflow").get("ticket-workflow", {}).items())
        except ConfigError as exc:
            raise MacroError(f"Workflow: {exc}") from None
    parsed = parse_workflow(options)
    if not [a for a in parsed.actions.values() if a.name != "_reset"]:
        problems = "; ".join(parsed.problems)
        raise MacroError("Workflow: no action to draw" + (f" ({problems})" if problems else "."))
    svg = render_svg(parsed.actions.values(), _size(args.get("width")),
                     _size(args.get("height")))
    return Markup('<div class="trac-workflow-graph">%s</div>') % svg


_DOC = ("Draw a ticket workflow as a graph: the project's `[ticket-workflow]` when called "
        "without arguments, or one given inline, its options separated by `;` "
        "(`[[Workflow(go = here -> there; back = there -> here)]]`). As a processor "
        "(`{{{#!Workflow width=700 height=500`), one option a line; `width` and `height` "
        "scale the drawing.")

WORKFLOW = WikiMacro("Workflow", workflow_macro, _DOC)


@hookimpl
def wiki_macros():
    return {"Workflow": WORKFLOW}


@hookimpl
def wiki_processors():
    return {"Workflow": WORKFLOW}


@hookimpl
def wiki_render_dependencies():
    # The graph comes from the text itself or from trac.ini: nothing else to watch.
    return RenderDependencies(macros={"Workflow": None})
