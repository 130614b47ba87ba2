"""The ``bench-serve`` table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from edgeembed.cli.output import print_whole


def print_load_test(console: Console, summary: dict) -> None:
    table = Table(
        title=f"edgeembed serve on 127.0.0.1: {summary['requests_per_round']} one-text requests per mode x {summary['rounds']} rounds"
    )
    for column in ("mode", "req/s", "p50 ms", "p99 ms", "errors", "server CPU ms/req", "client CPU ms/req"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for mode, row in summary["modes"].items():
        table.add_row(
            *_round_cells(mode, row),
            _ms(row.get("server_cpu_ms_per_request")),
            _ms(row.get("client_cpu_ms_per_request")),
        )
    print_whole(console, table)
    batches = summary["server_batches"]
    console.print(
        f"batching gain: x{summary['batching_gain']:.2f}   server batches: {batches.get('batches', 0):.0f}, "
        f"{batches.get('batches_over_1', 0):.0f} with > 1 text, {batches.get('concurrent_mean_batch', 0):.1f} texts "
        f"per batch under concurrent load   exit status after SIGTERM: {summary['server_exit_status']}",
        markup=False,
    )
    ceiling = summary.get("cpu_ceiling")
    if ceiling:
        console.print(
            f"CPU ceiling: {ceiling['cores']} core(s) at the concurrent rounds' CPU per request (server + load "
            f"generator) serve at most {ceiling['requests_per_s']:.0f} req/s, a batching gain of "
            f"x{ceiling['batching_gain']:.2f}; the concurrent rounds reached {ceiling['share_reached']:.0%} of it",
            markup=False,
        )

    offline = summary.get("offline")
    if offline:
        share, cpu = offline["served_share"], offline["server_cpu_vs_model"]
        console.print(
            f"offline encode, batch {offline['batch_size']}, {offline['threads']} thread(s), same texts: "
            f"{offline['texts_per_s']:.0f} texts/s at {offline['cpu_ms_per_text']:.3f} ms CPU per text; "
            f"the concurrent rounds served {'-' if share is None else f'{share:.0%}'} of that"
            + ("" if cpu is None else f", at x{cpu:.2f} its CPU per text"),
            markup=False,
        )
    if summary.get("against"):
        print_against(console, summary["against"])


def print_against(console: Console, against: dict) -> None:
    """The other server's rounds, and edgeembed's requests/s as a multiple of its."""
    table = Table(title=f"the same rounds against {against['url']}")
    for column in ("mode", "req/s", "p50 ms", "p99 ms", "errors", "edgeembed x"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for mode, row in against["modes"].items():
        ratio = against["edgeembed_vs_against"].get(mode)
        table.add_row(*_round_cells(mode, row), "-" if ratio is None else f"x{ratio:.2f}")
    print_whole(console, table)


def _round_cells(mode: str, row: dict) -> tuple[str, ...]:
    """Mode, requests/s, p50 and p99 latency and errors of one mode's rounds."""
    return mode, f"{row['requests_per_s']:.0f}", f"{row['p50_ms']:.1f}", f"{row['p99_ms']:.1f}", str(row["errors"])


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
