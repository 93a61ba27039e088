"""Measurement helpers shared by the benchmarks."""


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB.

    Read from VmHWM, which starts afresh at exec; ``ru_maxrss`` would report the parent's
    peak for a child started from a large benchmark process.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
