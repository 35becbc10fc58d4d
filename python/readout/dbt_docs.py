"""dbt's documentation site, made to open from disk with no network and no server.

``dbt docs generate --static`` writes ``target/static_index.html``: one file with the manifest and catalog inlined
(the plain ``index.html`` fetches them, which a browser refuses over ``file://``) and no CDN asset. One defect is
left: the sidebar's icons are ``<use xlink:href="{{ getIcon(...) }}">``, so before AngularJS interpolates them the
browser tries to load the template text as a file (a console error per folder); and the favicon's link is an
unbuilt webpack placeholder (``${require('./assets/favicons/favicon.ico')}``), a failed load. ``make_offline``
rewrites the icons to ``ng-attr-xlink:href``, which AngularJS sets only once the value is known, and the favicon to
an empty ``data:`` URL. ``make docs`` runs both steps.

    python -m readout.dbt_docs target/static_index.html
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

#: an SVG icon whose link is an AngularJS expression (escaped quotes inside dbt's inlined templates included)
_TEMPLATED_XLINK = re.compile(r"""(<use\s+)xlink:href=(\\?["'])\{\{""")
#: a link left as a webpack placeholder
_PLACEHOLDER_HREF = re.compile(r"""href=(\\?["'])\$\{require\([^)]*\)\}\1""")


def make_offline(static_index: str | Path) -> int:
    """Rewrite the templated icon links and placeholder links of ``static_index`` in place; the number rewritten."""
    path = Path(static_index)
    html = path.read_text(encoding="utf-8")
    rewritten, icons = _TEMPLATED_XLINK.subn(r"\1ng-attr-xlink:href=\2{{", html)
    rewritten, placeholders = _PLACEHOLDER_HREF.subn(r"href=\1data:,\1", rewritten)
    count = icons + placeholders
    if count:
        path.write_text(rewritten, encoding="utf-8")
    return count


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(
            "usage: python -m readout.dbt_docs TARGET/static_index.html (written by dbt docs generate --static)",
            file=sys.stderr,
        )
        return 2
    path = Path(args[0])
    if not path.is_file():
        print(f"error: {path.resolve()} does not exist: run `dbt docs generate --static` first", file=sys.stderr)
        return 2
    count = make_offline(path)
    print(f"dbt docs: {path} opens offline ({count} templated links rewritten)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
