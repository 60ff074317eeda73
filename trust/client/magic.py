"""The IPython extension: ``%load_ext trust``, then ``%%trust`` cells of SQL.

    %load_ext trust
    %trust_connect --project demo-employment-support      # the server in TRUST_URL, the token in TRUST_TOKEN
    %%trust -o earnings
    SELECT region, count(DISTINCT person_id) AS claimants FROM dwp.uc_claims GROUP BY region

``%trust_connect`` takes an existing ``trust.Client`` by name (``%trust_connect client``), a URL
(``%trust_connect https://…``), or nothing (``TRUST_URL``); the token comes from ``--token`` or
``TRUST_TOKEN`` (better: keep it out of the notebook). Without ``%trust_connect`` the first magic
connects from ``TRUST_URL`` and ``TRUST_TOKEN``. ``{name}`` in a cell is the Python variable
``name`` as an SQL literal (``trust.client.parameters``). A refusal is shown as a message, never a
traceback, with its remedy in the magics' own terms; ``-o NAME`` keeps the output in ``NAME``.
"""

from __future__ import annotations

import os
import re
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import HTML, display

from trust.client.catalogue import search_html
from trust.client.client import Client
from trust.client.display import catalog_html, dataset_html, error_html, output_html, outputs_html
from trust.client.parameters import bind_parameters
from trust.errors import ConfigurationError, PolicyDenied, TrustError
from trust.outputs.render import escape

URL = re.compile(r"^https?://\S+$", re.IGNORECASE)

# Remedies that the rest of the trust words for its command line or for Python, as a person types
# them in a notebook with the magics. Only what a magic shows is rephrased: a ``trust.Client`` user
# sees every message exactly as the trust wrote it.
MAGIC_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"`trust catalog list(?: --[\w-]+)*`"), "`%trust_catalog`"),
    (re.compile(r"`trust catalog show(?: DATASET)?`"), "`%trust_catalog DATASET`"),
    (re.compile(r"`trust catalog show ([\w.]+)`"), r"`%trust_catalog \1`"),
    (re.compile(r"`?client\.outputs\(\)`?"), "`%trust_outputs`"),
)


class NotConnected(TrustError):
    """``%trust_connect`` was given neither a ``trust.Client`` variable nor a URL; nothing was sent."""

    code = "not_connected"


def without_comment(line: str) -> str:
    """A magic's arguments without a trailing ``# comment``, which the docs write after a magic."""
    quote: str | None = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def in_magic_terms(text: str) -> str:
    """``text`` with each remedy worded for the command line or Python worded as a magic."""
    for pattern, replacement in MAGIC_PHRASES:
        text = pattern.sub(replacement, text)
    return text


def as_magic_error(exc: TrustError) -> TrustError:
    """The same error (class and context) with its message and each denial's in the magics' terms.

    A copy: the original, which a Python caller may hold, keeps the trust's own words.
    """
    copy = type(exc).__new__(type(exc))
    copy.__dict__.update(exc.__dict__)
    copy.message = in_magic_terms(exc.message)
    copy.args = (copy.message,)
    copy.context = dict(exc.context)
    if isinstance(exc, PolicyDenied) and isinstance(copy, PolicyDenied):
        copy.denials = [{**d, "message": in_magic_terms(str(d.get("message", "")))} for d in exc.denials]
        copy.context["denials"] = copy.denials
    return copy


