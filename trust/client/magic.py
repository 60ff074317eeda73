"""The IPython extension: ``%load_ext trust``, then ``%%trust`` cells of SQL.

    %load_ext trust
    %trust_connect --url http://trust.example:8400 --project demo-employment-support
    %%trust -o earnings
    SELECT region, count(DISTINCT person_id) AS claimants FROM dwp.uc_claims GROUP BY region

``%trust_connect`` takes an existing ``trust.Client`` by name (``%trust_connect client``) or a
URL; the token comes from ``--token`` or ``TRUST_TOKEN`` (better: keep it out of the notebook).
Without ``%trust_connect`` the first magic connects from ``TRUST_URL`` and ``TRUST_TOKEN``.
A refusal is shown as a message, never a traceback; ``-o NAME`` keeps the output in ``NAME``.
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import HTML, display

from trust.client.client import Client
from trust.client.display import catalog_html, dataset_html, error_html, output_html, outputs_html
from trust.errors import TrustError


@magics_class
class TrustMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.client: Client | None = None

    def _client(self) -> Client:
        if self.client is None:
            self.client = Client()  # TRUST_URL, TRUST_TOKEN, TRUST_PROJECT
        return self.client

    @property
    def _ns(self) -> dict[str, Any]:
        assert self.shell is not None  # IPython always gives magics a shell
        return self.shell.user_ns

    def _show_error(self, exc: TrustError) -> None:
        display(HTML(error_html(exc)))

    @magic_arguments()
    @argument("target", nargs="?", help="a trust.Client variable, or the server URL (default $TRUST_URL)")
    @argument("--url", default=None, help="the trust server's URL")
    @argument("--token", default=None, help="bearer token (default $TRUST_TOKEN)")
    @argument("--project", default=None, help="default project for %%trust cells")
    @line_magic
    def trust_connect(self, line: str) -> None:
        """Connect the magics to a trust server (or to an existing ``trust.Client``)."""
        args = parse_argstring(self.trust_connect, line)
        try:
            existing = self._ns.get(args.target) if args.target else None
            if isinstance(existing, Client):
                self.client = existing
                if args.project:
                    existing.project = args.project
            else:
                self.client = Client(args.url or args.target, token=args.token, project=args.project)
            me = self.client.me()
        except TrustError as exc:
            self.client = None
            self._show_error(exc)
            return
        project = self.client.project or "none (use --project)"
        display(
            HTML(
                f"<p class='trust-meta'>connected to {self.client.url} as <b>{me['user']}</b> "
                f"({', '.join(me['roles'])}); project {project}</p>"
            )
        )

    @magic_arguments()
    @argument("-p", "--project", default=None, help="project to run under (default: the connection's)")
    @argument("-o", "--out", default=None, help="variable to keep the output in")
    @cell_magic
    def trust(self, line: str, cell: str) -> None:
        """Run the cell's SQL through the trust; show the protected table, or why it was refused."""
        args = parse_argstring(self.trust, line)
        try:
            out = self._client().sql(cell, project=args.project)
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
        args = parse_argstring(self.trust_catalog, line)
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
    @argument("-p", "--project", default=None)
    @line_magic
    def trust_outputs(self, line: str) -> None:
        """Your projects' outputs, newest first."""
        args = parse_argstring(self.trust_outputs, line)
        try:
            display(HTML(outputs_html(self._client().outputs(project=args.project))))
        except TrustError as exc:
            self._show_error(exc)


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(TrustMagics)
