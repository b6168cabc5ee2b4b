"""Cassandra 5.0 for the local stack, assembled from Maven Central and run as one loopback node.

There is no 5.0 server tarball on Maven Central, so the server is `cassandra-all` plus its runtime
dependencies, copied by Maven into a cache folder shared by every clone on the machine
(`<cache_dir>/cassandra-<version>/lib`), then started directly with `java` and the JDK 17 options
of Cassandra's own conf/jvm17-server.options.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from functools import partial
from pathlib import Path
from string import Template

from devstack.process import StackError, port_is_open, wait_until
from devstack.server import LocalServer
from devstack.settings import StackSettings
from devstack.system import ensure_program, say
from einvoice.config import Settings

_JAVA_PACKAGE = "openjdk-17-jre-headless"
STORAGE_PORT = 7000
JMX_PORT = 7199
_HERE = Path(__file__).resolve().parent

# From Cassandra 5.0's conf/jvm17-server.options: without these the JVM refuses the reflective
# access Cassandra needs and dies at start-up.
_JDK17_OPTIONS = [
    *(
        f"--add-exports={module}=ALL-UNNAMED"
        for module in (
            "java.base/jdk.internal.misc",
            "java.management.rmi/com.sun.jmx.remote.internal.rmi",
            "java.management/com.sun.jmx.remote.security",
            "java.rmi/sun.rmi.registry",
            "java.rmi/sun.rmi.server",
            "java.sql/java.sql",
            "java.base/java.lang.ref",
            "jdk.unsupported/sun.misc",
            "jdk.compiler/com.sun.tools.javac.file",
            "jdk.attach/sun.tools.attach",
        )
    ),
    *(
        f"--add-opens={module}=ALL-UNNAMED"
        for module in (
            "java.base/java.lang.module",
            "java.base/jdk.internal.loader",
            "java.base/jdk.internal.ref",
            "java.base/jdk.internal.reflect",
            "java.base/jdk.internal.math",
            "java.base/jdk.internal.module",
            "java.base/jdk.internal.util.jar",
            "java.base/sun.nio.ch",
            "java.base/java.io",
            "java.base/java.lang.reflect",
            "java.base/java.lang",
            "java.base/java.util",
            "java.base/java.nio",
            "jdk.management/com.sun.management.internal",
            "jdk.compiler/com.sun.tools.javac",
        )
    ),
]

_LOGBACK = """<configuration scan="false">
  <!-- One log: the server's output, appended to <stack_dir>/logs/cassandra.log by the stack. -->
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
  <logger name="org.apache.cassandra" level="INFO"/>