@magics_class
class TrustMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.client: Client | None = None

    def _client(self) -> Client:
        if self.client is None:
            self.client = self._new_client(None, None, None)
        return self.client

    def _new_client(self, url: str | None, token: str | None, project: str | None) -> Client:
        """A client for ``url`` (default TRUST_URL), or ``ConfigurationError`` saying how to give one (as the
        Python client does, in the magics' terms)."""
        url = url or os.environ.get("TRUST_URL")
        if not url:
            raise ConfigurationError(
                "Not connected to a trust server: run `%trust_connect https://…` (or `%trust_connect client` "
                "with a `trust.Client` you made), or set TRUST_URL and TRUST_TOKEN before starting Jupyter."
            )
        if not (token or os.environ.get("TRUST_TOKEN")):
            raise ConfigurationError(
                f"No token for {url}: set TRUST_TOKEN before starting Jupyter (an administrator issues one "
                f"with `trust tokens issue YOUR_NAME`), or run `%trust_connect {url} --token …`."
            )
        return Client(url, token=token, project=project)

    def _connection(self, target: str | None, url: str | None, token: str | None, project: str | None) -> Client:
        """What ``%trust_connect`` names: a ``trust.Client`` variable, a URL, or TRUST_URL."""
        for given, may_be_a_name in ((target, True), (url, False)):
            if given and not (may_be_a_name and given.isidentifier()) and not URL.match(given):
                raise NotConnected(
                    f"`{given}` is neither a variable nor a URL: give the server's URL with its scheme, "
                    f"`%trust_connect http://{given.split('://')[-1]}`, or the name of a `trust.Client` variable."
                )
        if target and URL.match(target):
            if url and url != target:
                raise NotConnected(f"Two URLs, {target} and {url}: give the server's URL once.")
            return self._new_client(target, token, project)
        if target:
            if target not in self._ns:
                raise NotConnected(
                    f"No variable `{target}` in this notebook: create one with `{target} = trust.Client(...)` "
                    "or give the server's URL: `%trust_connect https://...`"
                )
            existing = self._ns[target]
            if not isinstance(existing, Client):
                raise NotConnected(
                    f"`{target}` is a {type(existing).__name__}, not a `trust.Client`: create one with "
                    f"`{target} = trust.Client(...)` or give the server's URL: `%trust_connect https://...`"
                )
            if url or token:
                raise NotConnected(
                    f"`{target}` is already connected: give either `%trust_connect {target}` or "
                    "`%trust_connect URL --token …`, not both."
                )
            if project:
                existing.project = project
            return existing
        if self.client is not None and not (url or token):  # `%trust_connect --project P`: same server
            if project:
                self.client.project = project
            return self.client
        return self._new_client(url, token, project)

    @property
    def _ns(self) -> dict[str, Any]:
        assert self.shell is not None  # IPython always gives magics a shell
        return self.shell.user_ns

    def _show_error(self, exc: TrustError) -> None:
        display(HTML(error_html(as_magic_error(exc))))

    def _project(self, client: Client, project: str | None) -> str:
        """The cell's project, or ``ConfigurationError`` naming the user's projects and how to choose one."""
        chosen = project or client.project
        if chosen:
            return chosen
        mine = ", ".join(p["id"] for p in client.projects()) or "none yet (ask a project's sponsor)"
        raise ConfigurationError(
            "Which project? Run the cell as `%%trust -p PROJECT`, or choose one for every cell with "
            f"`%trust_connect --project PROJECT`. Your projects: {mine}."
        )

    @magic_arguments()
    @argument("target", nargs="?", help="a trust.Client variable, or the server URL (default $TRUST_URL)")
    @argument("--url", default=None, help="the trust server's URL")
    @argument("--token", default=None, help="bearer token (default $TRUST_TOKEN)")
    @argument("--project", default=None, help="default project for %%trust cells")
    @line_magic
    def trust_connect(self, line: str) -> None:
        """Connect the magics to a trust server (or to an existing ``trust.Client``).

        With only ``--project`` once connected, keep the connection and change its project.
        """
        args = parse_argstring(self.trust_connect, without_comment(line))
        try:
            client = self._connection(args.target, args.url, args.token, args.project)
        except (NotConnected, ConfigurationError) as exc:  # a mistyped line keeps the connection there is
            self._show_error(exc)
            return
        try:
            me = client.me()
        except TrustError as exc:  # not the server or the token the user meant: use none rather than the old one
            self.client = None
            self._show_error(exc)
            return
        self.client = client
        project = escape(client.project) if client.project else "none (give one with --project)"
        display(
            HTML(
                f"<p class='trust-meta'>connected to {escape(client.url)} as <b>{escape(me['user'])}</b> "
                f"({escape(', '.join(me['roles']))}); project {project}</p>"
            )
        )

    @magic_arguments()
    @argument("-p", "--project", default=None, help="project to run under (default: the connection's)")
    @argument("-o", "--out", default=None, help="variable to keep the output in")
    @cell_magic
    def trust(self, line: str, cell: str) -> None:
        """Run the cell's SQL through the trust; show the protected table, or why it was refused.

        ``{name}`` is the Python variable ``name`` as an SQL literal; ``{{`` and ``}}`` are braces.
        """
        args = parse_argstring(self.trust, without_comment(line))
        try:
            sql = bind_parameters(cell, self._ns)
            client = self._client()
            out = client.sql(sql, project=self._project(client, args.project))
        except TrustError as exc:
            self._show_error(exc)
            if args.out:
                self._ns[args.out] = None
            return
        if args.out:
            self._ns[args.out] = out
        display(HTML(output_html(out)))

    @magic_arguments()
    @argument("dataset", nargs="?", help="a dataset id (its columns), or text to search for")
    @argument("-p", "--project", default=None, help="show which datasets this project may use")
    @line_magic
    def trust_catalog(self, line: str) -> None:
        """Browse the catalogue: every dataset, or one dataset's columns and roles."""
        args = parse_argstring(self.trust_catalog, without_comment(line))
        client = None
        try:
            client = self._client()
            if args.dataset and "." in args.dataset:
                display(HTML(dataset_html(client.dataset(args.dataset, project=args.project))))
            else:
                display(HTML(catalog_html(client.catalog(project=args.project, search=args.dataset))))
        except TrustError as exc:
            self._show_error(exc)

    @magic_arguments()
    @argument("text", nargs="*", help="what to look for, e.g. earnings by region")
    @argument("-p", "--project", default=None, help="show which datasets this project may use")
    @line_magic
    def trust_search(self, line: str) -> None:
        """Search the catalogue: datasets ranked by relevance, with why each matched."""
        args = parse_argstring(self.trust_search, without_comment(line))
        try:
            display(HTML(search_html(self._client().catalog.search(" ".join(args.text), project=args.project))))
        except TrustError as exc:
            self._show_error(exc)

    @magic_arguments()
    @argument("-p", "--project", default=None)
    @line_magic
    def trust_outputs(self, line: str) -> None:
        """Your projects' outputs, newest first."""
        args = parse_argstring(self.trust_outputs, without_comment(line))
        try:
            display(HTML(outputs_html(self._client().outputs(project=args.project))))
        except TrustError as exc:
            self._show_error(exc)


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(TrustMagics)
