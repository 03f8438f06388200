"""sciapp: `solve EXPR` (sympy), `paths N` (networkx), `stats X...` (numpy).

Each command imports its library inside the function, so `--help` and `--version` start with
none of them: packed progressively, they stay in the package until a command needs them.
"""
import argparse
import sys

from . import __version__


def solve(args):
    import sympy
    x = sympy.Symbol("x")
    roots = sympy.solve(sympy.sympify(args.expr), x)
    print("roots:", ", ".join(str(r) for r in sorted(roots, key=str)))


def paths(args):
    import networkx as nx
    g = nx.grid_2d_graph(args.n, args.n)
    print("shortest path corner to corner:", nx.shortest_path_length(g, (0, 0), (args.n - 1, args.n - 1)))


def stats(args):
    import numpy as np
    a = np.array(args.values, dtype=float)
    print(f"mean {a.mean():.3f} std {a.std():.3f} n {a.size}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="sciapp", description="Small numeric commands over heavy libraries.")
    p.add_argument("--version", action="version", version=f"sciapp {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("solve", help="roots of a polynomial in x (sympy)")
    s.add_argument("expr")
    s.set_defaults(run=solve)
    g = sub.add_parser("paths", help="shortest path across an N×N grid (networkx)")
    g.add_argument("n", type=int)
    g.set_defaults(run=paths)
    t = sub.add_parser("stats", help="mean and standard deviation (numpy)")
    t.add_argument("values", nargs="+", type=float)
    t.set_defaults(run=stats)
    args = p.parse_args(argv)
    args.run(args)
    return 0
