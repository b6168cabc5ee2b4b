"""`scripts/stack` (`python -m devstack` from the checkout): the local stack and its demo data.

scripts/stack up|down [COMPONENT...]   start / stop the local Cassandra, PostgreSQL and Redis
                                       (and, named, a Prometheus scraping the local service)
scripts/stack status                   what runs where, and whether it is ours
scripts/stack nodetool ARGS            Cassandra's nodetool against the local node
scripts/stack demo seed                demo sellers, keys and API keys in demo/
scripts/stack drill faults             kill every server under load; prove nothing acknowledged
                                       was lost or given two codes (docs/reliability.md)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from devstack.drill.ledger import Report
from devstack.process import StackError
from devstack.settings import CHECKOUT_ROOT, StackSettings, get_stack_settings
from einvoice.config import Settings, get_settings

Handler = Callable[[argparse.Namespace, Settings, StackSettings], int]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args, get_settings(), get_stack_settings())
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/stack", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    for action, text in (
        ("up", "install what is missing, start what is not running, wait until all answer"),
        ("down", "stop the servers `up` started (never anyone else's)"),
        ("status", "say what runs where"),
    ):
        sub = commands.add_parser(action, help=text)
        if action == "up":
            sub.add_argument(
                "--cassandra-nodes",
                type=int,
                metavar="N",
                help="a local Cassandra cluster of N nodes at 127.0.0.2 onwards instead of the "
                "single node (EINVOICE_CASSANDRA_NODES); prints the settings that reach it",
            )
            sub.add_argument(
                "--cassandra-datacentres",
                type=int,
                choices=(1, 2),
                metavar="D",
                help="with 2, the cluster's nodes alternate between datacenter1 and datacenter2 "
                "(nodes 21 onwards at 127.0.0.22 onwards; EINVOICE_CASSANDRA_DATACENTRES)",
            )
            sub.add_argument(
                "--started-file",
                metavar="FILE",
                help="write the names of the servers this call started (for a later `down`)",
            )
        if action != "status":
            sub.add_argument(
                "components",
                nargs="*",
                metavar="COMPONENT",
                help="cassandra, postgres, redis, prometheus (default: the first three; "
                "`down` stops prometheus too)",
            )
        sub.set_defaults(handler=_stack, action=action)
    nodetool = commands.add_parser(
        "nodetool", help="Cassandra's nodetool against the local node (flush, tablestats, ...)"
    )
    nodetool.add_argument(
        "--node",
        type=int,
        metavar="N",
        help="node N of the local cluster (default: the single node)",
    )
    nodetool.add_argument("arguments", nargs=argparse.REMAINDER)
    nodetool.set_defaults(handler=_nodetool)

    demo = commands.add_parser("demo", help="demo data for newcomers and load tests")
    actions = demo.add_subparsers(required=True, metavar="ACTION")
    seed = actions.add_parser("seed", help="add demo taxpayers, keys and clients")
    seed.add_argument("--taxpayers", type=int, default=3)
    seed.add_argument("--dir", type=Path, default=CHECKOUT_ROOT / "demo")
    seed.add_argument(
        "--if-missing",
        action="store_true",
        help="only when the folder holds no demo registered in this database (start-up use)",
    )
    seed.set_defaults(handler=_demo_seed)

    drill = commands.add_parser("drill", help="fault drills against the local stack")
    drills = drill.add_subparsers(required=True, metavar="DRILL")
    faults = drills.add_parser(
        "faults",
        help="SIGKILL the API, the worker, Redis and Cassandra, SIGSTOP PostgreSQL, under load",
    )
    faults.add_argument("--rounds", type=int, default=5, help="times each process is killed")
    faults.add_argument("--gap", type=float, default=10.0, help="seconds of quiet between faults")
    faults.add_argument(
        "--postgres-stop", type=float, default=60.0, help="seconds PostgreSQL is frozen (0: not)"
    )
    faults.add_argument("--rate", type=float, default=20.0, help="real-time invoices a second")
    faults.add_argument("--batch-every", type=float, default=2.0, help="seconds between batches")
    faults.add_argument("--batch-lines", type=int, default=100, help="invoices a batch")
    faults.add_argument(
        "--only",
        default=",".join(("api", "worker", "redis", "cassandra")),
        help="comma-separated processes to kill (default: all four)",
    )
    faults.add_argument("--keep", action="store_true", help="keep its keyspace and database")
    faults.set_defaults(handler=_drill_faults)
    node_loss = drills.add_parser(
        "node-loss",
        help="one node of the local cluster killed under load, then two; nothing acknowledged lost",
    )
    node_loss.add_argument("--seconds", type=float, default=300.0, help="length of the drill")
    node_loss.add_argument("--rate", type=float, default=20.0, help="real-time invoices a second")
    node_loss.add_argument("--batch-every", type=float, default=2.0, help="seconds between batches")
    node_loss.add_argument("--batch-lines", type=int, default=100, help="invoices a batch")
    node_loss.add_argument("--keep", action="store_true", help="keep its keyspace and database")
    node_loss.set_defaults(handler=_drill_node_loss)
    return parser


def _stack(args: argparse.Namespace, settings: Settings, stack_settings: StackSettings) -> int:
    import devstack

    try:
        if args.action == "up":
            if args.cassandra_nodes is not None:
                if not 1 <= args.cassandra_nodes <= 5:
                    raise devstack.StackError("--cassandra-nodes takes 1 to 5")
                stack_settings = stack_settings.model_copy(
                    update={"cassandra_nodes": args.cassandra_nodes}
                )
            if args.cassandra_datacentres is not None:
                stack_settings = stack_settings.model_copy(
                    update={"cassandra_datacentres": args.cassandra_datacentres}
                )
            if stack_settings.cassandra_datacentres > 1 and stack_settings.cassandra_nodes < 2:
                raise devstack.StackError("two datacentres need --cassandra-nodes 2 or more")
            began = time.monotonic()
            started = devstack.up(settings, args.components, stack_settings)
            if args.started_file:
                Path(args.started_file).write_text(" ".join(started))
            print(f"stack up in {time.monotonic() - began:.1f} s")
            if stack_settings.cassandra_nodes > 1:
                print(cluster_settings_hint(settings, stack_settings))
        elif args.action == "down":
            stopped = devstack.down(settings, args.components, stack_settings)
            print(f"stopped: {', '.join(stopped) or 'nothing of ours was running'}")
        for name, description in devstack.status(settings, stack_settings).items():
            print(f"{name:10} {description}")
    except devstack.StackError as error:
        print(f"scripts/stack {args.action}: {error}", file=sys.stderr)
        return 1
    return 0


def cluster_settings_hint(settings: Settings, stack: StackSettings) -> str:
    from devstack.cassandra import cluster_hosts

    nodes, datacentres = stack.cassandra_nodes, stack.cassandra_datacentres
    exports = [f"EINVOICE_CASSANDRA_HOSTS={cluster_hosts(nodes, datacentres)}"]
    if datacentres == 1:
        replicas = min(nodes, 3)
        exports.append(
            f"EINVOICE_CASSANDRA_REPLICATION=NetworkTopologyStrategy:"
            f"{settings.cassandra_local_dc}={replicas}"
        )
    else:
        replicas = min(nodes // 2, 3)
        exports += [
            f"EINVOICE_CASSANDRA_REPLICATION=NetworkTopologyStrategy:"
            f"datacenter1={replicas},datacenter2={replicas}",
            "EINVOICE_CASSANDRA_LOCAL_DC=datacenter1",
            "EINVOICE_CASSANDRA_SELLER_HOMES=datacenter1=00-49,datacenter2=50-99",
        ]
    return (
        "The service reaches this cluster with:\n"
        + "".join(f"  export {line}\n" for line in exports)
        + "(a keyspace made for one node keeps its replication: migrate a new keyspace, "
        "EINVOICE_CASSANDRA_KEYSPACE)"
    )


def _nodetool(args: argparse.Namespace, settings: Settings, stack_settings: StackSettings) -> int:
    from devstack.cassandra import CassandraNode

    return CassandraNode(settings, stack_settings, args.node).nodetool(args.arguments)


def _demo_seed(args: argparse.Namespace, settings: Settings, _: StackSettings) -> int:
    # Imported here: `status` and friends need neither the registry nor the crypto libraries.
    from devstack.demo import seed
    from einvoice.errors import ServiceError
    from storage.postgres.pool import create_pool
    from storage.postgres.registry import Registry

    async def run() -> str:
        pool = await create_pool(settings)
        try:
            return await seed(Registry(pool), args.dir, args.taxpayers, if_missing=args.if_missing)
        finally:
            await pool.close()

    try:
        message = asyncio.run(run())
    except ServiceError as error:
        for detail in error.details:
            print(f"{detail.code}: {detail.message}", file=sys.stderr)
        return 1
    print(message)
    return 0


def _drill_faults(args: argparse.Namespace, settings: Settings, stack: StackSettings) -> int:
    from devstack.drill.faults import Faults
    from devstack.drill.load import LoadShape
    from devstack.drill.run import DrillOptions, run_faults_drill

    chosen = tuple(name for name in args.only.split(",") if name)
    unknown = sorted(set(chosen) - set(Faults.NAMES))
    if unknown:
        choices = ", ".join(Faults.NAMES)
        print(f"scripts/stack drill faults: --only takes {choices}", file=sys.stderr)
        return 2
    options = DrillOptions(
        rounds=args.rounds,
        gap_s=args.gap,
        postgres_stop_s=args.postgres_stop,
        shape=LoadShape(
            realtime_per_s=args.rate, batch_every_s=args.batch_every, batch_lines=args.batch_lines
        ),
        keep=args.keep,
        faults=chosen,
    )

    try:
        report = run_faults_drill(settings, stack, options, _say)
    except StackError as error:
        print(f"scripts/stack drill faults: {error}", file=sys.stderr)
        return 1
    return _print_report(report)


def _drill_node_loss(args: argparse.Namespace, settings: Settings, stack: StackSettings) -> int:
    import devstack
    from devstack.drill.load import LoadShape
    from devstack.drill.node_loss import run_node_loss_drill
    from devstack.drill.run import DrillOptions

    nodes = [
        node
        for node in devstack.cassandra_nodes(settings, stack, recorded=True)
        if node.index is not None
    ]
    options = DrillOptions(
        shape=LoadShape(
            realtime_per_s=args.rate, batch_every_s=args.batch_every, batch_lines=args.batch_lines
        ),
        keep=args.keep,
    )
    try:
        report = run_node_loss_drill(settings, stack, nodes, args.seconds, options, _say)
    except StackError as error:
        print(f"scripts/stack drill node-loss: {error}", file=sys.stderr)
        return 1
    return _print_report(report)


def _say(text: str) -> None:
    print(text, flush=True)


def _print_report(report: Report) -> int:
    for kind, examples in report.examples.items():
        for example in examples:
            print(f"{kind}: {example}")
    for what, count in sorted(report.unexpected.items()):
        print(f"unexpected: {what} x{count}")
    print(report.last_line())
    return 0 if report.passed else 1
