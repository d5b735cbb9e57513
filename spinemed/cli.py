"""`spinemed` command line (filled in by the pipeline work)."""

def main(argv=None) -> int:  # pragma: no cover - replaced by the real CLI
    raise SystemExit("spinemed CLI not built yet")
