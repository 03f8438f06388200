"""Command line of wordstats: `wordstats [--top N] [--json] [FILE...]` (stdin when no FILE)."""
import collections
import json
import re
import sys

import click

from . import __version__

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def count(text):
    return collections.Counter(w.lower() for w in WORD.findall(text))


@click.command()
@click.option("--top", default=5, show_default=True, help="How many of the most common words to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--fail-on-empty", is_flag=True, help="Exit with status 3 when no word was found.")
@click.version_option(__version__, prog_name="wordstats")
@click.argument("files", nargs=-1, type=click.File("r", encoding="utf-8"))
def main(top, as_json, fail_on_empty, files):
    """Count the words of FILES (or standard input) and show the most common ones."""
    counts = collections.Counter()
    for f in files or (click.get_text_stream("stdin"),):
        counts += count(f.read())
    common = counts.most_common(top)
    total = sum(counts.values())
    if as_json:
        click.echo(json.dumps({"words": total, "distinct": len(counts), "top": common}))
    else:
        click.echo(f"{total} words, {len(counts)} distinct (python {sys.version_info.major}.{sys.version_info.minor})")
        for word, n in common:
            click.echo(f"{n:6d}  {word}")
    if fail_on_empty and total == 0:
        sys.exit(3)


if __name__ == "__main__":
    main()
