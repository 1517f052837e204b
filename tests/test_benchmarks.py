"""Smoke tests for benchmarks/: each script runs at tiny sizes and reports every peer.

Nothing here is timed or compared: the benchmarks measure, these only keep them runnable.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# benchmarks/ is not an installed package: reach it from the project root, after whatever
# is installed, so an installed shallot_ws still wins over the source tree.
sys.path.append(str(Path(__file__).resolve().parents[1]))

from benchmarks import (
    composed_inprocess,
    echo_hypercorn,
    echo_inprocess,
    echo_servers,
    fanout_inprocess,
    idle_memory,
    instrumented_hypercorn,
    instrumented_inprocess,
    typed_inprocess,
)
from benchmarks._peers import PEERS


def assert_every_peer(table: str, peers: tuple[str, ...] = PEERS) -> None:
    lines = table.splitlines()
    assert lines[0].startswith("| peer ")
    for peer in peers:
        assert any(line.startswith(f"| {peer} ") for line in lines), f"{peer} missing:\n{table}"


def test_echo_inprocess_runs():
    assert_every_peer(echo_inprocess.main(["--frames", "50", "--rounds", "1"]))


def test_composed_inprocess_runs():
    table = composed_inprocess.main(["--frames", "50", "--rounds", "1"])
    for numerator, denominator, _ in composed_inprocess.RATIOS:
        assert f"| {numerator} / {denominator} " in table, table


def test_typed_inprocess_runs():
    assert_every_peer(
        typed_inprocess.main(["--frames", "50", "--rounds", "1"]), typed_inprocess.PEERS
    )


def test_instrumented_inprocess_runs():
    options = ["--frames", "50", "--connections", "5", "--rounds", "1"]
    frames, connections = instrumented_inprocess.main(options).split("\n\n")
    assert_every_peer(frames, instrumented_inprocess.PEERS)
    assert_every_peer(connections, instrumented_inprocess.PEERS)
    assert "| median connections/s " in connections


@pytest.mark.server
def test_instrumented_hypercorn_runs():
    table = instrumented_hypercorn.main(["--round-trips", "20", "--rounds", "1"])
    assert_every_peer(table, instrumented_hypercorn.PEERS)


def test_idle_memory_runs():
    assert_every_peer(idle_memory.main(["--connections", "20", "--rounds", "1"]))


def test_fanout_inprocess_runs():
    options = ["--connections", "20", "--rounds", "1", "--publishes", "2", "--held", "50"]
    assert_every_peer(fanout_inprocess.main(options), fanout_inprocess.PEERS)


@pytest.mark.server
def test_echo_hypercorn_runs():
    assert_every_peer(echo_hypercorn.main(["--round-trips", "20", "--rounds", "1"]))


@pytest.mark.server
def test_echo_servers_runs():
    options = ["--connections", "2", "--clients", "2", "--ms", "50", "--rounds", "1"]
    throughput, cpu = echo_servers.main(options).split("\n\n")
    for table in (throughput, cpu):
        lines = table.splitlines()
        header, *rows = ([cell.strip() for cell in line.split("|")[1:3]] for line in lines)
        assert header == ["shape", "server"]
        assert rows[1:] == [
            [shape, server.name]
            for shape in (echo_servers.PING_PONG, echo_servers.PIPELINED)
            for server in echo_servers.SERVERS
        ]


@pytest.mark.parametrize(
    ("script", "argv", "refusal"),
    [
        (echo_inprocess, ["--frames", "0"], "--frames and --rounds must be positive"),
        (composed_inprocess, ["--rounds", "0"], "--frames and --rounds must be positive"),
        (
            instrumented_inprocess,
            ["--frames", "0"],
            "--frames, --connections and --rounds must be positive",
        ),
        (instrumented_hypercorn, ["-k", "0"], "--round-trips and --rounds must be positive"),
        (idle_memory, ["--connections", "0"], "--connections and --rounds must be positive"),
        (echo_hypercorn, ["-k", "0"], "--round-trips and --rounds must be positive"),
        (
            echo_servers,
            ["--ms", "0"],
            "--connections, --depth, --ms, --clients and --rounds must be positive",
        ),
        (
            fanout_inprocess,
            ["--held", "-1"],
            "--connections, --rounds and --publishes must be positive, --held >= 0",
        ),
    ],
)
def test_counts_below_their_least_are_refused(script, argv, refusal, capsys):
    with pytest.raises(SystemExit) as exit_:
        script.main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.endswith(f": error: {refusal}\n")
