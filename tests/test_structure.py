"""The packages of gateway/ (and audio/) import each other without cycles, counting the imports
placed inside functions too (a cycle hidden that way is still a cycle).

The graph is read from the source with `ast`: package A → package B when a module of A imports
anything of B. The modules at the root of gateway/ (models, db, queue, reconcile, cli…) are the
shared base and the app's wiring, not packages, and are left out. KNOWN lists the imports that
still close a cycle, each with the reason; the work of issue 16 removes them. A new cycle fails
the test, and so does an entry of KNOWN that no longer closes one (then delete it)."""
import ast
import os

ROOT = os.path.join(os.path.dirname(__file__), "..")

KNOWN = {
    ("gateway.areas", "gateway.ivr"): "the settings check prompt recordings against the hotline's prompt keys",
}


def package_of(module):
    """The package a dotted module name belongs to ("gateway.sms", "audio"), None for the root modules."""
    parts = module.split(".")
    if parts[0] == "audio":
        return "audio"
    if parts[0] != "gateway" or len(parts) < 2 or not os.path.isdir(os.path.join(ROOT, "gateway", parts[1])):
        return None
    return f"gateway.{parts[1]}"


def imports_of(path):
    """Every module name an import statement in `path` names (anywhere in it, functions included)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)  # `from gateway import sms`


def package_graph():
    """{package: {package it imports}} over gateway/ and audio/."""
    graph = {}
    for top in ("gateway", "audio"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(folder, name)
                module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                source = package_of(module)
                if source is None:
                    continue
                targets = {package_of(m) for m in imports_of(path)} - {None, source}
                graph.setdefault(source, set()).update(targets)
    return graph


def cycles(graph):
    """The strongly connected components with more than one package (Tarjan)."""
    index, low, stack, found = {}, {}, [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def without(graph, edges):
    return {a: {b for b in targets if (a, b) not in edges} for a, targets in graph.items()}


def test_the_reader_sees_cycles_and_hidden_imports():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []
    graph = package_graph()
    # gateway.sms.views imports the reports package nowhere, but sms.inbound does, inside a function.
    assert "gateway.reports" in graph["gateway.sms"] and "gateway.mirror" in graph["gateway.reports"]


def test_no_package_cycle_but_the_known_ones():
    left = cycles(without(package_graph(), set(KNOWN)))
    assert left == [], f"package cycles: {left}"


def test_each_known_import_still_closes_a_cycle():
    graph = package_graph()
    for edge, why in KNOWN.items():
        a, b = edge
        assert b in graph.get(a, ()), f"{a} no longer imports {b}: delete it from KNOWN ({why})"
        closing = cycles(without(graph, set(KNOWN) - {edge}))
        assert any({a, b} <= c for c in closing), f"{a} → {b} closes no cycle now: delete it from KNOWN ({why})"


def test_mirror_and_audio_stay_below_reports_and_the_app():
    graph = package_graph()
    assert not graph.get("audio", set()) - {"audio"}  # a library: nothing of gateway
    assert graph.get("gateway.mirror") == set(), graph.get("gateway.mirror")  # only the shared base
