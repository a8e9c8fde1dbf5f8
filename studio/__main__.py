"""``python -m studio <command>``: the headless face of the studio (see studio/cli/)."""

from studio.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
