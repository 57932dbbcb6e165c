"""The local PostgreSQL server: started, probed, stopped and restarted for real."""

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse_platform.stack.kafka_broker import StackError
from lakehouse_platform.stack.postgres import LocalPostgres, PostgresConfig, find_postgres_bin_dir
from lakehouse_testing.plugin import free_port, reachable_state_dir

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[LocalPostgres]:
    instance = LocalPostgres(
        PostgresConfig(state_dir=reachable_state_dir("pg-stack-") / "pg", port=free_port())
    )
    yield instance
    instance.purge()
    instance.state_dir.parent.rmdir()


def test_the_session_server_has_logical_replication_and_the_operational_database(
    postgres_server: LocalPostgres,
) -> None:
    assert postgres_server.execute("SHOW wal_level").strip() == "logical"
    assert postgres_server.execute("SELECT current_database()").strip() == "operational"


def test_up_twice_runs_one_server_and_a_restart_keeps_the_data(server: LocalPostgres) -> None:
    first = server.start()
    assert first.running
    assert server.start().pid == first.pid
    server.execute("CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (1), (2)")

    assert server.stop()
    assert not server.status().running
    assert not server.stop()

    restarted = server.start()
    assert restarted.pid != first.pid
    assert server.execute("SELECT count(*) FROM kept").strip() == "2"


def test_port_taken_is_reported(server: LocalPostgres) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", server.config.port))
        squatter.listen()
        with pytest.raises(StackError, match=f"port {server.config.port} on 127.0.0.1 is in use"):
            server.start()


def test_missing_binaries_name_the_package(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="install Debian's postgresql package"):
        find_postgres_bin_dir(tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to an unprivileged user")
def test_as_root_a_state_dir_the_server_user_cannot_reach_is_reported(tmp_path: Path) -> None:
    hidden = LocalPostgres(PostgresConfig(state_dir=tmp_path / "pg", port=free_port()))
    with pytest.raises(StackError, match=r"cannot reach .* a parent folder is not searchable"):
        hidden.start()
