"""`einvoice demo submit` and `einvoice batch submit FILE.ndjson`: the command-line side of the
client (arguments, what is printed, exit codes); the work is in demo.py and batches.py.

Both talk to a running service over HTTP: `--url`, else EINVOICE_URL, else the address
`einvoice serve` binds by this machine's settings. EINVOICE_URL and EINVOICE_API_KEY belong to
the client, not to the service's settings (einvoice/config.py). The client's modules are imported
only when a command runs: `einvoice serve` and the workers never need httpx or tqdm.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from einvoice.config import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from einvoice.service_client.batches import Outcome
    from einvoice.service_client.http import ClientError

URL_VARIABLE = "EINVOICE_URL"
API_KEY_VARIABLE = "EINVOICE_API_KEY"
DEMO_REGISTRY = PROJECT_ROOT / "demo" / "registry.json"


def register(commands: Any) -> None:
    demo = commands.add_parser("demo", help="try a running service with the demo registry")
    actions = demo.add_subparsers(required=True, metavar="ACTION")
    submit = actions.add_parser(
        "submit", help="sign a fresh invoice for a demo seller, submit it, say where to see it"
    )
    submit.add_argument(
        "--registry", type=Path, default=DEMO_REGISTRY, help="(default %(default)s)"
    )
    submit.add_argument("--seller", metavar="TAX_CODE", help="a demo seller (default the first)")
    _add_url(submit)
    submit.set_defaults(handler=_demo_submit)

    batch = commands.add_parser("batch", help="send batches to a running service")
    actions = batch.add_subparsers(required=True, metavar="ACTION")
    submit = actions.add_parser(
        "submit", help="send an NDJSON file as batches; its results go to FILE.results.ndjson"
    )
    submit.add_argument("file", type=Path, metavar="FILE.ndjson")
    _add_url(submit)
    submit.add_argument(
        "--api-key", metavar="KEY", help=f"the seller's API key (default {API_KEY_VARIABLE})"
    )
    submit.add_argument(
        "--lines-per-batch",
        type=_positive,
        metavar="N",
        help="lines a batch holds at most (default EINVOICE_BATCH_MAX_LINES, as the service)",
    )
    submit.add_argument(
        "--bytes-per-batch",
        type=_positive,
        metavar="N",
        help="bytes a batch holds at most (default EINVOICE_BATCH_MAX_BYTES, as the service)",
    )
    submit.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="between two looks at the batches' progress (default %(default)s)",
    )
    submit.add_argument("--no-progress", action="store_true", help="no progress bar")
    submit.set_defaults(handler=_batch_submit)


def _add_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", help=f"the service (default {URL_VARIABLE}, else http://127.0.0.1:<port>)"
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def service_url(args: argparse.Namespace, settings: Settings) -> str:
    if args.url:
        return str(args.url)
    if os.environ.get(URL_VARIABLE):
        return os.environ[URL_VARIABLE]
    # The address `einvoice serve` binds; a wildcard is reached through the loopback.
    host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::", "") else settings.http_host  # noqa: S104
    return f"http://{host}:{settings.http_port}"


def _demo_submit(args: argparse.Namespace, settings: Settings) -> int:
    from einvoice.service_client.demo import choose_seller, load_sellers, submit_fresh_invoice
    from einvoice.service_client.http import ClientError, ServiceClient

    url = service_url(args, settings)
    try:
        seller = choose_seller(load_sellers(args.registry), args.seller)
        with ServiceClient(url, seller.api_key) as client:
            submitted = submit_fresh_invoice(client, seller, dt.datetime.now(dt.UTC))
    except ClientError as error:
        return _failed("einvoice demo submit", error)
    invoice, answer = submitted.invoice, submitted.answer
    total = Decimal(invoice["totals"]["total_payable"])
    print(
        f"authenticated: invoice {invoice['template']}/{invoice['symbol']} "
        f"no. {invoice['number']} of seller {seller.tax_code}, issued {invoice['issued_date']}, "
        f"{total:,} {invoice['currency']}\n"
        f"  code              {answer.code}\n"
        f"  authenticated at  {answer.authenticated_at}\n"
        f"  token             {answer.token}\n"
        f"read it with the seller's API key (from {args.registry}):\n"
        f'  curl -H "Authorization: Bearer {seller.api_key}" {url}/v1/invoices/{answer.code}\n'
        "check it on the public page (anyone holding the token; its QR code is printed on the "
        "invoice):\n"
        f"  {answer.verify_url}"
    )
    return 0


def _batch_submit(args: argparse.Namespace, settings: Settings) -> int:
    from einvoice.service_client.batch_files import Limits
    from einvoice.service_client.batches import report_wait, submit_file
    from einvoice.service_client.http import ClientError, ServiceClient

    command = "einvoice batch submit"
    api_key = args.api_key or os.environ.get(API_KEY_VARIABLE)
    if not api_key:
        print(
            f"{command}: no API key: the seller's, by --api-key or {API_KEY_VARIABLE}",
            file=sys.stderr,
        )
        return 2
    limits = Limits(
        args.lines_per_batch or settings.batch_max_lines,
        args.bytes_per_batch or settings.batch_max_bytes,
    )
    try:
        with ServiceClient(service_url(args, settings), api_key, on_wait=report_wait) as client:
            outcome = submit_file(
                client,
                args.file,
                limits,
                poll_interval_s=args.poll_interval,
                show_progress=not args.no_progress,
            )
    except OSError as error:  # the file cannot be read, or its results not written
        print(f"{command}: {error}", file=sys.stderr)
        return 1
    except ClientError as error:
        return _failed(command, error)
    return _report(command, args.file, outcome)


def _report(command: str, path: Path, outcome: Outcome) -> int:
    """What became of a file's lines; 0 only when every line has its result."""
    if outcome.refused is not None:
        refused = outcome.refused
        print(
            f"{command}: batch {refused.number} ({refused.batch.describe()} of {path}) was "
            f"refused with {refused.refusal.status}; it and the batches after it were not sent:",
            file=sys.stderr,
        )
        for item in refused.refusal.errors:
            line = refused.file_line(item.field)
            where = f" (line {line} of the file)" if line is not None else ""
            print(f"  {item.describe()}{where}", file=sys.stderr)
    for batch_id in outcome.failed:
        print(
            f"{command}: the workers gave up on batch {batch_id}; the results it has are written",
            file=sys.stderr,
        )
    if outcome.results_file is None:
        return 1
    counts = ", ".join(f"{count} {status}" for status, count in sorted(outcome.results.items()))
    batches = f"{outcome.batches} batch{'es' if outcome.batches > 1 else ''}"
    print(
        f"{outcome.results.total()} of {outcome.lines} lines have a result "
        f"({counts or 'none'}) from {batches}; written to {outcome.results_file}"
    )
    return 0 if outcome.complete else 1


def _failed(command: str, error: ClientError) -> int:
    from einvoice.service_client.http import Refused

    if isinstance(error, Refused):
        print(f"{command}: the service answered {error.status}:", file=sys.stderr)
        for item in error.errors:
            print(f"  {item.describe()}", file=sys.stderr)
    else:
        print(f"{command}: {error}", file=sys.stderr)
    return 1