</configuration>
"""


# A cluster in two datacentres numbers its nodes from 21 (addresses 127.0.0.22 onwards), so it has
# folders and data of its own: a node's datacentre is fixed at its first start, and the
# one-datacentre cluster's nodes 1, 2, 3... keep theirs.
TWO_DATACENTRES_FIRST_INDEX = 21


def cluster_indexes(nodes: int, datacentres: int = 1) -> list[int]:
    """The node numbers of a local cluster of `nodes` nodes in `datacentres` datacentres."""
    first = 1 if datacentres == 1 else TWO_DATACENTRES_FIRST_INDEX
    return list(range(first, first + nodes))


def cluster_address(index: int) -> str:
    """The loopback address of node `index` (1, 2, 3...) of the local cluster: 127.0.0.2 onwards,
    so a cluster and the single node on 127.0.0.1 never share an address."""
    return f"127.0.0.{index + 1}"


def cluster_hosts(nodes: int, datacentres: int = 1) -> str:
    """EINVOICE_CASSANDRA_HOSTS for a local cluster of `nodes` nodes."""
    return ",".join(cluster_address(index) for index in cluster_indexes(nodes, datacentres))


def node_datacentre(settings: Settings, index: int) -> str:
    """The datacentre of cluster node `index`: the product's local one for a one-datacentre
    cluster; `datacenter1` and `datacenter2` alternately (from node 21) for two."""
    if index < TWO_DATACENTRES_FIRST_INDEX:
        return settings.cassandra_local_dc
    return f"datacenter{1 + (index - TWO_DATACENTRES_FIRST_INDEX) % 2}"


class CassandraNode(LocalServer):
    """The single local node (`index` None, at the product's first contact point), or node
    `index` of a local cluster (EINVOICE_CASSANDRA_NODES > 1), at `cluster_address(index)`.

    Cluster nodes share the assembled install and everything else; each has its own name
    (`cassandra-<index>`), folder, pid file, log and JMX port (JMX listens on 127.0.0.1 only).
    They start together on an empty cluster: node 1 is the seed, and no node streams data at its
    first start (`auto_bootstrap: false`, safe only because a new cluster holds nothing).
    """

    # SIGTERM (the default) runs Cassandra's shutdown hook: drain, flush memtables, close the log.
    name = "cassandra"
    readiness_interval_s = 1.0

    def __init__(self, settings: Settings, stack: StackSettings, index: int | None = None) -> None:
        self.index = index
        if index is None:
            host = settings.cassandra_contact_points[0]
            self.jmx_port = JMX_PORT
        else:
            self.name = f"cassandra-{index}"
            host = cluster_address(index)
            self.jmx_port = JMX_PORT + index
        super().__init__(settings, stack, host, settings.cassandra_port)
        self.home = stack.stack_dir / self.name

    def start(self) -> None:
        for host, port, what in (
            (self.host, STORAGE_PORT, "storage"),
            ("127.0.0.1", self.jmx_port, "JMX"),
        ):
            # A node that has just stopped may hold its ports for a moment longer.
            if not wait_until(partial(_port_is_free, host, port), 10.0):
                raise self.port_taken_error(port, what)
        java = self._java()
        lib = self.ensure_assembled()
        conf = self._write_config()
        heap = self.stack.cassandra_heap
        say(f"{self.name}: starting (heap {heap}); log {self.process.log_file}")
        self.process.start(self._command(java, lib, conf), cwd=self.home)

    def check_existing(self) -> None:
        if not _speaks_cql(self.host, self.port):
            raise self.port_taken_error(self.port, "CQL")

    def _java(self) -> str:
        java = ensure_program("java", package=_JAVA_PACKAGE, why="Cassandra 5.0 (Java 11 or 17)")
        result = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, check=False
        )
        match = re.search(r'version "(\d+)', result.stderr)
        major = int(match.group(1)) if match else 0
        if major not in (11, 17):
            raise StackError(
                "cassandra: Cassandra 5.0 runs on Java 11 or 17, and `java` is "
                f"{major or 'unknown'}. "
                f"Install {_JAVA_PACKAGE} and put its java first on PATH."
            )
        return str(java)

    # -- assembly -------------------------------------------------------------------------------

    def lib_dir(self) -> Path:
        return self.stack.cache_dir / f"cassandra-{self.stack.cassandra_version}" / "lib"

    def ensure_assembled(self) -> Path:
        """Copy cassandra-all and its runtime dependencies from Maven Central, once per machine."""
        lib = self.lib_dir()
        if (lib / ".complete").exists():
            return lib
        mvn = ensure_program("mvn", package="maven", why="Assembling Cassandra from Maven Central")
        version = self.stack.cassandra_version
        say(f"cassandra: assembling {version} from Maven Central into {lib} (once per machine)")
        lib.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="lib-", dir=lib.parent))
        result = subprocess.run(
            [
                str(mvn),
                "-B",
                "-q",
                "-f",
                str(_HERE / "cassandra-pom.xml"),
                f"-Dcassandra.version={version}",
                "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        # Maven reports an ERROR about ${jmc5.path} (system-scoped profiler jars in Cassandra's
        # parent pom) and still succeeds; the jar we need being there is the real test.
        if not (staging / f"cassandra-all-{version}.jar").exists():
            shutil.rmtree(staging, ignore_errors=True)
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise StackError(
                f"cassandra: Maven could not fetch cassandra-all {version} (exit "
                f"{result.returncode}). Check access to Maven Central.\n{tail}"
            )
        (staging / ".complete").write_text(version)
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)
        return lib

    # -- configuration --------------------------------------------------------------------------

    def _write_config(self) -> Path:
        conf_dir = self.home / "conf"
        conf_dir.mkdir(parents=True, exist_ok=True)
        template = Template((_HERE / "templates" / "cassandra.yaml").read_text())
        listen_address = self.host if self.host != "localhost" else "127.0.0.1"
        if self.index is None:
            snitch, seeds, cluster_options = "SimpleSnitch", f"{listen_address}:{STORAGE_PORT}", ""
        else:
            snitch = "GossipingPropertyFileSnitch"
            # The first node of each datacentre is a seed (one per datacentre, as recommended).
            firsts = [1] if self.index < TWO_DATACENTRES_FIRST_INDEX else cluster_indexes(2, 2)
            seeds = ",".join(f"{cluster_address(index)}:{STORAGE_PORT}" for index in firsts)
            cluster_options = "auto_bootstrap: false\n"
            (conf_dir / "cassandra-rackdc.properties").write_text(
                f"dc={node_datacentre(self.settings, self.index)}\nrack=rack{self.index}\n"
            )
        yaml = template.substitute(
            snitch=snitch,
            seeds=seeds,
            cluster_options=cluster_options,
            listen_address=listen_address,
            storage_port=STORAGE_PORT,
            native_port=self.port,
            data_dir=self.home,
            commitlog_sync=(
                "commitlog_sync: group\ncommitlog_sync_group_window: 2ms"
                if self.stack.cassandra_commitlog_sync == "group"
                else "commitlog_sync: periodic\ncommitlog_sync_period: 10000ms"
            ),
        )
        conf = conf_dir / "cassandra.yaml"
        conf.write_text(yaml)
        (conf_dir / "logback.xml").write_text(_LOGBACK)
        return conf

    def nodetool(self, arguments: list[str]) -> int:
        """Run Cassandra's nodetool (in cassandra-all) against the local node over JMX."""
        quiet = self.home / "conf" / "logback-tools.xml"
        quiet.parent.mkdir(parents=True, exist_ok=True)
        quiet.write_text(_LOGBACK.replace('level="INFO"', 'level="WARN"'))
        argv = [
            self._java(),
            *_JDK17_OPTIONS,
            "-Xmx256m",
            f"-Dlogback.configurationFile=file://{quiet}",
            "-cp",
            f"{self.ensure_assembled()}/*",
            "org.apache.cassandra.tools.NodeTool",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.jmx_port),
            *arguments,
        ]
        return subprocess.run(argv, check=False).returncode

    def _command(self, java: str, lib: Path, conf: Path) -> list[str]:
        heap = self.stack.cassandra_heap
        jamm = next(lib.glob("jamm-*.jar"), None)
        return [
            java,
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-Xss256k",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=300",
            "-XX:+HeapDumpOnOutOfMemoryError",
            # A JVM out of memory may corrupt state; Cassandra asks to exit rather than limp on.
            "-XX:+ExitOnOutOfMemoryError",
            f"-XX:HeapDumpPath={self.home}",
            "-Djava.net.preferIPv4Stack=true",
            "-Djdk.attach.allowAttachSelf=true",
            "-Dio.netty.tryReflectionSetAccessible=true",
            *_JDK17_OPTIONS,
            # jamm gives accurate memtable sizing (5.0 falls back to Unsafe without it).
            *([f"-javaagent:{jamm}"] if jamm else []),
            f"-Dcassandra.config=file://{conf}",
            f"-Dcassandra.storagedir={self.home}",
            f"-Dcassandra.logdir={self.stack.stack_dir / 'logs'}",
            f"-Dlogback.configurationFile=file://{conf.parent / 'logback.xml'}",
            f"-Dcassandra.jmx.local.port={self.jmx_port}",
            "-Dcassandra-foreground=yes",
            # One node has nobody to gossip with, and a new local cluster's nodes find each other
            # in a second on loopback: do not wait for gossip to settle.
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-cp",
            f"{conf.parent}:{lib}/*",
            "org.apache.cassandra.service.CassandraDaemon",
        ]


def _port_is_free(host: str, port: int) -> bool:
    return not port_is_open(host, port)


def _speaks_cql(host: str, port: int) -> bool:
    # Imported here: the driver is heavy and only this rare branch needs it.
    from cassandra.cluster import Cluster, NoHostAvailable

    cluster = Cluster([host], port=port, protocol_version=5, connect_timeout=5)
    try:
        cluster.connect().shutdown()
        return True
    except (NoHostAvailable, OSError):
        return False
    finally:
        cluster.shutdown()
