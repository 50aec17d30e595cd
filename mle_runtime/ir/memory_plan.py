"""The memory plan of a neural-network graph, computed at dump time (docs/FORMAT.md, 11.4).

Every value of such a graph is a float32 tensor of shape (batch, *shape): its bytes per batch
row are fixed, so one plan per row serves every batch (a block of ``b`` rows lays each buffer
out ``b`` times larger at ``b`` times its offset). Buffers live from the node that defines
them to their last reader (closed intervals over the topological order of the nodes); a view
(``NnReshape``) shares its input's buffer and keeps it alive. Offsets are assigned greedily,
largest buffer first, each into the smallest gap (best fit) left by the buffers already placed
whose lifetimes intersect its own. The native loader checks the plan again: every offset and
size inside the arena, no two live buffers sharing a byte.
"""

from dataclasses import dataclass

VIEW_OPS = frozenset({"NnReshape"})
ALIGN = 64  # bytes per row: keeps every buffer cache-line aligned for one row


@dataclass
class MemoryPlan:
    arena: int  # bytes per batch row
    offsets: list  # per graph node: its value's offset per row, or None (view or output only)
    lower_bound: int  # the most bytes per row alive at any one time (no plan can do better)
    total: int  # the sum of all intermediates' bytes per row (no reuse at all)

    def to_json(self):
        return {"arena": int(self.arena), "offsets": [None if o is None else int(o)
                                                      for o in self.offsets]}


def _align(n):
    return (int(n) + ALIGN - 1) // ALIGN * ALIGN


def plan_memory(nodes, row_bytes, outputs):
    """Plans the arena of ``nodes``.

    Parameters
    ----------
    nodes : list of ir.graph.Node
        In execution order; value ``"X"`` is the input.
    row_bytes : dict
        Value name -> bytes per batch row.
    outputs : iterable of str
        Graph output values: written to the caller's array, so an output that no node reads
        needs no buffer.

    Returns
    -------
    MemoryPlan
    """
    outputs = set(outputs)
    read = {i for n in nodes for i in n.inputs}
    root, start, end = {"X": "X"}, {}, {}
    for pos, n in enumerate(nodes):
        for i in n.inputs:
            r = root[i]
            end[r] = max(end.get(r, -1), pos)
        if n.op in VIEW_OPS and n.output not in outputs:
            root[n.output] = root[n.inputs[0]]
        else:
            root[n.output] = n.output
        start[n.output] = pos
        r = root[n.output]
        end[r] = max(end.get(r, -1), pos)
    buffers = [n.output for n in nodes if root[n.output] == n.output and
               not (n.output in outputs and n.output not in read)]
    order = sorted(buffers, key=lambda v: (-row_bytes[v], start[v]))
    placed = []  # (start, end, offset, size)
    offset_of = {}
    for v in order:
        size, s, e = _align(row_bytes[v]), start[v], end[v]
        busy = sorted((o, o + sz) for (ps, pe, o, sz) in placed if ps <= e and s <= pe)
        best, best_gap, at = None, None, 0
        for lo, hi in busy:
            if lo - at >= size and (best_gap is None or lo - at < best_gap):
                best, best_gap = at, lo - at
            at = max(at, hi)
        if best is None:
            best = at
        offset_of[v] = best
        placed.append((s, e, best, size))
    arena = max((o + sz for (_, _, o, sz) in placed), default=0)
    live = [0] * (len(nodes) + 1)
    for v in buffers:
        for t in range(start[v], end[v] + 1):
            live[t] += _align(row_bytes[v])
    return MemoryPlan(arena=arena,
                      offsets=[offset_of.get(n.output) for n in nodes],
                      lower_bound=max(live, default=0),
                      total=sum(_align(row_bytes[v]) for v in buffers))
